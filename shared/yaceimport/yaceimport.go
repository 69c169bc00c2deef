// Package yaceimport translates a YACE (yet-another-cloudwatch-exporter)
// config (apiVersion v1alpha1: discovery, static and custom namespace jobs)
// into an equivalent collect.yaml, for `collect -import-yace`. What has no
// sigmawatch equivalent, or changes meaning, is listed in Result.Notes with
// its YACE path, never dropped silently.
package yaceimport

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/resource"
)

// The YACE config, as its docs describe it.
type yaceConfig struct {
	APIVersion      string         `yaml:"apiVersion"`
	StsRegion       string         `yaml:"sts-region"`
	Discovery       yaceDiscovery  `yaml:"discovery"`
	Static          []yaceStatic   `yaml:"static"`
	CustomNamespace []yaceCustomNS `yaml:"customNamespace"`
}

type yaceDiscovery struct {
	ExportedTagsOnMetrics map[string][]string `yaml:"exportedTagsOnMetrics"`
	Jobs                  []yaceJob           `yaml:"jobs"`
}

type yaceKV struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

type yaceDim struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type yaceRole struct {
	RoleArn    string `yaml:"roleArn"`
	ExternalID string `yaml:"externalId"`
}

type yaceMetricFields struct {
	Statistics             []string `yaml:"statistics"`
	Period                 int64    `yaml:"period"`
	Length                 int64    `yaml:"length"`
	Delay                  int64    `yaml:"delay"`
	NilToZero              *bool    `yaml:"nilToZero"`
	AddCloudwatchTimestamp *bool    `yaml:"addCloudwatchTimestamp"`
	ExportAllDataPoints    *bool    `yaml:"exportAllDataPoints"`
}

type yaceMetric struct {
	Name             string `yaml:"name"`
	yaceMetricFields `yaml:",inline"`
}

type yaceJob struct {
	Regions                     []string         `yaml:"regions"`
	Type                        string           `yaml:"type"`
	Roles                       []yaceRole       `yaml:"roles"`
	SearchTags                  []yaceKV         `yaml:"searchTags"`
	CustomTags                  []yaceKV         `yaml:"customTags"`
	DimensionNameRequirements   []string         `yaml:"dimensionNameRequirements"`
	Metrics                     []yaceMetric     `yaml:"metrics"`
	RoundingPeriod              *int64           `yaml:"roundingPeriod"`
	RecentlyActiveOnly          bool             `yaml:"recentlyActiveOnly"`
	IncludeContextOnInfoMetrics bool             `yaml:"includeContextOnInfoMetrics"`
	EnhancedMetrics             []map[string]any `yaml:"enhancedMetrics"`
	yaceMetricFields            `yaml:",inline"`
}

type yaceStatic struct {
	Name       string       `yaml:"name"`
	Regions    []string     `yaml:"regions"`
	Roles      []yaceRole   `yaml:"roles"`
	Namespace  string       `yaml:"namespace"`
	CustomTags []yaceKV     `yaml:"customTags"`
	Dimensions []yaceDim    `yaml:"dimensions"`
	Metrics    []yaceMetric `yaml:"metrics"`
}

type yaceCustomNS struct {
	Regions                   []string     `yaml:"regions"`
	Name                      string       `yaml:"name"`
	Namespace                 string       `yaml:"namespace"`
	RecentlyActiveOnly        bool         `yaml:"recentlyActiveOnly"`
	Roles                     []yaceRole   `yaml:"roles"`
	Metrics                   []yaceMetric `yaml:"metrics"`
	CustomTags                []yaceKV     `yaml:"customTags"`
	DimensionNameRequirements []string     `yaml:"dimensionNameRequirements"`
	RoundingPeriod            *int64       `yaml:"roundingPeriod"`
	yaceMetricFields          `yaml:",inline"`
}

// yaceDefaultSeconds is YACE's default period and length.
const yaceDefaultSeconds = 300

// Result is the translated config and what it could not carry over.
type Result struct {
	Config []byte
	Notes  []string
}

