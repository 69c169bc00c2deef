package collector

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"

	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/resource"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// Series names the collector writes about itself.
const (
	ProgressMetric         = "sigmawatch_collect_progress_timestamp_seconds"
	LastSuccessMetric      = "sigmawatch_collect_last_success_timestamp_seconds"
	SamplesMetric          = "sigmawatch_collect_samples"
	SeriesMetric           = "sigmawatch_collect_series"
	SkippedMetric          = "sigmawatch_collect_skipped_seconds"
	APICallsMetric         = "sigmawatch_collect_api_calls"
	MetricsRequestedMetric = "sigmawatch_collect_metrics_requested"
	CostMetric             = "sigmawatch_collect_cost_usd"
)

const (
	// USDPerMetricRequested is GetMetricData's price: $0.01 per 1,000 metrics.
	USDPerMetricRequested = 0.01 / 1000
	// progressLookahead: progress is read as of T plus this, so a late retry
	// of T (Lambda keeps async events up to 6 h) sees the runs after it.
	progressLookahead = 6 * time.Hour
	// progressLookback bounds how far back stored progress is looked for;
	// older progress is treated as none (a first run).
	progressLookback = 8 * 24 * time.Hour
	// DefaultMaxSamplesPerRequest bounds a remote-write request (whole shards
	// are never split, so one large shard may exceed it).
	DefaultMaxSamplesPerRequest = 10000
)

// CloudWatchAPI is what the collector calls on CloudWatch.
type CloudWatchAPI interface {
	awscw.GetMetricDataAPIClient
	awscw.ListMetricsAPIClient
}

// Target is CloudWatch in one region of one account.
type Target struct {
	API CloudWatchAPI
	// Tagging and IAM serve service jobs (resources by tag, the account
	// alias); nil when the target cannot serve them.
	Tagging   tagging.API
	IAM       tagging.AliasAPI
	AccountID string
	// CacheKey identifies the credentials for the discovery cache.
	CacheKey string
}

// Connector returns the CloudWatch target for a region, optionally through
// an assumed role.
type Connector interface {
	Connect(ctx context.Context, region, roleARN, externalID string) (Target, error)
}

// Writer sends one remote-write request; the request is the unit of atomicity.
type Writer interface {
	Write(ctx context.Context, series []remotewrite.Series) error
}

// Querier reads stored progress back with PromQL.
type Querier interface {
	Query(ctx context.Context, query string, at time.Time) ([]promql.Sample, error)
}

// Options configure a Collector.
type Options struct {
	Config    *config.Collect
	Connector Connector
	Writer    Writer
	// Progress reads stored progress; nil means no progress is stored (every
	// run is a first run), which only -dry-run should use.
	Progress Querier
	Logger   *slog.Logger
	Now      func() time.Time // for the discovery cache's TTL only
	// MaxSamplesPerRequest defaults to DefaultMaxSamplesPerRequest.
	MaxSamplesPerRequest int
}

// Collector runs scheduled collections. It keeps its discovery cache across
// calls, so build it once per process (outside the Lambda handler).
type Collector struct {
	cfg        *config.Collect
	conn       Connector
	writer     Writer
	progress   Querier
	log        *slog.Logger
	cache      *cloudwatch.DiscoveryCache
	tagCache   *tagging.Cache
	aliases    aliasCache
	maxSamples int
}

