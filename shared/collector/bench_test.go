package collector_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// fleet fakes CloudWatch in process: n EC2 instances with one metric each,
// every query answered with one point per period of its window.
type fleet struct {
	n         int
	dataCalls atomic.Int64
	listCalls atomic.Int64
}

func (f *fleet) ListMetrics(_ context.Context, in *awscw.ListMetricsInput, _ ...func(*awscw.Options)) (*awscw.ListMetricsOutput, error) {
	f.listCalls.Add(1)
	start, _ := strconv.Atoi(aws.ToString(in.NextToken))
	out := &awscw.ListMetricsOutput{}
	for i := start; i < min(start+500, f.n); i++ {
		out.Metrics = append(out.Metrics, cwtypes.Metric{
			Namespace: in.Namespace, MetricName: in.MetricName,
			Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(fmt.Sprintf("i-%017x", i))}},
		})
	}
	if start+500 < f.n {
		out.NextToken = aws.String(strconv.Itoa(start + 500))
	}
	return out, nil
}

func (f *fleet) GetMetricData(_ context.Context, in *awscw.GetMetricDataInput, _ ...func(*awscw.Options)) (*awscw.GetMetricDataOutput, error) {
	f.dataCalls.Add(1)
	if len(in.MetricDataQueries) > cloudwatch.MaxQueriesPerCall {
		return nil, fmt.Errorf("%d queries: over the limit", len(in.MetricDataQueries))
	}
	out := &awscw.GetMetricDataOutput{MetricDataResults: make([]cwtypes.MetricDataResult, 0, len(in.MetricDataQueries))}
	for qi, q := range in.MetricDataQueries {
		var ts []time.Time
		var vs []float64
		step := time.Duration(aws.ToInt32(q.MetricStat.Period)) * time.Second
		for t := aws.ToTime(in.StartTime); t.Before(aws.ToTime(in.EndTime)); t = t.Add(step) {
			ts = append(ts, t)
			vs = append(vs, float64(qi)+0.25)
		}
		out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id, Timestamps: ts, Values: vs, StatusCode: cwtypes.StatusCodeComplete})
	}
	return out, nil
}

type fleetConnector struct{ api *fleet }

func (c fleetConnector) Connect(context.Context, string, string, string) (collector.Target, error) {
	return collector.Target{API: c.api, AccountID: "123456789012", CacheKey: "bench"}, nil
}

// encodingWriter encodes each request as the real client would, then drops it.
type encodingWriter struct {
	mu       sync.Mutex
	buf      []byte
	requests int
	samples  int
	maxBytes int
}

func (w *encodingWriter) Write(_ context.Context, series []remotewrite.Series) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	w.buf, err = remotewrite.Encode(w.buf[:0], series)
	if err != nil {
		return err
	}
	w.requests++
	w.maxBytes = max(w.maxBytes, len(w.buf))
	for _, s := range series {
		w.samples += len(s.Samples)
	}
	return nil
}

func fleetConfig(tb testing.TB) *config.Collect {
	cfg, err := config.LoadCollect([]byte(`
interval: 5m
progress_shards: 64
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: ec2
    regions: [us-east-1]
    namespace: AWS/EC2
    dimensions: [InstanceId]
    metrics:
      - {name: CPUUtilization, statistics: [Average]}
`))
	require.NoError(tb, err)
	return cfg
}

// TestAPICallsPerRun: a run over n series makes ceil(n/500) GetMetricData
// calls and ceil(n/500) ListMetrics pages cold, none warm.
func TestAPICallsPerRun(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 499, 500, 501, 12345} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			api := &fleet{n: n}
			w := &encodingWriter{}
			c, err := collector.New(collector.Options{Config: fleetConfig(t), Connector: fleetConnector{api}, Writer: w})
			require.NoError(t, err)
			at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			cfg := fleetConfig(t)
			sum, err := c.Run(context.Background(), at, cfg.Jobs)
			require.NoError(t, err)
			want := (n + 499) / 500
			require.Equal(t, want, int(api.dataCalls.Load()), "GetMetricData calls = ceil(queries/500)")
			require.Equal(t, want, sum.APICalls["GetMetricData"])
			require.Equal(t, want, int(api.listCalls.Load()))
			require.Equal(t, n*5, sum.Samples)
			require.InDelta(t, float64(n)*0.01/1000, sum.CostUSD, 1e-12)
			// Warm: the discovery cache answers.
			_, err = c.Run(context.Background(), at.Add(5*time.Minute), cfg.Jobs)
			require.NoError(t, err)
			require.Equal(t, want, int(api.listCalls.Load()), "a warm run makes no ListMetrics call")
		})
	}
}

// BenchmarkRun100k is one cold run over 100,000 series × 5 datapoints with
// CloudWatch faked in process and every request encoded (snappy + protobuf)
// as the real sender would. peak-heap-MB is the highest heap (live and not
// yet collected garbage) seen during the run; the memlimit variant runs with
// the soft memory limit the template sets (GOMEMLIMIT), as in Lambda.
func BenchmarkRun100k(b *testing.B) {
	b.Run("default-gc", benchRun100k)
	b.Run("gomemlimit-48MiB", func(b *testing.B) {
		old := debug.SetMemoryLimit(48 << 20)
		defer debug.SetMemoryLimit(old)
		benchRun100k(b)
	})
}

func benchRun100k(b *testing.B) {
	const n = 100_000
	cfg := fleetConfig(b)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var peak uint64
	for b.Loop() {
		api := &fleet{n: n}
		w := &encodingWriter{}
		c, err := collector.New(collector.Options{Config: cfg, Connector: fleetConnector{api}, Writer: w})
		require.NoError(b, err)
		runtime.GC()
		stop := sampleHeap(&peak)
		sum, err := c.Run(context.Background(), at, cfg.Jobs)
		stop()
		require.NoError(b, err)
		require.Equal(b, n*5, sum.Samples)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(n*5), "samples/op")
}

// sampleHeap records the peak of live heap bytes until stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
