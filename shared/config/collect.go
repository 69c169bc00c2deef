package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of collect.yaml. Interval must equal the schedule rate of the
// template; MaxCatchUp stays under the ~1h "out of bounds" edge of a stock
// Prometheus without an out-of-order window.
const (
	DefaultInterval     = Duration(5 * time.Minute)
	DefaultMaxCatchUp   = Duration(45 * time.Minute)
	DefaultDiscoveryTTL = Duration(time.Hour)
	DefaultShards       = 16
	DefaultPeriod       = Duration(time.Minute)
	DefaultLength       = Duration(5 * time.Minute)
	DefaultDelay        = Duration(10 * time.Minute)
	// DefaultConcurrency is GetMetricData calls in flight per target: at the
	// 0.5–2 s a call takes, at most 10 calls a second, well under
	// CloudWatch's default quota of 50 per second per account and region.
	DefaultConcurrency = 5
	// MaxConcurrency keeps a run under that quota even at 1 s per call.
	MaxConcurrency = 50

	// MaxShards bounds progress_shards: each shard is a progress series per job.
	MaxShards = 4096
	// MaxDimensions is CloudWatch's limit of dimensions per metric.
	MaxDimensions = 30
)

// Collect is collect.yaml: the schedule, the defaults and the jobs.
type Collect struct {
	// Interval is the schedule rate; used for defaults and the cost preview.
	Interval Duration `yaml:"interval"`
	// MaxCatchUp bounds how far back a run fills a gap after an outage.
	MaxCatchUp Duration `yaml:"max_catch_up"`
	// DiscoveryTTL is how long a ListMetrics result is reused across warm
	// invocations; 0 lists on every run.
	DiscoveryTTL Duration `yaml:"discovery_ttl"`
	// Shards is the number of stable progress partitions per job.
	Shards int `yaml:"progress_shards"`
	// Concurrency is how many CloudWatch calls a run keeps in flight per
	// (region, account) target.
	Concurrency int `yaml:"cloudwatch_concurrency"`
	// Receiver says what kind of store the data goes to: it decides how old
	// a sample may be and how a refused request is recovered.
	Receiver Receiver `yaml:"receiver"`
	Defaults Defaults `yaml:"defaults"`
	Jobs     []Job    `yaml:"jobs"`
}

// Defaults apply to every metric that sets neither its own value nor its job's.
type Defaults struct {
	Period Duration `yaml:"period"`
	Length Duration `yaml:"length"`
	Delay  Duration `yaml:"delay"`
	// Timestamp is TimestampCloudWatch (default) or TimestampScheduled.
	Timestamp string `yaml:"timestamp"`
}

// Job is one namespace in a set of regions (and optionally another account).
type Job struct {
	Name       string   `yaml:"name"`
	Regions    []string `yaml:"regions"`
	RoleARN    string   `yaml:"role_arn"`
	ExternalID string   `yaml:"external_id"`
	Namespace  string   `yaml:"namespace"`
	// Dimensions selects discovery (ListMetrics): only metrics whose dimension
	// names are exactly this set. A present but empty list ("dimensions: []")
	// selects the metrics that have no dimensions; nil means "not discovery".
	Dimensions []string `yaml:"dimensions"`
	// Static lists exactly the dimension sets to fetch, without discovery.
	// An empty map stands for the metric without dimensions.
	Static []map[string]string `yaml:"static"`
	// Period, Length and Delay override Defaults for this job's metrics;
	// zero inherits (in YAML an explicit "0s" is kept as zero).
	Period Duration `yaml:"period"`
	Length Duration `yaml:"length"`
	Delay  Duration `yaml:"delay"`
	// Timestamp overrides Defaults.Timestamp for this job's metrics; empty
	// inherits.
	Timestamp string   `yaml:"timestamp"`
	Metrics   []Metric `yaml:"metrics"`
	// YACEOptions: service jobs (type) and YACE's label options.
	YACEOptions `yaml:",inline"`

	set fieldSet
}

// Metric is one CloudWatch metric name with its statistics. After LoadCollect,
// Period, Length and Delay hold the effective values (metric, then job, then
// defaults).
type Metric struct {
	Name       string   `yaml:"name"`
	Statistics []string `yaml:"statistics"`
	Period     Duration `yaml:"period"`
	Length     Duration `yaml:"length"`
	Delay      Duration `yaml:"delay"`
	// Timestamp: TimestampCloudWatch stamps every datapoint at its own
	// CloudWatch timestamp (and writes every datapoint of the window);
	// TimestampScheduled writes only the newest period's value, stamped at
	// the scheduled time, as YACE does without addCloudwatchTimestamp. Empty
	// inherits the job's, then the defaults'.
	Timestamp string `yaml:"timestamp"`

	set fieldSet
}