// Translate reads a YACE config and returns the equivalent collect.yaml,
// which config.LoadCollect accepts, and the notes. A document that is not
// a YACE config, or has no job sigmawatch can collect, is an error.
func Translate(data []byte) (*Result, error) {
	var yc yaceConfig
	tr := &translator{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&yc); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("parse YACE config: %w", err)
		}
		for _, e := range te.Errors {
			tr.note("%s: not a YACE key sigmawatch knows; not translated", e)
		}
	}
	if yc.APIVersion != "" && yc.APIVersion != "v1alpha1" {
		return nil, fmt.Errorf("apiVersion: %q is not v1alpha1", yc.APIVersion)
	}
	if yc.StsRegion != "" {
		tr.note("sts-region: not translated: sigmawatch calls STS in each job's region")
	}
	for i := range yc.Discovery.Jobs {
		tr.discovery(i, &yc.Discovery.Jobs[i], yc.Discovery.ExportedTagsOnMetrics)
	}
	for ns := range yc.Discovery.ExportedTagsOnMetrics {
		if !tr.usedExport[ns] {
			tr.note("discovery.exportedTagsOnMetrics.%s: no discovery job of that type; not translated", ns)
		}
	}
	for i := range yc.Static {
		tr.static(i, &yc.Static[i])
	}
	for i := range yc.CustomNamespace {
		tr.customNamespace(i, &yc.CustomNamespace[i])
	}
	if len(tr.jobs) == 0 {
		return nil, errors.Join(append([]error{errors.New("no job could be translated")}, tr.errs()...)...)
	}
	if tr.anyLatestOnly {
		tr.note("addCloudwatchTimestamp/exportAllDataPoints: sigmawatch writes every datapoint at its CloudWatch timestamp; YACE's default exports only the newest, stamped at the scrape. The series are the same; their points sit where CloudWatch measured them (timestamp: scheduled on a metric writes YACE's way)")
	}
	if tr.allListed {
		tr.note("recentlyActiveOnly: sigmawatch's discovery always lists only the metrics active in the last three hours; without recentlyActiveOnly YACE also queried those of resources gone for up to two weeks (and, with nilToZero, exported zeros for them)")
	}
	if tr.defaultDelay {
		tr.note("delay: YACE's default of 0 became sigmawatch's default delay (10m): CloudWatch values settle for up to ~10 minutes, and sigmawatch writes each datapoint once")
	}
	jobs := &yaml.Node{Kind: yaml.SequenceNode}
	for _, j := range tr.jobs {
		n, err := ordered(j)
		if err != nil {
			return nil, err
		}
		jobs.Content = append(jobs.Content, n)
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "jobs"}, jobs}}
	var b bytes.Buffer
	b.WriteString("# Translated from a YACE config by `collect -import-yace`.\n")
	for _, n := range tr.notes {
		b.WriteString("# NOTE: " + n + "\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	if _, err := config.LoadCollect(b.Bytes()); err != nil {
		return nil, fmt.Errorf("the translated config does not load (a bug in the translation): %w", err)
	}
	return &Result{Config: b.Bytes(), Notes: tr.notes}, nil
}

// keyOrder is the order of a job's keys in the output, as people write them.
var keyOrder = []string{
	"name", "type", "namespace", "custom_namespace", "regions", "role_arn", "external_id", "roles",
	"dimensions", "static", "search_tags", "exported_tags", "dimension_name_requirements", "custom_tags",
	"include_context_on_info_metrics", "account_alias", "nil_to_zero", "metrics",
}

// ordered encodes a job with its keys in keyOrder.
func ordered(job map[string]any) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range keyOrder {
		v, ok := job[k]
		if !ok {
			continue
		}
		var val yaml.Node
		if err := val.Encode(v); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &val)
	}
	return n, nil
}

type translator struct {
	defaultDelay  bool
	allListed     bool
	jobs          []map[string]any
	names         map[string]bool
	notes         []string
	usedExport    map[string]bool
	anyLatestOnly bool
}

func (tr *translator) note(format string, args ...any) {
	tr.notes = append(tr.notes, fmt.Sprintf(format, args...))
}

func (tr *translator) errs() []error {
	out := make([]error, 0, len(tr.notes))
	for _, n := range tr.notes {
		out = append(out, errors.New(n))
	}
	return out
}

var nameInvalid = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// jobName returns a unique job name from a YACE name or type.
func (tr *translator) jobName(path, want string) string {
	name := nameInvalid.ReplaceAllString(want, "_")
	if name == "" || name[0] == '.' || name[0] == '-' {
		name = "job_" + name
	}
	if len(name) > 100 {
		name = name[:100]
	}
	base := name
	for n := 2; tr.names[name]; n++ {
		name = fmt.Sprintf("%s-%d", base, n)
	}
	if tr.names == nil {
		tr.names = map[string]bool{}
	}
	tr.names[name] = true
	if name != want && want != "" {
		tr.note("%s: job named %q (YACE: %q)", path, name, want)
	}
	return name
}

