package collector_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestUpgradeFromScheduledTimeProgress: the release before progress by
// data time kept, per (job, region, account, shard), the scheduled time of
// the last run whose data was stored (sigmawatch_collect_progress_timestamp_seconds,
// no deployment label). After an upgrade, the first run must continue from
// there: two runs missed during the upgrade are caught up, not lost (the
// new release started over with a first run's window: 10 minutes gone,
// skipped_seconds 0), and an hourly metric's hour that the old release
// stored is not fetched again (VictoriaMetrics kept it twice).
func TestUpgradeFromScheduledTimeProgress(t *testing.T) {
	t.Parallel()
	receivers := []struct {
		name   string
		kind   string
		hourly bool // a stock Prometheus refuses an hour-old sample: VictoriaMetrics only
		start  func(t *testing.T) *testenv.Receiver
	}{
		{"prometheus", config.ReceiverPrometheus, false, func(t *testing.T) *testenv.Receiver {
			return testenv.StartPrometheus(t, testenv.PrometheusOptions{})
		}},
		{"victoriametrics", config.ReceiverVictoriaMetrics, true, func(t *testing.T) *testenv.Receiver { return testenv.StartVictoriaMetrics(t) }},
	}
	for _, rc := range receivers {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			runUpgrade(t, rc.kind, rc.hourly, rc.start(t))
		})
	}
}

func runUpgrade(t *testing.T, kind string, hourly bool, r *testenv.Receiver) {
	ctx := context.Background()
	u := testenv.UniqueName(t.Name())
	uid := strings.ReplaceAll(u, "-", "")
	uid = uid[max(0, len(uid)-10):]
	minutely, hourlyName := "Up"+uid, "UpH"+uid // own names: moto ignores the namespace of a query with dimensions
	anchor := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	id := "i-" + uid
	dims := []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(id)}}
	var data []cwtypes.MetricDatum
	for ts := anchor.Add(-30 * time.Minute); ts.Before(anchor.Add(60 * time.Minute)); ts = ts.Add(time.Minute) {
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String(minutely), Dimensions: dims, Timestamp: aws.Time(ts), Value: aws.Float64(float64(ts.Minute()))})
	}
	for h := -2; h <= 0; h++ {
		ts := anchor.Add(time.Duration(h) * time.Hour)
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String(hourlyName), Dimensions: dims, Timestamp: aws.Time(ts), Value: aws.Float64(float64(100 + h))})
	}
	_, err = awsconf.CloudWatch(awsCfg).PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String("AWS/EC2"), MetricData: data})
	require.NoError(t, err)

	metrics := fmt.Sprintf("[{name: %s, statistics: [Maximum]}]", minutely)
	if hourly {
		metrics = fmt.Sprintf("[{name: %s, statistics: [Maximum]}, {name: %s, statistics: [Maximum], period: 1h, length: 1h}]", minutely, hourlyName)
	}
	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
receiver: {kind: %s}
discovery_ttl: 0s
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: up-%s
    regions: [us-east-1]
    namespace: AWS/EC2
    dimensions: [InstanceId]
    metrics: %s
`, kind, uid, metrics))
	require.NoError(t, err)
	job := cfg.Jobs[0].Name
	w, q := storeClients(t, r)
	run := func(c *collector.Collector, at time.Time) collector.Summary {
		t.Helper()
		sum, err := c.Run(ctx, at, cfg.Jobs)
		require.NoError(t, err)
		require.NoError(t, r.Flush(ctx))
		return sum
	}

	// What the old release stored: its data (the same series: data carries
	// no deployment label), here written by runs whose own progress the new
	// deployment does not read, and its progress series as it wrote it —
	// every shard covered by the run at tPrev.
	tPrev := anchor.Add(20 * time.Minute)
	old, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q, Deployment: "old-" + uid})
	require.NoError(t, err)
	run(old, tPrev.Add(-5*time.Minute))
	run(old, tPrev)
	stored, err := q.QuerySeries(ctx, fmt.Sprintf(`{__name__=%q,job=%q}[3h]`, naming.MetricName("AWS/EC2", minutely, "Maximum"), job), tPrev)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	account := stored[0].Labels["account_id"]
	var legacy []remotewrite.Series
	for s := range config.DefaultShards {
		legacy = append(legacy, remotewrite.Series{
			Labels: []remotewrite.Label{
				{Name: "__name__", Value: "sigmawatch_collect_progress_timestamp_seconds"}, {Name: "account_id", Value: account},
				{Name: "job", Value: job}, {Name: "region", Value: "us-east-1"},
				{Name: "shard", Value: strconv.Itoa(s)}, {Name: "shards", Value: strconv.Itoa(config.DefaultShards)},
			},
			Samples: []remotewrite.Sample{{T: tPrev.UnixMilli(), V: float64(tPrev.Unix())}},
		})
	}
	require.NoError(t, w.Write(ctx, legacy))
	require.NoError(t, r.Flush(ctx))

	// The upgraded release's first run comes two runs late.
	upgraded, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q, Deployment: "new-" + uid})
	require.NoError(t, err)
	at := tPrev.Add(15 * time.Minute)
	sum := run(upgraded, at)
	require.Zero(t, sum.SkippedSeconds, "nothing given up")
	require.Zero(t, run(upgraded, at).Samples, "a retry of the first run writes nothing")

	// The 1-minute metric: [tPrev-20m, at-10m), each minute once.
	got, err := q.QuerySeries(ctx, fmt.Sprintf(`{__name__=%q,job=%q}[3h]`, naming.MetricName("AWS/EC2", minutely, "Maximum"), job), at)
	require.NoError(t, err)
	require.Len(t, got, 1)
	var have, want []string
	for _, p := range got[0].Points {
		have = append(have, fmt.Sprintf("%s=%g", p.T.Sub(anchor), p.V))
	}
	for ts := tPrev.Add(-20 * time.Minute); ts.Before(at.Add(-10 * time.Minute)); ts = ts.Add(time.Minute) {
		want = append(want, fmt.Sprintf("%s=%g", ts.Sub(anchor), float64(ts.Minute())))
	}
	require.Equal(t, want, have, "every minute once: none lost across the upgrade")
	if kind != config.ReceiverVictoriaMetrics {
		return
	}
	n, err := q.Query(ctx, fmt.Sprintf(`count_over_time({__name__=%q,job=%q}[3h])`, naming.MetricName("AWS/EC2", minutely, "Maximum"), job), at)
	require.NoError(t, err)
	require.Len(t, n, 1)
	require.InDelta(t, float64(len(want)), n[0].V, 0, "VictoriaMetrics stored no minute twice")
	if !hourly {
		return
	}
	// The hour [anchor-1h, anchor) was stored by the old release; the
	// upgraded one's first run must not fetch it again.
	n, err = q.Query(ctx, fmt.Sprintf(`count_over_time({__name__=%q,job=%q}[3h])`, naming.MetricName("AWS/EC2", hourlyName, "Maximum"), job), at)
	require.NoError(t, err)
	require.Len(t, n, 1)
	require.InDelta(t, 1, n[0].V, 0, "the hour stored once")
}