// Timestamp choices.
const (
	// TimestampCloudWatch stamps each datapoint at its CloudWatch time.
	TimestampCloudWatch = "cloudwatch"
	// TimestampScheduled stamps the newest datapoint at the scheduled time:
	// the only way for an hourly or daily metric into a store that refuses
	// samples older than about an hour, at the price of a timestamp one
	// period plus the delay late (and one sample per period).
	TimestampScheduled = "scheduled"
)

// fieldSet records which overridable keys a YAML mapping wrote, so that an
// explicit "delay: 0s" is not mistaken for "inherit".
type fieldSet uint8

const (
	setPeriod fieldSet = 1 << iota
	setLength
	setDelay
)

// DefaultCollect returns a Collect with every default and no jobs.
func DefaultCollect() *Collect {
	return &Collect{
		Interval:     DefaultInterval,
		MaxCatchUp:   DefaultMaxCatchUp,
		DiscoveryTTL: DefaultDiscoveryTTL,
		Shards:       DefaultShards,
		Concurrency:  DefaultConcurrency,
		Defaults:     Defaults{Period: DefaultPeriod, Length: DefaultLength, Delay: DefaultDelay, Timestamp: TimestampCloudWatch},
	}
}

// LoadCollect parses collect.yaml strictly (unknown keys are errors with their
// line), applies the defaults, resolves each metric's effective period, length
// and delay, and validates the result.
func LoadCollect(data []byte) (*Collect, error) {
	c := DefaultCollect()
	decodeErr := decodeStrict(data, c)
	// Unknown keys and mistyped values (yaml.TypeError) leave the rest of
	// the document decoded: validate it too, so one run reports every problem.
	var typeErr *yaml.TypeError
	if decodeErr != nil && !errors.As(decodeErr, &typeErr) {
		return nil, decodeErr
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse collect config: %w", err)
	}
	c.markSet(&root)
	if err := errors.Join(decodeErr, c.Validate()); err != nil {
		return nil, err
	}
	c.resolve()
	return c, nil
}

// LoadCollectFile reads and loads path; every error starts with the path.
func LoadCollectFile(path string) (*Collect, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := LoadCollect(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// decodeStrict decodes one YAML document into out with unknown keys rejected.
// An empty document leaves out as it is; a second document is an error because
// it would be silently ignored otherwise.
func decodeStrict(data []byte, out any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse yaml: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("parse yaml: %w", err)
		}
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return fmt.Errorf("parse yaml: line %d: only one YAML document is allowed", line)
	}
	return nil
}

// MappingKeys returns the keys a YAML mapping node writes, or nil for any
// other node. The rules package shares it to tell "absent" from "zero".
func MappingKeys(n *yaml.Node) map[string]bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	keys := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys[n.Content[i].Value] = true
	}
	return keys
}

// MappingValue returns the value node of key in a mapping node, or nil.
func MappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// DocumentRoot returns the top mapping of a parsed document, or nil.
func DocumentRoot(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return nil
}

func (c *Collect) markSet(root *yaml.Node) {
	jobs := MappingValue(DocumentRoot(root), "jobs")
	if jobs == nil || jobs.Kind != yaml.SequenceNode {
		return
	}
	for i, jn := range jobs.Content {
		if i >= len(c.Jobs) {
			break
		}
		j := &c.Jobs[i]
		j.set = fieldsIn(MappingKeys(jn))
		metrics := MappingValue(jn, "metrics")
		if metrics == nil || metrics.Kind != yaml.SequenceNode {
			continue
		}
		for k, mn := range metrics.Content {
			if k < len(j.Metrics) {
				j.Metrics[k].set = fieldsIn(MappingKeys(mn))
			}
		}
	}
}

func fieldsIn(keys map[string]bool) fieldSet {
	var s fieldSet
	if keys["period"] {
		s |= setPeriod
	}
	if keys["length"] {
		s |= setLength
	}
	if keys["delay"] {
		s |= setDelay
	}
	return s
}