func (tr *translator) roles(path string, job map[string]any, roles []yaceRole) {
	var out []map[string]string
	own := false
	for _, r := range roles {
		if r.RoleArn == "" {
			own = true
			continue
		}
		m := map[string]string{"role_arn": r.RoleArn}
		if r.ExternalID != "" {
			m["external_id"] = r.ExternalID
		}
		out = append(out, m)
	}
	switch {
	case len(out) == 1 && !own:
		job["role_arn"] = out[0]["role_arn"]
		if id := out[0]["external_id"]; id != "" {
			job["external_id"] = id
		}
	case len(out) > 0:
		job["roles"] = out
		if own {
			tr.note("%s.roles: the empty role (the exporter's own credentials) is not translated beside other roles; add a job without roles for it", path)
		}
	}
}

func kvs(in []yaceKV) []map[string]string {
	out := make([]map[string]string, 0, len(in))
	for _, kv := range in {
		out = append(out, map[string]string{"key": kv.Key, "value": kv.Value})
	}
	return out
}

func seconds(s int64) string {
	return config.Duration(time.Duration(s) * time.Second).String()
}

// metrics translates metric definitions with their job-level defaults.
func (tr *translator) metrics(path string, job map[string]any, jobFields *yaceMetricFields, ms []yaceMetric) bool {
	var out []map[string]any
	var nilToZero []bool
	for k, m := range ms {
		p := fmt.Sprintf("%s.metrics[%d]", path, k)
		stats := m.Statistics
		if len(stats) == 0 && jobFields != nil {
			stats = jobFields.Statistics
		}
		if len(stats) == 0 {
			tr.note("%s: no statistics; not translated", p)
			continue
		}
		period, length := m.Period, m.Length
		if period == 0 && jobFields != nil {
			period = jobFields.Period
		}
		if period == 0 {
			period = yaceDefaultSeconds
		}
		if length == 0 && jobFields != nil {
			length = jobFields.Length
		}
		if length == 0 {
			length = yaceDefaultSeconds
		}
		if period%60 != 0 && !slices.Contains([]int64{1, 5, 10, 20, 30}, period) {
			np := (period/60 + 1) * 60
			tr.note("%s.period: %ds is not a CloudWatch period; %ds used", p, period, np)
			period = np
		}
		if length < period {
			length = period
		}
		if length%period != 0 {
			length = (length/period + 1) * period
			tr.note("%s.length: rounded up to %ds, a multiple of the period", p, length)
		}
		maxCatchUp := int64(config.DefaultMaxCatchUp.D() / time.Second)
		if length > maxCatchUp && length > period {
			// At most max_catch_up, or one period when that is longer.
			short := max(period, period*(maxCatchUp/period))
			tr.note("%s.length: %ds is longer than max_catch_up (%ds); sigmawatch keeps every datapoint once, so the length only sets a first run's window: %ds used", p, length, maxCatchUp, short)
			length = short
		}
		if m.Delay != 0 {
			tr.note("%s.delay: ignored by YACE at the metric level; not translated", p)
		}
		metric := map[string]any{"name": m.Name, "statistics": stats, "period": seconds(period), "length": seconds(length)}
		delay := config.DefaultDelay.D()
		if jobFields != nil && jobFields.Delay != 0 {
			metric["delay"] = seconds(jobFields.Delay)
			delay = time.Duration(jobFields.Delay) * time.Second
		} else {
			tr.defaultDelay = true
		}
		if tooOld(time.Duration(period)*time.Second, delay) {
			// A stock Prometheus (the receiver kind a translated config
			// gets) refuses such a sample at its CloudWatch time.
			metric["timestamp"] = config.TimestampScheduled
			tr.note("%s: period %ds: timestamp: scheduled (the newest value stamped at the run's time, as YACE stamps it at the scrape): a stock Prometheus refuses a sample that old at its CloudWatch time; with VictoriaMetrics, or an out-of-order window, set receiver and drop it to get every datapoint at its own time", p, period)
		}
		out = append(out, metric)
		nz := m.NilToZero
		if nz == nil && jobFields != nil {
			nz = jobFields.NilToZero
		}
		nilToZero = append(nilToZero, nz != nil && *nz)
		ts := m.AddCloudwatchTimestamp
		if ts == nil && jobFields != nil {
			ts = jobFields.AddCloudwatchTimestamp
		}
		all := m.ExportAllDataPoints
		if all == nil && jobFields != nil {
			all = jobFields.ExportAllDataPoints
		}
		if (ts == nil || !*ts || all == nil || !*all) && metric["timestamp"] == nil {
			tr.anyLatestOnly = true
		}
	}
	if len(out) == 0 {
		tr.note("%s: no metric could be translated; job left out", path)
		return false
	}
	job["metrics"] = out
	switch {
	case !slices.Contains(nilToZero, false):
		job["nil_to_zero"] = true
	case slices.Contains(nilToZero, true):
		tr.note("%s: nilToZero set on some metrics only; sigmawatch sets it per job: not translated (split the job to keep it)", path)
	}
	return true
}

