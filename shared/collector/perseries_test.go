package collector_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
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
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// hostsFixture seeds one metric per host, one datapoint a minute from
// anchor−1h to anchor+2h, in a namespace of its own.
type hostsFixture struct {
	ns, metric string
	anchor     time.Time
	values     map[string]map[int64]float64 // host → ms → value
}

func seedHosts(t *testing.T, ctx context.Context, hosts ...string) *hostsFixture {
	t.Helper()
	uid := strings.ReplaceAll(testenv.UniqueName(t.Name()), "-", "")
	uid = uid[max(0, len(uid)-12):]
	f := &hostsFixture{ns: "Test/Hosts" + uid, metric: "Load" + uid, anchor: time.Now().UTC().Truncate(time.Hour).Add(-4 * time.Hour), values: map[string]map[int64]float64{}}
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	cw := awsconf.CloudWatch(awsCfg)
	var data []cwtypes.MetricDatum
	for hi, h := range hosts {
		f.values[h] = map[int64]float64{}
		for ts := f.anchor.Add(-time.Hour); ts.Before(f.anchor.Add(2 * time.Hour)); ts = ts.Add(time.Minute) {
			v := float64(ts.Unix()%7919)/3 + float64(hi)
			f.values[h][ts.UnixMilli()] = v
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(f.metric), Dimensions: dims("Host", h), Timestamp: aws.Time(ts), Value: aws.Float64(v)})
		}
	}
	for len(data) > 0 {
		n := min(len(data), 500)
		_, err := cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(f.ns), MetricData: data[:n]})
		require.NoError(t, err)
		data = data[n:]
	}
	return f
}

// config is a static job over hosts, one unit (progress_shards 1).
func (f *hostsFixture) config(t *testing.T, kind string, hosts ...string) *config.Collect {
	t.Helper()
	var static strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&static, "      - {Host: %s}\n", h)
	}
	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
progress_shards: 1
receiver: {kind: %s}
jobs:
  - name: hosts
    regions: [us-east-1]
    namespace: %s
    static:
%s    metrics:
      - {name: %s, statistics: [Sum]}