// effective returns m's period, length and delay: the metric's own value, else
// the job's, else the defaults.
func (c *Collect) effective(j *Job, m *Metric) (period, length, delay Duration) {
	pick := func(def, job, metric Duration, bit fieldSet) Duration {
		v := def
		if job != 0 || j.set&bit != 0 {
			v = job
		}
		if metric != 0 || m.set&bit != 0 {
			v = metric
		}
		return v
	}
	return pick(c.Defaults.Period, j.Period, m.Period, setPeriod),
		pick(c.Defaults.Length, j.Length, m.Length, setLength),
		pick(c.Defaults.Delay, j.Delay, m.Delay, setDelay)
}

// effectiveTimestamp is m's timestamp choice: the metric's, else the job's,
// else the defaults'.
func (c *Collect) effectiveTimestamp(j *Job, m *Metric) string {
	for _, v := range []string{m.Timestamp, j.Timestamp, c.Defaults.Timestamp} {
		if v != "" {
			return v
		}
	}
	return TimestampCloudWatch
}

// resolve writes the effective values into every metric, marking them as set
// so that a later Validate or resolve sees the same values.
func (c *Collect) resolve() {
	for i := range c.Jobs {
		j := &c.Jobs[i]
		if svc := j.Service(); svc != nil {
			j.Type, j.Namespace = svc.Namespace, svc.Namespace
		}
		for k := range j.Metrics {
			m := &j.Metrics[k]
			m.Period, m.Length, m.Delay = c.effective(j, m)
			m.Timestamp = c.effectiveTimestamp(j, m)
			m.set = setPeriod | setLength | setDelay
		}
	}
}

// SelectJobs returns the jobs named, in config order, or all jobs when names is
// empty. A name that matches no job is an error: a schedule sharded by job
// names must not silently collect nothing.
func (c *Collect) SelectJobs(names []string) ([]Job, error) {
	if len(names) == 0 {
		return slices.Clone(c.Jobs), nil
	}
	want := make(map[string]bool, len(names))
	var errs []error
	for _, n := range names {
		n = strings.TrimSpace(n)
		if !slices.ContainsFunc(c.Jobs, func(j Job) bool { return j.Name == n }) {
			errs = append(errs, fmt.Errorf("unknown job %q", n))
			continue
		}
		want[n] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("select jobs: %w", err)
	}
	var out []Job
	for _, j := range c.Jobs {
		if want[j.Name] {
			out = append(out, j)
		}
	}
	return out, nil
}

