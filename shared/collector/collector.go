package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

const (
	// USDPerMetricRequested is GetMetricData's price: $0.01 per 1,000 metrics.
	USDPerMetricRequested = 0.01 / 1000
	// DefaultMaxSamplesPerRequest bounds a remote-write request (a unit is
	// never split, so one large unit may exceed it).
	DefaultMaxSamplesPerRequest = 10000
	// MaxFutureSkew is how far past the clock a scheduled time may be: the
	// scheduler's clock and ours may disagree by a little, never by more.
	// Progress written at a future T would stop every later run until the
	// clock caught up.
	MaxFutureSkew = 2 * time.Minute
	// DefaultDeadlineMargin is kept free at the end of a run with a
	// deadline: no CloudWatch call starts inside it, so what was fetched is
	// still written.
	DefaultDeadlineMargin = 20 * time.Second
)

// CloudWatchAPI is what the collector calls on CloudWatch.
type CloudWatchAPI interface {
	awscw.GetMetricDataAPIClient
	awscw.ListMetricsAPIClient
}

// Target is CloudWatch in one region of one account.
type Target struct {
	API CloudWatchAPI
	// Tagging, RestAPIs and IAM serve service jobs (resources by tag, the
	// names of REST APIs) and the account_alias label; nil when the target
	// cannot serve them.
	Tagging  tagging.API
	RestAPIs tagging.RestAPIsAPI
	IAM      tagging.AliasAPI
	// Region is where API points. The discovery cache keys on it whatever
	// CacheKey says: one job's regions list different metrics.
	Region    string
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

// Querier reads stored progress back with PromQL, and, behind a receiver
// that stores series by series, what of a refused request was stored.
type Querier interface {
	Query(ctx context.Context, query string, at time.Time) ([]promql.Sample, error)
	QuerySeries(ctx context.Context, query string, at time.Time) ([]promql.Series, error)
}

// Options configure a Collector.
type Options struct {
	Config    *config.Collect
	Connector Connector
	Writer    Writer
	// Progress reads stored progress; nil means no progress is stored (every
	// run is a first run), which only -dry-run should use.
	Progress Querier
	// Deployment names this deployment (config.Env.Deployment): every series
	// the collector writes about itself carries it as config.DeploymentLabel
	// and progress is read back by it. Default config.DefaultDeployment.
	Deployment string
	Logger     *slog.Logger
	// Now reads the clock for the discovery cache's TTL, the check that T
	// is not in the future and the deadline; windows never depend on it.
	Now func() time.Time
	// MaxSamplesPerRequest defaults to DefaultMaxSamplesPerRequest.
	MaxSamplesPerRequest int
	// DeadlineMargin defaults to DefaultDeadlineMargin.
	DeadlineMargin time.Duration
}

// Collector runs scheduled collections. It keeps its discovery cache across
// calls, so build it once per process (outside the Lambda handler).
type Collector struct {
	cfg        *config.Collect
	conn       Connector
	writer     Writer
	progress   Querier
	reader     Querier // nil when progress is nil
	deployment string
	log        *slog.Logger
	now        func() time.Time
	lister     *lister
	aliases    *aliasCache
	maxSamples int
	margin     time.Duration
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
	deployment := opts.Deployment
	if deployment == "" {
		deployment = config.DefaultDeployment
	}
	c := &Collector{
		cfg:        opts.Config,
		conn:       opts.Connector,
		writer:     opts.Writer,
		progress:   opts.Progress,
		reader:     opts.Progress,
		deployment: deployment,
		log:        logger.With("component", "collector"),
		now:        now,
		lister:     newLister(opts.Config, now),
		aliases:    &aliasCache{now: now},
		maxSamples: opts.MaxSamplesPerRequest,
		margin:     opts.DeadlineMargin,
	}
	if c.maxSamples <= 0 {
		c.maxSamples = DefaultMaxSamplesPerRequest
	}
	if c.margin <= 0 {
		c.margin = DefaultDeadlineMargin
	}
	return c, nil
}

func newLister(cfg *config.Collect, now func() time.Time) *lister {
	return &lister{
		cache:       cloudwatch.NewDiscoveryCache(cfg.DiscoveryTTL.D(), now),
		tags:        tagging.NewCache(cfg.DiscoveryTTL.D(), now),
		concurrency: cfg.Concurrency,
	}
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
	DroppedSeries    int            `json:"dropped_series"`
	FailedUnits      int            `json:"failed_units"`
	// NotFetched counts the queries left when the run stopped starting
	// CloudWatch calls before its deadline; the next run fetches them first.
	NotFetched int `json:"not_fetched"`
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
// failed target or unit and returns every failure joined, so that Lambda's
// retry (which redoes only what is not stored) and its on-failure
// destination see it. A scheduled time more than MaxFutureSkew ahead of the
// clock is refused before anything is read or written.
func (c *Collector) Run(ctx context.Context, at time.Time, jobs []config.Job) (Summary, error) {
	at = at.UTC()
	sum := Summary{ScheduledTime: at}
	if now := c.now(); at.After(now.Add(MaxFutureSkew)) {
		return sum, fmt.Errorf("scheduled time %s is %s ahead of the clock (%s): refused, since progress written at a future time would hold back every run until the clock caught up",
			at.Format(time.RFC3339), at.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339))
	}
	r := &run{at: at, sum: &sum}
	if dl, ok := ctx.Deadline(); ok {
		// Keep the margin, or a quarter of the time left if that is less
		// (a short CLI or test deadline).
		r.stopAt = dl.Add(-min(c.margin, dl.Sub(c.now())/4))
	}
	var errs []error
	for i := range jobs {
		job := &jobs[i]
		sum.Jobs = append(sum.Jobs, job.Name)
		if err := c.runJob(ctx, r, job); err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", job.Name, err))
		}
	}
	sum.CostUSD = float64(sum.MetricsRequested) * USDPerMetricRequested
	return sum, errors.Join(errs...)
}

// run is one Run's scheduled time, stop time and summary.
type run struct {
	at time.Time
	// stopAt: no CloudWatch call starts after it (zero: no deadline).
	stopAt time.Time
	sum    *Summary
}

// jobStats is what one job asked of AWS in this run.
type jobStats struct {
	listCalls, dataCalls, metricsRequested int
	// tagCalls, restCalls and aliasCalls: GetResources, GetRestApis and
	// ListAccountAliases.
	tagCalls, restCalls, aliasCalls int
	// storeQueries: PromQL queries for which series of a changed unit are
	// new (markFresh); reading progress is one more per job and run.
	storeQueries int
}

func (c *Collector) runJob(ctx context.Context, r *run, job *config.Job) error {
	at, sum := r.at, r.sum
	var stats jobStats
	progress, queries, err := c.readProgress(ctx, at, job.Name)
	stats.storeQueries += queries
	if err != nil {
		sum.addCalls(StoreQueryOperation, queries)
		return err
	}
	var errs []error
	var health []remotewrite.Series
	didWork := false
	for _, acct := range job.Accounts() {
		for _, region := range job.Regions {
			sum.Targets++
			th, worked, err := c.runTarget(ctx, r, job, acct, region, progress, &stats)
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
	sum.addCalls("GetRestApis", stats.restCalls)
	sum.addCalls("ListAccountAliases", stats.aliasCalls)
	sum.addCalls("GetMetricData", stats.dataCalls)
	sum.addCalls(StoreQueryOperation, stats.storeQueries)
	sum.MetricsRequested += stats.metricsRequested
	if len(errs) == 0 && didWork {
		health = append(health, c.jobHealth(at, job, stats)...)
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
