package collector_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// flakyCW is an in-process CloudWatch whose every instance has one
// datapoint a minute, value a function of instance and time, and whose
// queries for the instances in down fail (status InternalError): what a run
// that never reaches some units looks like to the units that are left.
type flakyCW struct {
	ids  []string
	mu   sync.Mutex
	down map[string]bool
}

func cpuValue(id string, ts time.Time) float64 {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "i-"))
	return float64(ts.Unix()%7919)/3 + float64(n)
}

func (f *flakyCW) ListMetrics(_ context.Context, in *awscw.ListMetricsInput, _ ...func(*awscw.Options)) (*awscw.ListMetricsOutput, error) {
	out := &awscw.ListMetricsOutput{}
	for _, id := range f.ids {
		out.Metrics = append(out.Metrics, cwtypes.Metric{Namespace: in.Namespace, MetricName: in.MetricName,
			Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(id)}}})
	}
	return out, nil
}

func (f *flakyCW) GetMetricData(_ context.Context, in *awscw.GetMetricDataInput, _ ...func(*awscw.Options)) (*awscw.GetMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &awscw.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries {
		id := aws.ToString(q.MetricStat.Metric.Dimensions[0].Value)
		r := cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeComplete}
		if f.down[id] {
			r.StatusCode = cwtypes.StatusCodeInternalError
		} else {
			for ts := aws.ToTime(in.StartTime); ts.Before(aws.ToTime(in.EndTime)); ts = ts.Add(time.Minute) {
				r.Timestamps = append(r.Timestamps, ts)
				r.Values = append(r.Values, cpuValue(id, ts))
			}
		}
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	return out, nil
}

type flakyConnector struct{ api *flakyCW }

func (c flakyConnector) Connect(_ context.Context, region, _, _ string) (collector.Target, error) {
	return collector.Target{API: c.api, Region: region, AccountID: "123456789012", CacheKey: "flaky"}, nil
}

// TestNeverCoveredCountedAsSkipped: units that a first run never writes
// (their calls fail, or the run's time runs out) used to have no progress,
// so every later run treated them as a first run: the time they never
// covered was lost and skipped_seconds stayed 0. A baseline recorded before
// anything is fetched makes them catch up, and what lies beyond
// max_catch_up is counted.
func TestNeverCoveredCountedAsSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var ids []string
	for i := range 8 {
		ids = append(ids, fmt.Sprintf("i-%d", i))
	}
	api := &flakyCW{ids: ids, down: map[string]bool{"i-3": true, "i-6": true}}
	cfg, err := config.LoadCollect([]byte(`
max_catch_up: 45m
progress_shards: 8
jobs:
  - name: fleet
    regions: [us-east-1]
    namespace: AWS/EC2
    dimensions: [InstanceId]
    metrics:
      - {name: CPUUtilization, statistics: [Average]}
`))
	require.NoError(t, err)
	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, q := storeClients(t, r)
	c, err := collector.New(collector.Options{Config: cfg, Connector: flakyConnector{api}, Writer: w, Progress: q})
	require.NoError(t, err)
	A := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	// Twelve runs, an hour: two instances' queries fail every time.
	for k := range 12 {
		_, err := c.Run(ctx, A.Add(15*time.Minute+time.Duration(k)*5*time.Minute), cfg.Jobs)
		require.Error(t, err)
	}
	api.mu.Lock()
	api.down = nil
	api.mu.Unlock()
	at := A.Add(75 * time.Minute) // covers up to A+65m
	sum, err := c.Run(ctx, at, cfg.Jobs)
	require.NoError(t, err)
	// The failing instances' units were to be covered from A (the first
	// run's window); max_catch_up keeps [A+20m, A+65m) and gives up 20m.
	require.InDelta(t, (20 * time.Minute).Seconds(), sum.SkippedSeconds, 0)
	got, err := q.Query(ctx, collector.SkippedMetric, at)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.InDelta(t, (20 * time.Minute).Seconds(), got[0].V, 0, "skipped_seconds counts the time never covered")

	stored, err := q.QuerySeries(ctx, `aws_ec2_cpuutilization_average[3h]`, at)
	require.NoError(t, err)
	require.Len(t, stored, 8)
	for _, s := range stored {
		id := s.Labels["dimension_InstanceId"]
		from := A
		if id == "i-3" || id == "i-6" {
			from = A.Add(20 * time.Minute)
		}
		want := map[int64]float64{}
		for ts := from; ts.Before(A.Add(65 * time.Minute)); ts = ts.Add(time.Minute) {
			want[ts.UnixMilli()] = cpuValue(id, ts)
		}
		gotPts := map[int64]float64{}
		for _, p := range s.Points {
			_, dup := gotPts[p.T.UnixMilli()]
			require.False(t, dup)
			gotPts[p.T.UnixMilli()] = p.V
		}
		require.Equal(t, want, gotPts, "instance %s", id)
	}
}