var (
	// Job names travel in scheduler inputs, the -jobs flag (comma-separated)
	// and the job label, so they are kept to a plain, comma-free alphabet.
	jobNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// AWS regions: us-east-1, eu-central-2, us-gov-west-1, us-isob-east-1, cn-north-1.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	// IAM role ARNs in every partition (aws, aws-cn, aws-us-gov, aws-iso…); the
	// role path may contain slashes.
	roleARNRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
	// sts:AssumeRole's ExternalId: 2–1224 characters of this set.
	externalIDRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@:/_-]+$`)
)

// Validate reports every problem in c at once (errors.Join), each prefixed
// with its path, e.g. `jobs[1].metrics[0].statistics[2]: unknown statistic "p1000" (…)`.
// It checks the effective period, length and delay of each metric, so it works
// on a config built in code as well as on one from LoadCollect.
func (c *Collect) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.Interval <= 0 {
		add("interval", "must be > 0 (got %s)", c.Interval)
	}
	if c.MaxCatchUp <= 0 {
		add("max_catch_up", "must be > 0 (got %s)", c.MaxCatchUp)
	}
	if c.DiscoveryTTL < 0 {
		add("discovery_ttl", "must be >= 0 (got %s)", c.DiscoveryTTL)
	}
	if c.Shards < 1 || c.Shards > MaxShards {
		add("progress_shards", "must be between 1 and %d (got %d)", MaxShards, c.Shards)
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		add("cloudwatch_concurrency", "must be between 1 and %d (got %d): CloudWatch allows 50 GetMetricData calls a second per account and region", MaxConcurrency, c.Concurrency)
	}
	if p := periodProblem(c.Defaults.Period); p != "" {
		add("defaults.period", "%s", p)
	}
	if c.Defaults.Length <= 0 {
		add("defaults.length", "must be > 0 (got %s)", c.Defaults.Length)
	}
	if c.Defaults.Delay < 0 {
		add("defaults.delay", "must be >= 0 (got %s)", c.Defaults.Delay)
	}
	if p := timestampProblem(c.Defaults.Timestamp); p != "" {
		add("defaults.timestamp", "%s", p)
	}
	errs = append(errs, c.validateReceiver()...)
	if len(c.Jobs) == 0 {
		add("jobs", "at least one job is required")
	}
	names := make(map[string]int, len(c.Jobs))
	for i := range c.Jobs {
		j := &c.Jobs[i]
		path := fmt.Sprintf("jobs[%d]", i)
		switch {
		case j.Name == "":
			add(path+".name", "required")
		case !jobNameRE.MatchString(j.Name):
			add(path+".name", "%q must match %s (it is a label value and a -jobs list item)", j.Name, jobNameRE)
		default:
			if prev, dup := names[j.Name]; dup {
				add(path+".name", "duplicate job name %q (also jobs[%d])", j.Name, prev)
			} else {
				names[j.Name] = i
			}
		}
		errs = append(errs, c.validateJob(path, j)...)
	}
	return errors.Join(errs...)
}

func (c *Collect) validateJob(path string, j *Job) []error {
	var errs []error
	add := func(p, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...)))
	}
	// No regions: the function's own region (DefaultRegions, at start).
	seenRegion := map[string]bool{}
	for k, r := range j.Regions {
		p := fmt.Sprintf("%s.regions[%d]", path, k)
		switch {
		case !regionRE.MatchString(r):
			add(p, "%q is not an AWS region (like us-east-1)", r)
		case seenRegion[r]:
			add(p, "duplicate region %q", r)
		}
		seenRegion[r] = true
	}
	if j.RoleARN != "" && !roleARNRE.MatchString(j.RoleARN) {
		add(path+".role_arn", "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/name)", j.RoleARN)
	}
	if j.ExternalID != "" {
		if j.RoleARN == "" {
			add(path+".external_id", "needs role_arn: it is only sent when assuming a role")
		}
		if len(j.ExternalID) < 2 || len(j.ExternalID) > 1224 || !externalIDRE.MatchString(j.ExternalID) {
			add(path+".external_id", "must be 2-1224 characters of [A-Za-z0-9+=,.@:/_-]")
		}
	}
	errs = append(errs, validateYACE(path, j)...)
	switch {
	case j.Namespace == "" && j.IsService():
		// The namespace of the type.
	case j.Namespace == "":
		add(path+".namespace", "required")
	case len(j.Namespace) > 255:
		add(path+".namespace", "longer than CloudWatch's 255 characters")
	}
	switch {
	case j.IsService():
		// validateYACE: neither.
	case j.CustomNamespace && j.Static == nil:
		// dimensions optional: none lists every dimension set.
	case j.Dimensions != nil && j.Static != nil:
		add(path, "set exactly one of dimensions (discovery) or static, not both")
	case j.Dimensions == nil && j.Static == nil:
		add(path, "set exactly one of dimensions (discovery; [] for metrics without dimensions) or static")
	}
	errs = append(errs, validateDimensionNames(path+".dimensions", j.Dimensions)...)
	if j.Static != nil && len(j.Static) == 0 {
		add(path+".static", "at least one dimension set is required ({} for the metric without dimensions)")
	}
	seenSet := map[string]int{}
	for k, set := range j.Static {
		p := fmt.Sprintf("%s.static[%d]", path, k)
		if len(set) > MaxDimensions {
			add(p, "more than %d dimensions", MaxDimensions)
		}
		keys := make([]string, 0, len(set))
		for name, value := range set {
			keys = append(keys, name)
			if value == "" || len(value) > 1024 {
				add(p+"."+name, "dimension value must be 1-1024 characters")
			}
		}
		slices.Sort(keys)
		errs = append(errs, validateDimensionNames(p, keys)...)
		var id strings.Builder
		for _, name := range keys {
			fmt.Fprintf(&id, "%q=%q,", name, set[name])
		}
		if prev, dup := seenSet[id.String()]; dup {
			add(p, "duplicate dimension set (also static[%d])", prev)
		} else {
			seenSet[id.String()] = k
		}
	}
	if j.Period != 0 || j.set&setPeriod != 0 {
		if p := periodProblem(j.Period); p != "" {
			add(path+".period", "%s", p)
		}
	}
	if (j.Length != 0 || j.set&setLength != 0) && j.Length <= 0 {
		add(path+".length", "must be > 0 (got %s)", j.Length)
	}
	if j.Delay < 0 {
		add(path+".delay", "must be >= 0 (got %s)", j.Delay)
	}
	if p := timestampProblem(j.Timestamp); p != "" {
		add(path+".timestamp", "%s", p)
	}
	if len(j.Metrics) == 0 {
		add(path+".metrics", "at least one metric is required")
	}
	seenMetric := map[string]int{}
	for k := range j.Metrics {
		m := &j.Metrics[k]
		p := fmt.Sprintf("%s.metrics[%d]", path, k)
		switch {
		case m.Name == "":
			add(p+".name", "required")
		case len(m.Name) > 255:
			add(p+".name", "longer than CloudWatch's 255 characters")
		default:
			if prev, dup := seenMetric[m.Name]; dup {
				add(p+".name", "duplicate metric %q (also metrics[%d])", m.Name, prev)
			} else {
				seenMetric[m.Name] = k
			}
		}
		errs = append(errs, c.validateMetric(p, j, m)...)
	}
	errs = append(errs, seriesCollisions(path, j)...)
	return errs
}

func validateDimensionNames(path string, names []string) []error {
	var errs []error
	if len(names) > MaxDimensions {
		errs = append(errs, fmt.Errorf("%s: more than %d dimensions", path, MaxDimensions))
	}
	seen := map[string]bool{}
	for k, n := range names {
		switch {
		case n == "" || len(n) > 255:
			errs = append(errs, fmt.Errorf("%s[%d]: dimension name must be 1-255 characters", path, k))
		case seen[n]:
			errs = append(errs, fmt.Errorf("%s[%d]: duplicate dimension %q", path, k, n))
		}
		seen[n] = true
	}
	return errs
}

func (c *Collect) validateMetric(path string, j *Job, m *Metric) []error {
	var errs []error
	add := func(p, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...)))
	}
	if len(m.Statistics) == 0 {
		add(path+".statistics", "at least one statistic is required")
	}
	seen := map[string]bool{}
	for k, s := range m.Statistics {
		p := fmt.Sprintf("%s.statistics[%d]", path, k)
		if err := ValidateStatistic(s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		} else if seen[s] {
			add(p, "duplicate statistic %q", s)
		}
		seen[s] = true
	}
	period, length, delay := c.effective(j, m)
	periodOK := periodProblem(period) == ""
	if m.Period != 0 || m.set&setPeriod != 0 {
		if p := periodProblem(m.Period); p != "" {
			add(path+".period", "%s", p)
		}
	}
	if delay < 0 {
		add(path+".delay", "must be >= 0 (got %s)", delay)
	}
	switch {
	case length <= 0:
		add(path+".length", "must be > 0 (got %s)", length)
	case !periodOK:
		// Reported where the period is set; relations to a bad period say nothing.
	case length < period:
		add(path+".length", "%s is shorter than the period %s", length, period)
	case length%period != 0:
		add(path+".length", "%s is not a multiple of the period %s", length, period)
	}
	// Catch-up always keeps at least one whole period, so a metric whose
	// period is longer than max_catch_up may have a length of one period.
	if length > c.MaxCatchUp && c.MaxCatchUp > 0 && length > period {
		add(path+".length", "%s is longer than max_catch_up %s", length, c.MaxCatchUp)
	}
	if p := timestampProblem(m.Timestamp); p != "" {
		add(path+".timestamp", "%s", p)
	} else if periodOK {
		if p := c.receiverProblem(period, delay, c.effectiveTimestamp(j, m)); p != "" {
			add(path+".period", "%s", p)
		}
	}
	return errs
}

// timestampProblem says why s is not a timestamp choice; empty inherits.
func timestampProblem(s string) string {
	switch s {
	case "", TimestampCloudWatch, TimestampScheduled:
		return ""
	}
	return fmt.Sprintf("unknown timestamp %q (want %s or %s)", s, TimestampCloudWatch, TimestampScheduled)
}

// periodProblem says why CloudWatch would reject p as a GetMetricData period:
// high-resolution 1, 5, 10, 20 or 30 seconds, or any multiple of 60 seconds.
func periodProblem(p Duration) string {
	switch time.Duration(p) {
	case time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second:
		return ""
	}
	if p > 0 && time.Duration(p)%time.Minute == 0 {
		return ""
	}
	return fmt.Sprintf("%s is not a CloudWatch period (1s, 5s, 10s, 20s, 30s or a multiple of 60s)", p)
}