`, kind, f.ns, static.String(), f.metric))
	require.NoError(t, err)
	return cfg
}

// stored reads back every sample of the fixture's series, per host, and
// fails on a sample stored twice.
func (f *hostsFixture) stored(t *testing.T, ctx context.Context, q *promql.Client, r *testenv.Receiver) map[string]map[int64]float64 {
	t.Helper()
	require.NoError(t, r.Flush(ctx))
	name := naming.MetricName(f.ns, f.metric, "Sum")
	series, err := q.QuerySeries(ctx, fmt.Sprintf(`%s[6h]`, name), f.anchor.Add(150*time.Minute))
	require.NoError(t, err)
	got := map[string]map[int64]float64{}
	for _, s := range series {
		h := s.Labels["dimension_Host"]
		require.Nil(t, got[h], "host %s: two series", h)
		got[h] = map[int64]float64{}
		for _, p := range s.Points {
			_, dup := got[h][p.T.UnixMilli()]
			require.False(t, dup, "host %s: two samples at %s", h, p.T)
			got[h][p.T.UnixMilli()] = p.V
		}
	}
	return got
}

// want is what is seeded for host in [from, to).
func (f *hostsFixture) want(host string, from, to time.Time) map[int64]float64 {
	out := map[int64]float64{}
	for ts, v := range f.values[host] {
		if ts >= from.UnixMilli() && ts < to.UnixMilli() {
			out[ts] = v
		}
	}
	return out
}

// coveredUntil reads the unit's stored progress.
func coveredUntil(t *testing.T, ctx context.Context, q *promql.Client, at time.Time) time.Time {
	t.Helper()
	got, err := q.Query(ctx, fmt.Sprintf(`last_over_time(%s{job="hosts"}[1d])`, collector.CoveredMetric), at)
	require.NoError(t, err)
	require.Len(t, got, 1)
	return time.UnixMilli(int64(got[0].V * 1000)).UTC()
}

// TestPerSeriesReceiverSeriesLimit: Cortex (the engine inside AMP) stores a
// request series by series and answers 400 for the series over the tenant's
// limit after storing the rest. New hosts arrive beyond the limit: with
// delivery for a per-series receiver (kind mimir) the unit is not marked
// covered while any of its data is refused, what is stored is stored
// exactly once across retries, and the error names the refused series.
// With all-or-nothing delivery (kind prometheus) the progress sample in the
// same request is stored while data is refused: covered, and lost for good —
// the defect this delivery fixes.
func TestPerSeriesReceiverSeriesLimit(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{config.ReceiverMimir, config.ReceiverPrometheus} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := seedHosts(t, ctx, "a", "b", "c", "d", "e")
			// 2 data series, 1 progress and 1 digest series and 10 health
			// series in the first run; 15 leaves room for one more host.
			r := testenv.StartCortex(t, testenv.CortexOptions{MaxGlobalSeriesPerUser: 15})
			w, q := storeClients(t, r)
			awsCfg, err := moto.AWSConfig(ctx)
			require.NoError(t, err)
			run := func(at time.Time, hosts ...string) (collector.Summary, error) {
				cfg := f.config(t, kind, hosts...)
				c, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q})
				require.NoError(t, err)
				return c.Run(ctx, at, cfg.Jobs)
			}
			A := f.anchor
			_, err = run(A.Add(15*time.Minute), "a", "b")
			require.NoError(t, err)
			require.Equal(t, A.Add(5*time.Minute), coveredUntil(t, ctx, q, A.Add(15*time.Minute)))

			// Three hosts appear; the tenant has room for one of them.
			_, err = run(A.Add(20*time.Minute), "a", "b", "c", "d", "e")
			require.Error(t, err)
			t.Logf("%s: run with 3 new hosts over the series limit: %v", kind, err)
			got := f.stored(t, ctx, q, r)
			if kind == config.ReceiverPrometheus {
				require.Equal(t, A.Add(10*time.Minute), coveredUntil(t, ctx, q, A.Add(20*time.Minute)),
					"all-or-nothing delivery: the progress sample was stored beside refused data")
				require.Len(t, got, 3, "two hosts' [A+5m, A+10m) is refused and marked covered: lost")
				return
			}
			require.Equal(t, A.Add(5*time.Minute), coveredUntil(t, ctx, q, A.Add(20*time.Minute)), "not covered while data is refused")
			require.ErrorContains(t, err, "the receiver refused 2 series")
			require.Len(t, got, 3, "a, b and the one new host that fits")
			for h, pts := range got {
				from := A
				if h != "a" && h != "b" {
					from = A.Add(5 * time.Minute)
				}
				require.Equal(t, f.want(h, from, A.Add(10*time.Minute)), pts, "host %s", h)
			}
			// The next run resends nothing stored (reading back first) and is
			// still refused for the two hosts over the limit.
			_, err = run(A.Add(25*time.Minute), "a", "b", "c", "d", "e")
			require.ErrorContains(t, err, "the receiver refused 2 series")
			require.Equal(t, A.Add(5*time.Minute), coveredUntil(t, ctx, q, A.Add(25*time.Minute)))
			got = f.stored(t, ctx, q, r)
			require.Len(t, got, 3)
			for h, pts := range got {
				from := A
				if h != "a" && h != "b" {
					from = A.Add(5 * time.Minute)
				}
				require.Equal(t, f.want(h, from, A.Add(15*time.Minute)), pts, "host %s: exactly once", h)
			}
		})
	}
}

// failProgressWriter fails the first request that carries only progress
// (and series digest) samples, after nothing of it was sent: a process that died between
// writing a unit's data and its progress.
type failProgressWriter struct {
	w      collector.Writer
	mu     sync.Mutex
	failed bool
}

func (f *failProgressWriter) Write(ctx context.Context, series []remotewrite.Series) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	onlyProgress := len(series) > 0
	for _, s := range series {
		if s.Labels[0].Value != collector.CoveredMetric && s.Labels[0].Value != collector.DigestMetric {
			onlyProgress = false
		}
	}
	if onlyProgress && !f.failed && series[0].Samples[0].T%1000 == 0 { // not the baseline (T−1ms)
		f.failed = true
		return &remotewrite.Error{Host: "injected", StatusCode: http.StatusServiceUnavailable, Retryable: true}
	}
	return f.w.Write(ctx, series)
}

// TestPerSeriesReceiverProgressLost: on a per-series receiver a unit's data
// is stored before its progress; a run that stops in between leaves the data
// stored and the unit uncovered. The next run finds the receiver refusing
// the resent samples, reads back what is stored, sends only the rest, and
// every datapoint ends up stored exactly once.
func TestPerSeriesReceiverProgressLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := seedHosts(t, ctx, "a", "b")
	r := testenv.StartCortex(t, testenv.CortexOptions{})
	w, q := storeClients(t, r)
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	cfg := f.config(t, config.ReceiverMimir, "a", "b")
	fw := &failProgressWriter{w: w}
	c, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: fw, Progress: q})
	require.NoError(t, err)
	A := f.anchor
	_, err = c.Run(ctx, A.Add(15*time.Minute), cfg.Jobs)
	require.ErrorContains(t, err, "progress of 1 unit(s) not written (their data is)")
	for k := range 3 {
		at := A.Add(20*time.Minute + time.Duration(k)*5*time.Minute)
		_, err := c.Run(ctx, at, cfg.Jobs)
		require.NoError(t, err, "run at %s", at)
	}
	require.Equal(t, A.Add(20*time.Minute), coveredUntil(t, ctx, q, A.Add(30*time.Minute)))
	got := f.stored(t, ctx, q, r)
	for _, h := range []string{"a", "b"} {
		require.Equal(t, f.want(h, A, A.Add(20*time.Minute)), got[h], "host %s", h)
	}
}
