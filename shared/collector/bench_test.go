package collector_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// fleet fakes CloudWatch in process: n EC2 instances with one metric each,
// every query answered with one point per period of its window, each call
// after latency. Each answer allocates what the SDK's decoder would, and
// only for as long: a ListMetrics page its metrics and their strings, a
// GetMetricData answer per query a result with its own timestamps and
// values.
type fleet struct {
	n         int
	latency   time.Duration
	dataCalls atomic.Int64
	listCalls atomic.Int64
}

func newFleet(n int, latency time.Duration) *fleet { return &fleet{n: n, latency: latency} }

func (f *fleet) wait(ctx context.Context) error {
	if f.latency <= 0 {
		return nil
	}
	t := time.NewTimer(f.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fleet) ListMetrics(ctx context.Context, in *awscw.ListMetricsInput, _ ...func(*awscw.Options)) (*awscw.ListMetricsOutput, error) {
	f.listCalls.Add(1)
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	start, _ := strconv.Atoi(aws.ToString(in.NextToken))
	end := min(start+500, f.n)
	// A page as the decoder leaves it: one string per value.
	buf := make([]byte, 0, (end-start)*19)
	for i := start; i < end; i++ {
		hex := strconv.AppendUint(make([]byte, 0, 17), uint64(i), 16)
		buf = append(buf, "i-"...)
		buf = append(buf, "00000000000000000"[len(hex):]...)
		buf = append(buf, hex...)
	}
	all := string(buf)
	values := make([]string, end-start)
	dims := make([]cwtypes.Dimension, end-start)
	out := &awscw.ListMetricsOutput{Metrics: make([]cwtypes.Metric, end-start)}
	dimName := "InstanceId"
	for k := range values {
		values[k] = all[k*19 : (k+1)*19]
		dims[k] = cwtypes.Dimension{Name: &dimName, Value: &values[k]}
		out.Metrics[k] = cwtypes.Metric{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: dims[k : k+1 : k+1]}
	}
	if start+500 < f.n {
		out.NextToken = aws.String(strconv.Itoa(start + 500))
	}
	return out, nil
}

func (f *fleet) GetMetricData(ctx context.Context, in *awscw.GetMetricDataInput, _ ...func(*awscw.Options)) (*awscw.GetMetricDataOutput, error) {
	f.dataCalls.Add(1)
	if len(in.MetricDataQueries) > cloudwatch.MaxQueriesPerCall {
		return nil, fmt.Errorf("%d queries: over the limit", len(in.MetricDataQueries))
	}
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	start, end := aws.ToTime(in.StartTime), aws.ToTime(in.EndTime)
	out := &awscw.GetMetricDataOutput{MetricDataResults: make([]cwtypes.MetricDataResult, len(in.MetricDataQueries))}
	for qi, q := range in.MetricDataQueries {
		step := time.Duration(aws.ToInt32(q.MetricStat.Period)) * time.Second
		n := int(end.Sub(start) / step)
		ts := make([]time.Time, n)
		vs := make([]float64, n)
		for k := range n {
			ts[k] = start.Add(time.Duration(k) * step)
			vs[k] = float64(qi) + 0.25
		}
		out.MetricDataResults[qi] = cwtypes.MetricDataResult{Id: q.Id, Timestamps: ts, Values: vs, StatusCode: cwtypes.StatusCodeComplete}
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
			api := newFleet(n, 0)
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
// CloudWatch faked in process (no latency: CPU and memory only) and every
// request encoded (snappy + protobuf) as the real sender would. peak-heap-MB
// is the highest heap (live and not yet collected garbage) seen during the
// run; allocs/sample counts every allocation of the run, the fake's answers
// included. The memlimit variant runs with the soft memory limit the
// template sets (GOMEMLIMIT), as in Lambda.
func BenchmarkRun100k(b *testing.B) {
	limit := templateCollectMemLimit(b)
	b.Run("default-gc", benchRun100k)
	b.Run(fmt.Sprintf("template-gomemlimit-%dMiB", limit>>20), func(b *testing.B) {
		old := debug.SetMemoryLimit(limit)
		defer debug.SetMemoryLimit(old)
		benchRun100k(b)
	})
}

func benchRun100k(b *testing.B) {
	const n = 100_000
	cfg := fleetConfig(b)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	api := newFleet(n, 0)
	var peak, mallocs uint64
	var cpu time.Duration
	runs := 0
	for b.Loop() {
		w := &encodingWriter{}
		c, err := collector.New(collector.Options{Config: cfg, Connector: fleetConnector{api}, Writer: w})
		require.NoError(b, err)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		stop := sampleHeap(&peak)
		cpu0 := cpuTime()
		sum, err := c.Run(context.Background(), at, cfg.Jobs)
		cpu += cpuTime() - cpu0
		stop()
		runtime.ReadMemStats(&after)
		require.NoError(b, err)
		require.Equal(b, n*5, sum.Samples)
		mallocs += after.Mallocs - before.Mallocs
		runs++
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(mallocs)/float64(runs)/(n*5), "allocs/sample")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(runs), "cpu-ms/op")
}

// cpuTime is the process's user and system CPU time so far: on a shared
// machine a better measure of a run's work than its wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// TestRun100kFitsLambdaTimeout: a cold run over 100,000 series against a
// CloudWatch that answers every call — each ListMetrics page and each
// GetMetricData call — after 500 ms finishes inside the template's Lambda
// timeout, with the default concurrency. Time is virtual (testing/synctest):
// the run's duration is that of its calls, not of this machine's load.
func TestRun100kFitsLambdaTimeout(t *testing.T) {
	t.Parallel()
	timeout := templateCollectTimeout(t)
	synctest.Test(t, func(t *testing.T) {
		const n = 100_000
		cfg := fleetConfig(t)
		api := newFleet(n, 500*time.Millisecond)
		w := &encodingWriter{}
		c, err := collector.New(collector.Options{Config: cfg, Connector: fleetConnector{api}, Writer: w})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		at := start.UTC().Truncate(5 * time.Minute)
		sum, err := c.Run(ctx, at, cfg.Jobs)
		took := time.Since(start)
		require.NoError(t, err)
		require.Equal(t, n*5, sum.Samples)
		require.Less(t, took, timeout-collector.DefaultDeadlineMargin, "the run must not need the deadline margin")
		t.Logf("100k series, every call answered after 500 ms: %d ListMetrics pages (serial: one metric), %d GetMetricData calls (%d in flight): %s of the %s timeout",
			api.listCalls.Load(), api.dataCalls.Load(), cfg.Concurrency, took, timeout)
	})
}

// templateCollectTimeout reads the CollectFunction's Timeout from template.yaml.
func templateCollectTimeout(t testing.TB) time.Duration {
	return time.Duration(templateCollectValue(t, `Timeout: (\d+)\n`)) * time.Second
}

// templateCollectMemLimit reads the CollectFunction's GOMEMLIMIT (MiB).
func templateCollectMemLimit(t testing.TB) int64 {
	return int64(templateCollectValue(t, `GOMEMLIMIT: (\d+)MiB\n`)) << 20
}

// templateCollectValue is the number the pattern captures in the
// CollectFunction resource of template.yaml.
func templateCollectValue(t testing.TB, pattern string) int {
	t.Helper()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	require.NoError(t, err)
	block := regexp.MustCompile(`(?s)\n  CollectFunction:\n(.*?)\n  [A-Za-z]+:\n`).FindSubmatch(data)
	require.NotNil(t, block, "template.yaml: no CollectFunction")
	m := regexp.MustCompile(pattern).FindSubmatch(block[1])
	require.NotNil(t, m, "template.yaml: CollectFunction has no %s", pattern)
	v, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	return v
}

// BenchmarkColdRunChangedSet100k is BenchmarkRun100k's fleet in a process
// that starts cold while every unit's series set differs from the one
// stored with its progress (1,000 instances appeared; or the first run
// after the upgrade that added digests): the run asks the store which of
// the 100,000 series have samples, 2,000 at a time. The store is an HTTP
// server answering with Prometheus's JSON, rendered before the run, so the
// real PromQL client decodes it inside the measured run: 99,000 stored
// series, one label set each. Progress covers every unit until 5 minutes before the
// window's end, so each stored series is fetched for 5 minutes as in
// BenchmarkRun100k and each new one from the catch-up limit (45 minutes).
func BenchmarkColdRunChangedSet100k(b *testing.B) {
	limit := templateCollectMemLimit(b)
	b.Run("default-gc", benchColdChangedSet)
	b.Run(fmt.Sprintf("template-gomemlimit-%dMiB", limit>>20), func(b *testing.B) {
		old := debug.SetMemoryLimit(limit)
		defer debug.SetMemoryLimit(old)
		benchColdChangedSet(b)
	})
}

func benchColdChangedSet(b *testing.B) {
	const n, added = 100_000, 1_000
	cfg := fleetConfig(b)
	cfg.MaxCatchUp = config.Duration(45 * time.Minute)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	covered := at.Add(-15 * time.Minute) // the window ends at T − 10m
	api := newFleet(n, 0)
	// The fleet names instance i "i-" and 17 hex digits.
	id := func(i int) string { return fmt.Sprintf("i-%017x", i) }
	var progress strings.Builder
	progress.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
	for s := range 64 {
		if s > 0 {
			progress.WriteByte(',')
		}
		fmt.Fprintf(&progress, `{"metric":{"__name__":%q,"sigmawatch_deployment":"default","job":"ec2","region":"us-east-1","account_id":"123456789012","metric":"CPUUtilization","shards":"64","shard":"%d"},"value":[%d,"%d"]}`,
			collector.CoveredMetric, s, at.Unix(), covered.Unix())
	}
	progress.WriteString(`]}}`)
	// The store check asks about the listing (sorted by instance) in pieces
	// of maxCheckPerQuery: per piece, by its first instance, the answer.
	const piece = 2000
	stored := map[string]string{}
	for from := 0; from < n; from += piece {
		var b strings.Builder
		b.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
		for i := from; i < min(from+piece, n-added); i++ {
			if i > from {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"metric":{"dimension_InstanceId":%q},"value":[%d,"1"]}`, id(i), at.Unix())
		}
		b.WriteString(`]}}`)
		stored[id(from)] = b.String()
	}
	var storeQueries atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		storeQueries.Add(1)
		w.Header().Set("Content-Type", "application/json")
		q := r.Form.Get("query")
		if strings.Contains(q, collector.CoveredMetric) {
			_, _ = io.WriteString(w, progress.String())
			return
		}
		_, first, _ := strings.Cut(q, `dimension_InstanceId=~"`)
		first, _, _ = strings.Cut(first, "|")
		answer, ok := stored[first]
		if !ok {
			http.Error(w, "unexpected query: "+q[:min(len(q), 200)], http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	q, err := promql.NewClient(srv.URL, http.DefaultTransport)
	require.NoError(b, err)
	var peak, mallocs uint64
	var cpu time.Duration
	runs := 0
	for b.Loop() {
		storeQueries.Store(0)
		w := &encodingWriter{}
		c, err := collector.New(collector.Options{Config: cfg, Connector: fleetConnector{api}, Writer: w, Progress: q, Now: func() time.Time { return at }})
		require.NoError(b, err)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		stop := sampleHeap(&peak)
		cpu0 := cpuTime()
		sum, err := c.Run(context.Background(), at, cfg.Jobs)
		cpu += cpuTime() - cpu0
		stop()
		runtime.ReadMemStats(&after)
		require.NoError(b, err)
		require.Equal(b, int64(1+n/piece), storeQueries.Load(), "progress, then the store check in pieces")
		require.Equal(b, (n-added)*5+added*45, sum.Samples)
		mallocs += after.Mallocs - before.Mallocs
		runs++
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(mallocs)/float64(runs)/float64((n-added)*5+added*45), "allocs/sample")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(runs), "cpu-ms/op")
}
