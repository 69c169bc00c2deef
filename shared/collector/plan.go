package collector

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// monthly is the month the cost preview bills: 30 days.
const monthly = 30 * 24 * time.Hour

// Plan is the cost preview of the configured jobs: what one steady-state run
// requests and what a month of runs at the schedule's interval costs.
type Plan struct {
	Interval time.Duration
	Jobs     []JobPlan
}

// JobPlan is one job's share of the plan.
type JobPlan struct {
	Job                string
	Targets            int
	Metrics            int // CloudWatch metrics (dimension sets × names)
	Series             int // metrics × statistics: one query each
	ListMetricsCalls   int // per run when the discovery cache is cold
	GetResourcesCalls  int // service jobs: per run when the discovery cache is cold
	GetMetricDataCalls int // per steady-state run
	MetricsPerMonth    float64
	CostPerMonthUSD    float64
}

// MakePlan discovers the jobs' metrics (ListMetrics only, which is free) and
// counts what a steady-state run requests. Nothing is fetched or written.
func MakePlan(ctx context.Context, cfg *config.Collect, jobs []config.Job, conn Connector) (Plan, error) {
	p := Plan{Interval: cfg.Interval.D()}
	runs := float64(monthly) / float64(max(cfg.Interval.D(), time.Minute))
	c := &Collector{cfg: cfg, conn: conn, cache: cloudwatch.NewDiscoveryCache(0, time.Now), tagCache: tagging.NewCache(0, time.Now)}
	for i := range jobs {
		job := &jobs[i]
		jp := JobPlan{Job: job.Name}
		for _, acct := range job.Accounts() {
			for _, region := range job.Regions {
				target, err := conn.Connect(ctx, region, acct.RoleARN, acct.ExternalID)
				if err != nil {
					return Plan{}, fmt.Errorf("job %s region %s: %w", job.Name, region, err)
				}
				var stats jobStats
				metrics, _, err := c.metrics(ctx, target, job, region, &stats)
				if err != nil {
					return Plan{}, fmt.Errorf("job %s region %s: %w", job.Name, region, err)
				}
				jp.Targets++
				jp.ListMetricsCalls += stats.listCalls
				jp.GetResourcesCalls += stats.tagCalls
				jp.Metrics += len(metrics)
				// Queries that share a window share calls; in a steady state the
				// window depends only on a metric's period and delay.
				type window struct{ period, delay time.Duration }
				perWindow := map[window]int{}
				for _, m := range metrics {
					n := len(m.cfg.Statistics)
					jp.Series += n
					perWindow[window{m.cfg.Period.D(), m.cfg.Delay.D()}] += n
				}
				for _, n := range perWindow {
					jp.GetMetricDataCalls += (n + cloudwatch.MaxQueriesPerCall - 1) / cloudwatch.MaxQueriesPerCall
				}
			}
		}
		jp.MetricsPerMonth = float64(jp.Series) * runs
		jp.CostPerMonthUSD = jp.MetricsPerMonth * USDPerMetricRequested
		p.Jobs = append(p.Jobs, jp)
	}
	return p, nil
}

// Print writes the plan as a table with a total line.
func (p Plan) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "job\ttargets\tmetrics\tseries\tListMetrics/run\tGetResources/run\tGetMetricData/run\tmetrics requested/month\tUSD/month\t\n")
	var total JobPlan
	for _, j := range p.Jobs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t\n", j.Job, j.Targets, j.Metrics, j.Series, j.ListMetricsCalls, j.GetResourcesCalls, j.GetMetricDataCalls, j.MetricsPerMonth, j.CostPerMonthUSD)
		total.Targets += j.Targets
		total.Metrics += j.Metrics
		total.Series += j.Series
		total.ListMetricsCalls += j.ListMetricsCalls
		total.GetResourcesCalls += j.GetResourcesCalls
		total.GetMetricDataCalls += j.GetMetricDataCalls
		total.MetricsPerMonth += j.MetricsPerMonth
		total.CostPerMonthUSD += j.CostPerMonthUSD
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t\n", total.Targets, total.Metrics, total.Series, total.ListMetricsCalls, total.GetResourcesCalls, total.GetMetricDataCalls, total.MetricsPerMonth, total.CostPerMonthUSD)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "schedule every %s; GetMetricData costs $0.01 per 1,000 metrics requested; ListMetrics and GetResources are free and cached between warm runs.\n", config.Duration(p.Interval))
	return err
}
