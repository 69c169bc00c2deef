package collector_test

import (
	"context"
	"fmt"
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
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestNilToZeroDelivery: nil_to_zero (YACE's nilToZero) end to end, against
// moto and each kind of receiver. A series with datapoints on even minutes
// only gets a 0 for each odd minute, and a listed series with no datapoint
// in the window gets a 0 for each of its periods; each (series, period) is
// stored exactly once across two runs and a retry of the first (the zeros
// are covered by progress like CloudWatch's values, so the retry writes
// nothing a stock Prometheus would refuse and nothing VictoriaMetrics
// would keep twice).
func TestNilToZeroDelivery(t *testing.T) {
	t.Parallel()
	everyReceiver(t, runNilToZero)
}

func runNilToZero(t *testing.T, kind string, r *testenv.Receiver) {
	ctx := context.Background()
	uid := shortID(testenv.UniqueName(t.Name()), 10)
	metric := "Nz" + uid // its own name: moto ignores the namespace of a query with dimensions
	anchor := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	sparse, idle := "i-sparse-"+uid, "i-idle-"+uid
	var data []cwtypes.MetricDatum
	put := func(id string, ts time.Time, v float64) {
		data = append(data, cwtypes.MetricDatum{
			MetricName: aws.String(metric), Timestamp: aws.Time(ts), Value: aws.Float64(v),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(id)}},
		})
	}
	for ts := anchor.Add(-30 * time.Minute); ts.Before(anchor.Add(30 * time.Minute)); ts = ts.Add(2 * time.Minute) {
		put(sparse, ts, float64(ts.Minute()+1))
	}
	// Listed (it has a datapoint), but none in the windows collected.
	put(idle, anchor.Add(-20*time.Minute), 7)
	_, err = awsconf.CloudWatch(awsCfg).PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String("AWS/EC2"), MetricData: data})
	require.NoError(t, err)

	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
receiver: {kind: %s}
progress_shards: 2
discovery_ttl: 0s
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: nz-%s
    regions: [us-east-1]
    namespace: AWS/EC2
    dimensions: [InstanceId]
    nil_to_zero: true
    metrics: [{name: %s, statistics: [Maximum]}]
`, kind, uid, metric))
	require.NoError(t, err)
	job := cfg.Jobs[0].Name
	w, q := storeClients(t, r)
	c, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q})
	require.NoError(t, err)
	run := func(at time.Time) collector.Summary {
		t.Helper()
		sum, err := c.Run(ctx, at, cfg.Jobs)
		require.NoError(t, err)
		require.NoError(t, r.Flush(ctx))
		return sum
	}
	t1, t2 := anchor.Add(15*time.Minute), anchor.Add(20*time.Minute)
	first := run(t1)
	require.Equal(t, 2, first.Series)
	require.Equal(t, 2*5, first.Samples, "every period of the window, for both series")
	retry := run(t1)
	require.Zero(t, retry.Samples, "a retry of T writes no zero a second time")
	require.Zero(t, retry.Requests)
	second := run(t2)
	require.Equal(t, 2*5, second.Samples)

	// [t1-15m, t2-10m) = [anchor, anchor+10m), each minute once.
	end := anchor.Add(20 * time.Minute)
	name := naming.MetricName("AWS/EC2", metric, "Maximum")
	got, err := q.QuerySeries(ctx, fmt.Sprintf(`{__name__=%q,job=%q}[2h]`, name, job), end)
	require.NoError(t, err)
	require.Len(t, got, 2)
	for _, s := range got {
		id := s.Labels["dimension_InstanceId"]
		var have, want []string
		for _, p := range s.Points {
			have = append(have, fmt.Sprintf("%s=%g", p.T.Sub(anchor), p.V))
		}
		for ts := anchor; ts.Before(anchor.Add(10 * time.Minute)); ts = ts.Add(time.Minute) {
			v := 0.0
			if id == sparse && ts.Minute()%2 == 0 {
				v = float64(ts.Minute() + 1)
			}
			want = append(want, fmt.Sprintf("%s=%g", ts.Sub(anchor), v))
		}
		require.Equal(t, want, have, "%s: CloudWatch's values, a 0 for each empty period, each once", id)
	}
	if kind == config.ReceiverVictoriaMetrics {
		n, err := q.Query(ctx, fmt.Sprintf(`sum(count_over_time({__name__=%q,job=%q}[2h]))`, name, job), end)
		require.NoError(t, err)
		require.Len(t, n, 1)
		require.InDelta(t, 2*10, n[0].V, 0, "VictoriaMetrics stored no zero twice")
	}
}