// New checks opts and returns a Collector.
func New(opts Options) (*Collector, error) {
	var problems []error
	if opts.Config == nil {
		problems = append(problems, errors.New("collector: Options.Config is required"))
	}
	if opts.Connector == nil {
		problems = append(problems, errors.New("collector: Options.Connector is required"))
	}
	if opts.Writer == nil {
		problems = append(problems, errors.New("collector: Options.Writer is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	maxSamples := opts.MaxSamplesPerRequest
	if maxSamples <= 0 {
		maxSamples = DefaultMaxSamplesPerRequest
	}
	return &Collector{
		cfg:        opts.Config,
		conn:       opts.Connector,
		writer:     opts.Writer,
		progress:   opts.Progress,
		log:        logger.With("component", "collector"),
		cache:      cloudwatch.NewDiscoveryCache(opts.Config.DiscoveryTTL.D(), now),
		tagCache:   tagging.NewCache(opts.Config.DiscoveryTTL.D(), now),
		aliases:    aliasCache{now: now},
		maxSamples: maxSamples,
	}, nil
}

// Summary describes one run.
type Summary struct {
	ScheduledTime    time.Time      `json:"scheduled_time"`
	Jobs             []string       `json:"jobs"`
	Targets          int            `json:"targets"`
	TargetsCovered   int            `json:"targets_already_covered"`
	Series           int            `json:"series"`
	Samples          int            `json:"samples"`
	Requests         int            `json:"requests"`
	APICalls         map[string]int `json:"api_calls"`
	MetricsRequested int            `json:"metrics_requested"`
	CostUSD          float64        `json:"cost_usd"`
	SkippedSeconds   float64        `json:"skipped_seconds"`
	FailedShards     int            `json:"failed_shards"`
}

func (s *Summary) addCalls(op string, n int) {
	if n == 0 {
		return
	}
	if s.APICalls == nil {
		s.APICalls = map[string]int{}
	}
	s.APICalls[op] += n
}

// Run collects the given jobs for the scheduled time at. It goes on past a
// failed target or shard and returns every failure joined, so that Lambda's
// retry (which redoes only what is not stored) and its on-failure
// destination see it.
func (c *Collector) Run(ctx context.Context, at time.Time, jobs []config.Job) (Summary, error) {
	at = at.UTC()
	sum := Summary{ScheduledTime: at}
	var errs []error
	for i := range jobs {
		job := &jobs[i]
		sum.Jobs = append(sum.Jobs, job.Name)
		if err := c.runJob(ctx, at, job, &sum); err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", job.Name, err))
		}
	}
	sum.CostUSD = float64(sum.MetricsRequested) * USDPerMetricRequested
	return sum, errors.Join(errs...)
}

// progressKey names one shard's progress. shards is the job's
// progress_shards when it was written: a series' shard depends on it.
type progressKey struct {
	region, account string
	shards, shard   int
}

// jobStats is what one job asked of AWS in this run.
type jobStats struct {
	listCalls, dataCalls, metricsRequested int
	tagCalls                               int // GetResources (service jobs)
}

func (c *Collector) runJob(ctx context.Context, at time.Time, job *config.Job, sum *Summary) error {
	progress, err := c.readProgress(ctx, at, job.Name)
	if err != nil {
		return err
	}
	var stats jobStats
	var errs []error
	var health []remotewrite.Series
	didWork := false
	for _, acct := range job.Accounts() {
		for _, region := range job.Regions {
			sum.Targets++
			th, worked, err := c.runTarget(ctx, at, job, acct, region, progress, &stats, sum)
			didWork = didWork || worked
			if err != nil {
				if acct.RoleARN != "" {
					err = fmt.Errorf("role %s: %w", acct.RoleARN, err)
				}
				errs = append(errs, fmt.Errorf("region %s: %w", region, err))
				continue
			}
			health = append(health, th...)
		}
	}
	sum.addCalls("ListMetrics", stats.listCalls)
	sum.addCalls("GetResources", stats.tagCalls)
	sum.addCalls("GetMetricData", stats.dataCalls)
	sum.MetricsRequested += stats.metricsRequested
	if len(errs) == 0 && didWork {
		ts := at.UnixMilli()
		cost := float64(stats.metricsRequested) * USDPerMetricRequested
		health = append(health,
			gauge(APICallsMetric, ts, float64(stats.listCalls), "job", job.Name, "operation", "ListMetrics"),
			gauge(APICallsMetric, ts, float64(stats.dataCalls), "job", job.Name, "operation", "GetMetricData"),
		)
		if job.IsService() {
			health = append(health, gauge(APICallsMetric, ts, float64(stats.tagCalls), "job", job.Name, "operation", "GetResources"))
		}
		health = append(health,
			gauge(MetricsRequestedMetric, ts, float64(stats.metricsRequested), "job", job.Name),
			gauge(CostMetric, ts, cost, "job", job.Name),
		)
	}
	if len(health) > 0 {
		if err := c.writer.Write(ctx, health); err != nil {
			errs = append(errs, fmt.Errorf("write health series: %w", err))
		} else {
			sum.Requests++
		}
	}
	return errors.Join(errs...)
}

// readProgress returns, per (region, account, shard), the scheduled time of
// the last run whose data is stored.
func (c *Collector) readProgress(ctx context.Context, at time.Time, job string) (map[progressKey]time.Time, error) {
	out := map[progressKey]time.Time{}
	if c.progress == nil {
		return out, nil
	}
	q := fmt.Sprintf(`last_over_time(%s{job=%q}[%ds])`, ProgressMetric, job, int64((progressLookahead+progressLookback)/time.Second))
	samples, err := c.progress.Query(ctx, q, at.Add(progressLookahead))
	if err != nil {
		return nil, fmt.Errorf("read stored progress (nothing was fetched or written): %w", err)
	}
	for _, s := range samples {
		shard, err := strconv.Atoi(s.Labels["shard"])
		if err != nil {
			continue
		}
		shards, err := strconv.Atoi(s.Labels["shards"])
		if err != nil {
			continue
		}
		k := progressKey{region: s.Labels["region"], account: s.Labels["account_id"], shards: shards, shard: shard}
		t := time.Unix(0, int64(s.V*float64(time.Second))).UTC().Round(time.Millisecond)
		if prev, ok := out[k]; !ok || t.After(prev) {
			out[k] = t
		}
	}
	return out, nil
}

// queryMeta is where a query's data goes.
type queryMeta struct {
	shard  int
	name   string              // the series' metric name
	labels []remotewrite.Label // name and tag_* labels (service jobs)
}

func (c *Collector) runTarget(ctx context.Context, at time.Time, job *config.Job, acct config.Role, region string, progress map[progressKey]time.Time, stats *jobStats, sum *Summary) ([]remotewrite.Series, bool, error) {
	target, err := c.conn.Connect(ctx, region, acct.RoleARN, acct.ExternalID)
	if err != nil {
		return nil, false, err
	}
	shards := max(c.cfg.Shards, 1)
	metrics, resources, err := c.metrics(ctx, target, job, region, stats)
	if err != nil {
		return nil, false, err
	}
	hasMetrics := len(metrics) > 0
	alias := ""
	if job.IsService() {
		alias = c.aliases.get(ctx, c.log, target)
	}
	// Which shards still have something to cover at T?
	shardProgress := make([]time.Time, shards)
	hasProgress := make([]bool, shards)
	pending := make([]bool, shards)
	anyPending := false
	// After progress_shards changed, a shard without progress under the new
	// count continues from the newest progress written under an older count
	// (where its series were before) instead of a first-run window that
	// could overlap what was already written.
	var older time.Time
	for k, p := range progress {
		if k.region == region && k.account == target.AccountID && k.shards != shards && p.After(older) {
			older = p
		}
	}
	for s := range shards {
		p, ok := progress[progressKey{region: region, account: target.AccountID, shards: shards, shard: s}]
		if !ok && !older.IsZero() {
			p, ok = older, true
		}
		shardProgress[s], hasProgress[s] = p, ok
		if !ok || p.Before(at) {
			pending[s] = true
			anyPending = true
		}
	}
	if !anyPending {
		sum.TargetsCovered++
		c.log.DebugContext(ctx, "already covered", "job", job.Name, "region", region, "account_id", target.AccountID)
		return nil, false, nil
	}

	// Queries in shard order, so that shards complete one after another
	// while the data streams in.
	byShard := make([][]int, shards)
	var skipped time.Duration
	var queries []cloudwatch.Query
	var meta []queryMeta
	for mi, m := range metrics {
		shard := shardOf(m.metric, shards)
		if !pending[shard] {
			continue
		}
		w, sk := c.window(at, shardProgress[shard], hasProgress[shard], m.cfg)
		if w.Empty() {
			continue
		}
		skipped = max(skipped, sk)
		byShard[shard] = append(byShard[shard], mi)
	}
	remaining := make([]int, shards)
	for s, mis := range byShard {
		for _, mi := range mis {
			m := metrics[mi]
			w, _ := c.window(at, shardProgress[s], hasProgress[s], m.cfg)
			for _, stat := range m.cfg.Statistics {
				queries = append(queries, cloudwatch.Query{Metric: m.metric, Stat: stat, Period: m.cfg.Period.D(), Start: w.Start, End: w.End})
				meta = append(meta, queryMeta{shard: s, name: naming.MetricName(m.metric.Namespace, m.metric.Name, stat), labels: m.labels})
				remaining[s]++
			}
		}
	}
	// The queries hold what they need; let the listing go before the data
	// streams in (the discovery cache keeps its own copy).
	byShard, metrics = nil, nil
	hadQuery := make([]bool, shards)
	for s := range shards {
		hadQuery[s] = remaining[s] > 0
	}
	if skipped > 0 {
		c.log.ErrorContext(ctx, "gap longer than max_catch_up given up", "job", job.Name, "region", region,
			"account_id", target.AccountID, "skipped_seconds", skipped.Seconds(), "max_catch_up", c.cfg.MaxCatchUp.String())
	}

	base := []remotewrite.Label{
		{Name: "job", Value: job.Name}, {Name: "region", Value: region}, {Name: "account_id", Value: target.AccountID},
	}
	base = append(base, contextLabels(job, alias)...)
	resourceName := "global"
	if job.Static != nil || job.CustomNamespace {
		resourceName = job.Name
	}
	ts := at.UnixMilli()
	var errs []error
	// Requests carry whole shards, each with its progress sample.
	var req []remotewrite.Series
	reqSamples, reqDataSeries, reqDataSamples, reqShards := 0, 0, 0, 0
	series, samples := 0, 0
	flush := func() {
		if len(req) == 0 {
			return
		}
		if err := c.writer.Write(ctx, req); err != nil {
			errs = append(errs, fmt.Errorf("%d shard(s) not written: %w", reqShards, err))
			sum.FailedShards += reqShards
		} else {
			sum.Requests++
			series += reqDataSeries
			samples += reqDataSamples
		}
		req, reqSamples, reqDataSeries, reqDataSamples, reqShards = nil, 0, 0, 0, 0
	}
	shardSeries := make([][]remotewrite.Series, shards)
	shardErr := make([]error, shards)
	done := func(s int) {
		if shardErr[s] != nil {
			errs = append(errs, fmt.Errorf("shard %d not written: %w", s, shardErr[s]))
			sum.FailedShards++
			shardSeries[s] = nil
			return
		}
		n := 0
		for _, ser := range shardSeries[s] {
			n += len(ser.Samples)
		}
		if reqSamples > 0 && reqSamples+n > c.maxSamples {
			flush()
		}
		req = append(req, shardSeries[s]...)
		req = append(req, gauge(ProgressMetric, ts, float64(at.Unix()), "job", job.Name, "region", region, "account_id", target.AccountID, "shards", strconv.Itoa(shards), "shard", strconv.Itoa(s)))
		reqSamples += n + 1
		reqShards++
		reqDataSeries += len(shardSeries[s])
		reqDataSamples += n
		shardSeries[s] = nil
	}
	fstats := cloudwatch.Fetch(ctx, target.API, queries, func(i int, pts []cloudwatch.Point, err error) {
		s := meta[i].shard
		switch {
		case err != nil:
			if shardErr[s] == nil {
				shardErr[s] = err
			}
		case (len(pts) > 0 || job.NilToZero) && shardErr[s] == nil:
			if job.NilToZero {
				pts = fillZeros(&queries[i], pts)
			}
			shardSeries[s] = append(shardSeries[s], buildSeries(&queries[i], &meta[i], pts, base, resourceName, job.LabelsSnakeCase))
		}
		if remaining[s]--; remaining[s] == 0 {
			done(s)
		}
	})
	// Pending shards without a query still record that T covered them.
	for s := range shards {
		if pending[s] && !hadQuery[s] {
			done(s)
		}
	}
	flush()
	stats.dataCalls += fstats.Calls
	stats.metricsRequested += fstats.MetricsRequested
	sum.Series += series
	sum.Samples += samples
	sum.SkippedSeconds += skipped.Seconds()
	if len(errs) > 0 {
		return nil, true, errors.Join(errs...)
	}
	labels := []string{"job", job.Name, "region", region, "account_id", target.AccountID}
	health := []remotewrite.Series{
		gauge(LastSuccessMetric, ts, float64(at.Unix()), labels...),
		gauge(SamplesMetric, ts, float64(samples), labels...),
		gauge(SeriesMetric, ts, float64(series), labels...),
		gauge(SkippedMetric, ts, skipped.Seconds(), labels...),
	}
	if hasMetrics {
		// As YACE: a resource's info series comes with its job's metrics.
		health = append(health, infoSeries(job, resources, ts, base)...)
	}
	c.log.DebugContext(ctx, "target collected", "job", job.Name, "region", region, "account_id", target.AccountID,
		"queries", len(queries), "series", series, "samples", samples)
	return health, true, nil
}

type jobMetric struct {
	metric cloudwatch.Metric
	cfg    *config.Metric
	labels []remotewrite.Label // service jobs: name and tag_* labels
}

// metrics lists the job's CloudWatch metrics: discovered (cached), static,
// or, for a service job, those of its tagged resources (both listings
// cached), with the resources.
func (c *Collector) metrics(ctx context.Context, target Target, job *config.Job, region string, stats *jobStats) ([]jobMetric, []resource.Resource, error) {
	if job.IsService() {
		return c.serviceMetrics(ctx, target, job, region, stats)
	}
	var out []jobMetric
	for i := range job.Metrics {
		mc := &job.Metrics[i]
		if job.Static != nil {
			for _, dims := range job.Static {
				dd := make([]cloudwatch.Dimension, 0, len(dims))
				for k, v := range dims {
					dd = append(dd, cloudwatch.Dimension{Name: k, Value: v})
				}
				out = append(out, jobMetric{metric: cloudwatch.NewMetric(job.Namespace, mc.Name, dd), cfg: mc})
			}
			continue
		}
		found, calls, err := c.cache.Discover(ctx, target.CacheKey, target.API, job.Namespace, mc.Name, job.Dimensions)
		stats.listCalls += calls
		if err != nil {
			return nil, nil, err
		}
		for _, m := range found {
			out = append(out, jobMetric{metric: m, cfg: mc})
		}
	}
	return out, nil, nil
}

// serviceMetrics lists a service job's resources by tag and its metrics,
// and keeps the metrics YACE keeps, each labelled by its resource.
func (c *Collector) serviceMetrics(ctx context.Context, target Target, job *config.Job, region string, stats *jobStats) ([]jobMetric, []resource.Resource, error) {
	svc := job.Service()
	if target.Tagging == nil {
		return nil, nil, fmt.Errorf("service job %s: no Tagging API client for this target", job.Name)
	}
	resources, calls, err := c.tagCache.Resources(ctx, target.CacheKey+"\x00"+region, target.Tagging, svc, job.SearchTagsCompiled())
	stats.tagCalls += calls
	if err != nil {
		return nil, nil, err
	}
	if len(resources) == 0 {
		c.log.InfoContext(ctx, "no tagged resources", "job", job.Name, "region", region, "account_id", target.AccountID, "type", svc.Namespace)
		return nil, nil, nil
	}
	// dimension_name_requirements is an exact set, like a dimensions job;
	// without it, every dimension set is listed and associated.
	var dims []string
	if len(job.DimensionNameRequirements) > 0 {
		dims = job.DimensionNameRequirements
	}
	var out []jobMetric
	for i := range job.Metrics {
		mc := &job.Metrics[i]
		found, calls, err := c.cache.Discover(ctx, target.CacheKey, target.API, svc.Namespace, mc.Name, dims)
		stats.listCalls += calls
		if err != nil {
			return nil, nil, err
		}
		for _, sel := range tagging.Select(svc, resources, found) {
			out = append(out, jobMetric{metric: sel.Metric, cfg: mc, labels: resource.MetricLabels(sel.Resource, job.ExportedTags, job.LabelsSnakeCase)})
		}
	}
	return out, resources, nil
}

// window is what a metric still needs at T, given the scheduled time p of
// the last run that covered its shard (hasProgress false: a first run).
func (c *Collector) window(at, p time.Time, hasProgress bool, m *config.Metric) (cloudwatch.Window, time.Duration) {
	period, delay := m.Period.D(), m.Delay.D()
	end := cloudwatch.Align(at.Add(-delay), period)
	if !hasProgress {
		return cloudwatch.Window{Start: end.Add(-m.Length.D()), End: end}, 0
	}
	start := cloudwatch.Align(p.Add(-delay), period)
	limit := alignUp(end.Add(-c.cfg.MaxCatchUp.D()), period)
	var skipped time.Duration
	if start.Before(limit) {
		skipped = limit.Sub(start)
		start = limit
	}
	return cloudwatch.Window{Start: start, End: end}, skipped
}

func alignUp(t time.Time, period time.Duration) time.Time {
	a := cloudwatch.Align(t, period)
	if a.Before(t) {
		a = a.Add(period)
	}
	return a
}

// shardOf places a metric in one of n progress shards, stably across runs
// and processes.
func shardOf(m cloudwatch.Metric, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(m.Key()))
	return int(h.Sum32() % uint32(n))
}

func buildSeries(q *cloudwatch.Query, meta *queryMeta, pts []cloudwatch.Point, base []remotewrite.Label, resourceName string, snakeCase bool) remotewrite.Series {
	labels := make([]remotewrite.Label, 0, 2+len(base)+len(meta.labels)+len(q.Metric.Dimensions))
	labels = append(labels, remotewrite.Label{Name: "__name__", Value: meta.name})
	labels = append(labels, base...)
	if meta.labels != nil {
		labels = append(labels, meta.labels...)
	} else {
		labels = append(labels, remotewrite.Label{Name: "name", Value: resourceName})
	}
	for _, d := range q.Metric.Dimensions {
		labels = append(labels, remotewrite.Label{Name: naming.Label("dimension_", d.Name, snakeCase), Value: d.Value})
	}
	samples := make([]remotewrite.Sample, len(pts))
	for i, p := range pts {
		samples[i] = remotewrite.Sample{T: p.T.UnixMilli(), V: p.V}
	}
	return remotewrite.Series{Labels: labels, Samples: samples}
}

// gauge is one sample of one of our own series; kv are label pairs.
func gauge(name string, ts int64, v float64, kv ...string) remotewrite.Series {
	labels := make([]remotewrite.Label, 0, 1+len(kv)/2)
	labels = append(labels, remotewrite.Label{Name: "__name__", Value: name})
	for i := 0; i+1 < len(kv); i += 2 {
		labels = append(labels, remotewrite.Label{Name: kv[i], Value: kv[i+1]})
	}
	return remotewrite.Series{Labels: labels, Samples: []remotewrite.Sample{{T: ts, V: v}}}
}
