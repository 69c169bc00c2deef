package collector

import (
	"time"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// Series names the collector writes about itself besides its progress.
// They are gauges stamped at T (never counters: a cold start would reset
// them), and all carry config.DeploymentLabel.
const (
	LastSuccessMetric      = "sigmawatch_collect_last_success_timestamp_seconds"
	SamplesMetric          = "sigmawatch_collect_samples"
	SeriesMetric           = "sigmawatch_collect_series"
	SkippedMetric          = "sigmawatch_collect_skipped_seconds"
	DroppedMetric          = "sigmawatch_collect_dropped_series"
	APICallsMetric         = "sigmawatch_collect_api_calls"
	MetricsRequestedMetric = "sigmawatch_collect_metrics_requested"
	CostMetric             = "sigmawatch_collect_cost_usd"
)

// StoreQueryOperation is the operation label of APICallsMetric (and the
// summary's api_calls key) that counts the PromQL queries a job made of the
// store: its progress, and which series of a unit whose series set changed
// are new. AMP bills queries by the samples they read.
const StoreQueryOperation = "PromQLQuery"

// targetHealth is the health of one collected target.
func (c *Collector) targetHealth(at time.Time, job string, tk targetKey, series, samples int, skipped time.Duration, dropped int) []remotewrite.Series {
	ts := at.UnixMilli()
	kv := []string{config.DeploymentLabel, c.deployment, "job", job, "region", tk.region, "account_id", tk.account}
	return []remotewrite.Series{
		gauge(LastSuccessMetric, ts, float64(at.Unix()), kv...),
		gauge(SamplesMetric, ts, float64(samples), kv...),
		gauge(SeriesMetric, ts, float64(series), kv...),
		gauge(SkippedMetric, ts, skipped.Seconds(), kv...),
		gauge(DroppedMetric, ts, float64(dropped), kv...),
	}
}

// jobHealth is what one job asked of AWS in this run, and what it costs.
// A service job also counts its GetResources calls (the Tagging API is
// free but rate-limited), and an API Gateway job its GetRestApis calls.
func (c *Collector) jobHealth(at time.Time, job *config.Job, stats jobStats) []remotewrite.Series {
	ts := at.UnixMilli()
	d := config.DeploymentLabel
	out := []remotewrite.Series{
		gauge(APICallsMetric, ts, float64(stats.listCalls), d, c.deployment, "job", job.Name, "operation", "ListMetrics"),
		gauge(APICallsMetric, ts, float64(stats.dataCalls), d, c.deployment, "job", job.Name, "operation", "GetMetricData"),
		gauge(APICallsMetric, ts, float64(stats.storeQueries), d, c.deployment, "job", job.Name, "operation", StoreQueryOperation),
		gauge(MetricsRequestedMetric, ts, float64(stats.metricsRequested), d, c.deployment, "job", job.Name),
		gauge(CostMetric, ts, float64(stats.metricsRequested)*USDPerMetricRequested, d, c.deployment, "job", job.Name),
	}
	if svc := job.Service(); svc != nil {
		out = append(out, gauge(APICallsMetric, ts, float64(stats.tagCalls), d, c.deployment, "job", job.Name, "operation", "GetResources"))
		if svc.NamesRestAPIs {
			out = append(out, gauge(APICallsMetric, ts, float64(stats.restCalls), d, c.deployment, "job", job.Name, "operation", "GetRestApis"))
		}
	}
	return out
}