func (tr *translator) discovery(i int, j *yaceJob, exported map[string][]string) {
	path := fmt.Sprintf("discovery.jobs[%d]", i)
	svc, ok := resource.LookupService(j.Type)
	if !ok {
		tr.note("%s: type %q is not a service sigmawatch's service jobs support (%s); not translated", path, j.Type, strings.Join(resource.ServiceTypes(), ", "))
		return
	}
	job := map[string]any{"name": tr.jobName(path, svc.Alias), "type": svc.Namespace, "regions": j.Regions}
	tr.roles(path, job, j.Roles)
	if len(j.SearchTags) > 0 {
		job["search_tags"] = kvs(j.SearchTags)
	}
	if len(j.CustomTags) > 0 {
		job["custom_tags"] = kvs(j.CustomTags)
	}
	if len(j.DimensionNameRequirements) > 0 {
		job["dimension_name_requirements"] = j.DimensionNameRequirements
	}
	if j.IncludeContextOnInfoMetrics {
		job["include_context_on_info_metrics"] = true
	}
	for _, key := range []string{svc.Namespace, svc.Alias} {
		if tags, ok := exported[key]; ok {
			if tr.usedExport == nil {
				tr.usedExport = map[string]bool{}
			}
			tr.usedExport[key] = true
			job["exported_tags"] = tags
		}
	}
	tr.common(path, j.RoundingPeriod, j.RecentlyActiveOnly)
	if len(j.EnhancedMetrics) > 0 {
		tr.note("%s.enhancedMetrics: not translated (sigmawatch collects CloudWatch metrics only)", path)
	}
	if tr.metrics(path, job, &j.yaceMetricFields, j.Metrics) {
		tr.jobs = append(tr.jobs, job)
	}
}

func (tr *translator) common(path string, rounding *int64, recentlyActive bool) {
	if rounding != nil {
		tr.note("%s.roundingPeriod: not translated: sigmawatch aligns each window to its period", path)
	}
	tr.allListed = tr.allListed || !recentlyActive
}

// tooOld reports whether a metric's newest value is older, when a run first
// writes it (period + delay + the default interval), than the default
// receiver kind (a stock Prometheus) accepts.
func tooOld(period, delay time.Duration) bool {
	return period+delay+config.DefaultInterval.D() > config.Receiver{}.MaxAge()
}

func (tr *translator) static(i int, j *yaceStatic) {
	path := fmt.Sprintf("static[%d]", i)
	job := map[string]any{"name": tr.jobName(path, j.Name), "namespace": j.Namespace, "regions": j.Regions}
	dims := map[string]string{}
	for _, d := range j.Dimensions {
		dims[d.Name] = d.Value
	}
	job["static"] = []map[string]string{dims}
	job["account_alias"] = true // YACE labels every job's series with it
	tr.roles(path, job, j.Roles)
	if len(j.CustomTags) > 0 {
		job["custom_tags"] = kvs(j.CustomTags)
	}
	if tr.metrics(path, job, nil, j.Metrics) {
		tr.jobs = append(tr.jobs, job)
	}
}

func (tr *translator) customNamespace(i int, j *yaceCustomNS) {
	path := fmt.Sprintf("customNamespace[%d]", i)
	job := map[string]any{"name": tr.jobName(path, j.Name), "namespace": j.Namespace, "regions": j.Regions, "custom_namespace": true, "account_alias": true}
	if len(j.DimensionNameRequirements) > 0 {
		job["dimensions"] = j.DimensionNameRequirements
	}
	tr.roles(path, job, j.Roles)
	if len(j.CustomTags) > 0 {
		job["custom_tags"] = kvs(j.CustomTags)
	}
	tr.common(path, j.RoundingPeriod, j.RecentlyActiveOnly)
	if tr.metrics(path, job, &j.yaceMetricFields, j.Metrics) {
		tr.jobs = append(tr.jobs, job)
	}
}
