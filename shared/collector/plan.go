package collector

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
)

// monthly is the month the cost preview bills: 30 days.
const monthly = 30 * 24 * time.Hour

// Plan is the cost preview of the configured jobs: what steady-state runs
// request and what a month of runs at the schedule's interval costs.
type Plan struct {
	Interval time.Duration
	Jobs     []JobPlan
}

// JobPlan is one job's share of the plan.
type JobPlan struct {
	Job     string
	Targets int
	Metrics int // CloudWatch metrics (dimension sets × names)
	Series  int // metrics × statistics: one query each
	// ListMetricsCalls is per run when the discovery cache is cold.
	ListMetricsCalls int
	// GetResourcesCalls is per run of a service job when the cache is cold.
	GetResourcesCalls int
	// GetRestApisCalls is per run of an API Gateway job when the cache is
	// cold: the REST APIs' names, which their metrics carry (not their IDs).
	GetRestApisCalls int
	// GetMetricDataCalls is per run in which every timing group is due
	// (an hourly metric is fetched once an hour, not every run).
	GetMetricDataCalls int
	// StoreQueries is per run: the job's progress and series digests, one
	// PromQL query.
	StoreQueries int
	// ChangedSetQueries is the most a run adds to StoreQueries when its
	// listing shows series that came or went since their units were
	// written: per target and metrics entry of a discovery or service job,
	// one per maxCheckPerQuery listed series (a static job's series come
	// from its config).
	ChangedSetQueries int
	MetricsPerMonth   float64
	CostPerMonthUSD   float64
}

// MakePlan discovers the jobs' metrics (ListMetrics only, which is free)
// through the same lister a run uses, and counts what steady-state runs
// request. Nothing is fetched or written.
func MakePlan(ctx context.Context, cfg *config.Collect, jobs []config.Job, conn Connector) (Plan, error) {
	p := Plan{Interval: cfg.Interval.D()}
	interval := max(cfg.Interval.D(), time.Minute)
	l := newLister(cfg, time.Now)
	for i := range jobs {
		job := &jobs[i]
		jp := JobPlan{Job: job.Name, StoreQueries: 1}
		for _, acct := range job.Accounts() {
			for _, region := range job.Regions {
				if err := previewTarget(ctx, l, conn, job, acct, region, interval, &jp); err != nil {
					return Plan{}, fmt.Errorf("job %s region %s: %w", job.Name, region, err)
				}
			}
		}
		jp.CostPerMonthUSD = jp.MetricsPerMonth * USDPerMetricRequested
		p.Jobs = append(p.Jobs, jp)
	}
	return p, nil
}

// previewTarget adds what one target of job requests to jp.
func previewTarget(ctx context.Context, l *lister, conn Connector, job *config.Job, acct config.Role, region string, interval time.Duration, jp *JobPlan) error {
	target, err := conn.Connect(ctx, region, acct.RoleARN, acct.ExternalID)
	if err != nil {
		return err
	}
	if target.Region == "" {
		target.Region = region
	}
	lst, err := l.list(ctx, target, job)
	if err != nil {
		return err
	}
	jp.Targets++
	jp.ListMetricsCalls += lst.listCalls
	jp.GetResourcesCalls += lst.tagCalls
	jp.GetRestApisCalls += lst.restCalls
	jp.Metrics += len(lst.metrics)
	if job.Static == nil {
		perCfg := make([]int, len(job.Metrics))
		for _, m := range lst.metrics {
			perCfg[m.cfg]++
		}
		for _, n := range perCfg {
			jp.ChangedSetQueries += checkQueries(n)
		}
	}
	// Queries that share a window share calls; in a steady state a window
	// depends only on a metric's period and delay, and a group is due once
	// per period when its period is longer than the interval.
	type group struct{ period, delay time.Duration }
	perGroup := map[group]int{}
	for _, m := range lst.metrics {
		mc := &job.Metrics[m.cfg]
		n := len(mc.Statistics)
		jp.Series += n
		perGroup[group{mc.Period.D(), mc.Delay.D()}] += n
	}
	for g, n := range perGroup {
		jp.GetMetricDataCalls += (n + cloudwatch.MaxQueriesPerCall - 1) / cloudwatch.MaxQueriesPerCall
		runs := float64(monthly) / float64(max(interval, g.period))
		jp.MetricsPerMonth += float64(n) * runs
	}
	return nil
}

// Print writes the plan as a table with a total line.
func (p Plan) Print(w io.Writer) error {
	// The rows are built in memory and written once, so one error check
	// covers the table.
	var rows strings.Builder
	fmt.Fprintf(&rows, "job\ttargets\tmetrics\tseries\tListMetrics/run\tGetResources/run\tGetRestApis/run\tGetMetricData/run\tPromQL/run\tPromQL/changed set\tmetrics requested/month\tUSD/month\t\n")
	var total JobPlan
	for _, j := range p.Jobs {
		fmt.Fprintf(&rows, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t\n", j.Job, j.Targets, j.Metrics, j.Series, j.ListMetricsCalls, j.GetResourcesCalls, j.GetRestApisCalls, j.GetMetricDataCalls, j.StoreQueries, j.ChangedSetQueries, j.MetricsPerMonth, j.CostPerMonthUSD)
		total.Targets += j.Targets
		total.Metrics += j.Metrics
		total.Series += j.Series
		total.ListMetricsCalls += j.ListMetricsCalls
		total.GetResourcesCalls += j.GetResourcesCalls
		total.GetRestApisCalls += j.GetRestApisCalls
		total.GetMetricDataCalls += j.GetMetricDataCalls
		total.StoreQueries += j.StoreQueries
		total.ChangedSetQueries += j.ChangedSetQueries
		total.MetricsPerMonth += j.MetricsPerMonth
		total.CostPerMonthUSD += j.CostPerMonthUSD
	}
	fmt.Fprintf(&rows, "total\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t\n", total.Targets, total.Metrics, total.Series, total.ListMetricsCalls, total.GetResourcesCalls, total.GetRestApisCalls, total.GetMetricDataCalls, total.StoreQueries, total.ChangedSetQueries, total.MetricsPerMonth, total.CostPerMonthUSD)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if _, err := io.WriteString(tw, rows.String()); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "schedule every %s; GetMetricData costs $0.01 per 1,000 metrics requested; a metric whose period is longer than the schedule is requested once per period; ListMetrics, GetResources and GetRestApis are free and cached between warm runs (a run lists again when another process wrote a unit with series its cached listing lacks); PromQL queries go to the store (AMP bills the samples they read): one a job and run for progress, and after a listing in which series came or went at most one per %d series of each target and metrics entry to find the new ones.\n", config.Duration(p.Interval), maxCheckPerQuery)
	return err
}
