package collector_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithMoto(m, &moto))
}

const crossAccountRole = "arn:aws:iam::111122223333:role/sigmawatch-read"

// seeded is one CloudWatch metric put into moto, with the series the
// collector must produce from it.
type seeded struct {
	account   string
	namespace string
	metric    string
	dims      []cwtypes.Dimension
	stats     []string
	job       string
	static    bool
	values    map[time.Time]float64
}

// fixture seeds moto with three jobs' worth of datapoints, one per minute
// from A-60m to A+130m: a discovery job (with a decoy metric carrying an extra
// dimension that discovery must not pick), a static job, and a discovery job
// in a second account reached by role_arn.
type fixture struct {
	anchor  time.Time
	cfg     *config.Collect
	metrics []seeded
	cw      *awscw.Client // default account
}

func newFixture(t *testing.T, ctx context.Context) *fixture {
	t.Helper()
	uid := strings.ReplaceAll(testenv.UniqueName(t.Name()), "-", "")
	uid = uid[max(0, len(uid)-12):]
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	cw := awsconf.CloudWatch(awsCfg)
	roleCfg := awsCfg.Copy()
	roleCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), crossAccountRole))
	cwOther := awsconf.CloudWatch(roleCfg)

	anchor := time.Now().UTC().Truncate(time.Hour).Add(-4 * time.Hour)
	f := &fixture{anchor: anchor, cw: cw}
	nsEC2, nsOrders, nsOther := "Test/EC2"+uid, "Test/Orders"+uid, "Test/Other"+uid
	f.metrics = []seeded{
		{account: "123456789012", namespace: nsEC2, metric: "CPU" + uid, dims: dims("InstanceId", "i-1"), stats: []string{"Average", "Maximum"}, job: "ec2"},
		{account: "123456789012", namespace: nsEC2, metric: "CPU" + uid, dims: dims("InstanceId", "i-2"), stats: []string{"Average", "Maximum"}, job: "ec2"},
		{account: "123456789012", namespace: nsOrders, metric: "Orders" + uid, dims: dims("Service", "checkout"), stats: []string{"Sum"}, job: "orders", static: true},
		{account: "111122223333", namespace: nsOther, metric: "Queue" + uid, dims: dims("QueueName", "jobs"), stats: []string{"Maximum"}, job: "other"},
	}
	decoy := seeded{account: "123456789012", namespace: nsEC2, metric: "CPU" + uid, dims: append(dims("InstanceId", "i-3"), dims("AutoScalingGroupName", "asg")...)}
	for i := range f.metrics {
		f.metrics[i].values = map[time.Time]float64{}
	}
	for _, m := range append(slices.Clone(f.metrics), decoy) {
		client := cw
		if m.account != "123456789012" {
			client = cwOther
		}
		var data []cwtypes.MetricDatum
		for ts := anchor.Add(-60 * time.Minute); ts.Before(anchor.Add(130 * time.Minute)); ts = ts.Add(time.Minute) {
			// Values with every digit significant, so precision loss shows.
			v := float64(ts.Unix()%7919)/3 + float64(len(m.dims))*0.1
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(m.metric), Dimensions: m.dims, Timestamp: aws.Time(ts), Value: aws.Float64(v)})
			for i := range f.metrics {
				if f.metrics[i].metric == m.metric && f.metrics[i].namespace == m.namespace && slices.Equal(f.metrics[i].dims, m.dims) {
					f.metrics[i].values[ts] = v
				}
			}
		}
		for len(data) > 0 {
			n := min(len(data), 150)
			_, err := client.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(m.namespace), MetricData: data[:n]})
			require.NoError(t, err)
			data = data[n:]
		}
	}
	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
interval: 5m
max_catch_up: 45m
progress_shards: 4
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: ec2
    regions: [us-east-1]
    namespace: %s
    dimensions: [InstanceId]
    metrics:
      - {name: CPU%s, statistics: [Average, Maximum]}
  - name: orders
    regions: [us-east-1]
    namespace: %s
    static:
      - {Service: checkout}
    metrics:
      - {name: Orders%s, statistics: [Sum]}
  - name: other
    regions: [us-east-1]
    role_arn: %s
    namespace: %s
    dimensions: [QueueName]
    metrics:
      - {name: Queue%s, statistics: [Maximum]}
`, nsEC2, uid, nsOrders, uid, crossAccountRole, nsOther, uid))
	require.NoError(t, err)
	f.cfg = cfg
	return f
}

func dims(kv ...string) []cwtypes.Dimension {
	var out []cwtypes.Dimension
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, cwtypes.Dimension{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// seriesKey is how a test names a series: metric name and the labels that
// tell our fixtures' series apart.
func seriesKey(name, account, dim string) string { return name + "|" + account + "|" + dim }

func (f *fixture) expected(covered func(time.Time) bool) map[string]map[int64]float64 {
	out := map[string]map[int64]float64{}
	for _, m := range f.metrics {
		for _, stat := range m.stats {
			k := seriesKey(naming.MetricName(m.namespace, m.metric, stat), m.account, aws.ToString(m.dims[0].Value))
			out[k] = map[int64]float64{}
			for ts, v := range m.values {
				if covered(ts) {
					out[k][ts.UnixMilli()] = v
				}
			}
		}
	}
	return out
}

// stored reads back every raw sample of the fixtures' series.
func stored(t *testing.T, ctx context.Context, r *testenv.Receiver, f *fixture) map[string]map[int64]float64 {
	t.Helper()
	require.NoError(t, r.Flush(ctx))
	q, err := promql.NewClient(r.URL, http.DefaultTransport)
	require.NoError(t, err)
	end := f.anchor.Add(3 * time.Hour)
	got := map[string]map[int64]float64{}
	series, err := q.QuerySeries(ctx, `{__name__=~"aws_.+",job=~"ec2|orders|other"}[4h]`, end)
	require.NoError(t, err)
	for _, s := range series {
		dim := s.Labels["dimension_InstanceId"] + s.Labels["dimension_Service"] + s.Labels["dimension_QueueName"]
		k := seriesKey(s.Labels["__name__"], s.Labels["account_id"], dim)
		if got[k] == nil {
			got[k] = map[int64]float64{}
		}
		for _, p := range s.Points {
			_, dup := got[k][p.T.UnixMilli()]
			require.False(t, dup, "%s: two samples at %s", k, p.T)
			got[k][p.T.UnixMilli()] = p.V
		}
	}
	if r.Kind == "victoriametrics" {
		// VictoriaMetrics may fold a duplicate into one raw sample on read;
		// count_over_time counts what it stored.
		counts, err := q.Query(ctx, `sum(count_over_time({__name__=~"aws_.+",job=~"ec2|orders|other"}[4h]))`, end)
		require.NoError(t, err)
		require.Len(t, counts, 1)
		want := 0
		for _, pts := range got {
			want += len(pts)
		}
		require.InDelta(t, float64(want), counts[0].V, 0, "VictoriaMetrics stored %v samples, raw read shows %d: a sample was written twice", counts[0].V, want)
	}
	return got
}

// storeClients are a writer and a querier for the receiver r.
func storeClients(t *testing.T, r *testenv.Receiver) (*remotewrite.Client, *promql.Client) {
	t.Helper()
	w, err := remotewrite.NewClient(r.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(r.URL, http.DefaultTransport)
	require.NoError(t, err)
	return w, q
}

func requireSameData(t *testing.T, kind string, want, got map[string]map[int64]float64) {
	t.Helper()
	require.Equal(t, sortedKeys(want), sortedKeys(got), "series")
	for k, pts := range want {
		require.Len(t, got[k], len(pts), "%s: samples", k)
		for ts, v := range pts {
			g, ok := got[k][ts]
			require.True(t, ok, "%s: missing sample at %s", k, time.UnixMilli(ts).UTC())
			if kind == "victoriametrics" {
				require.InEpsilon(t, v, g, 1e-12, "%s at %s", k, time.UnixMilli(ts).UTC())
			} else {
				require.Equal(t, math.Float64bits(v), math.Float64bits(g), "%s at %s: want %v got %v", k, time.UnixMilli(ts).UTC(), v, g)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestCollectExactlyOnce drives the collector at successive scheduled times
// against moto and each receiver: normal runs, a retry, an outage shorter
// than max_catch_up and one longer. Every datapoint outside the given-up span
// must be stored exactly once, at its CloudWatch timestamp, with its value.
func TestCollectExactlyOnce(t *testing.T) {
	t.Parallel()
	receivers := []struct {
		name  string
		start func(t *testing.T) *testenv.Receiver
	}{
		{"prometheus", func(t *testing.T) *testenv.Receiver { return testenv.StartPrometheus(t, testenv.PrometheusOptions{}) }},
		{"prometheus out-of-order window", func(t *testing.T) *testenv.Receiver {
			return testenv.StartPrometheus(t, testenv.PrometheusOptions{OutOfOrderWindow: 2 * time.Hour})
		}},
		{"victoriametrics", func(t *testing.T) *testenv.Receiver { return testenv.StartVictoriaMetrics(t) }},
	}
	for _, rc := range receivers {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, ctx)
			r := rc.start(t)
			awsCfg, err := moto.AWSConfig(ctx)
			require.NoError(t, err)
			w, q := storeClients(t, r)
			newCollector := func() *collector.Collector {
				c, err := collector.New(collector.Options{
					Config: f.cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q,
					Logger: slog.New(slog.DiscardHandler), MaxSamplesPerRequest: 7,
				})
				require.NoError(t, err)
				return c
			}
			c := newCollector()
			A := f.anchor
			run := func(at time.Time) collector.Summary {
				t.Helper()
				sum, err := c.Run(ctx, at, f.cfg.Jobs)
				require.NoError(t, err, "run at %s", at)
				require.NoError(t, r.Flush(ctx))
				return sum
			}
			// Normal runs: the first covers its own window [A, A+5m).
			for k := range 4 {
				sum := run(A.Add(15*time.Minute + time.Duration(k)*5*time.Minute))
				require.Equal(t, 5*6, sum.Samples, "each run writes 5 minutes of 6 series")
				require.Zero(t, sum.SkippedSeconds)
			}
			requireSameData(t, r.Kind, f.expected(func(ts time.Time) bool { return !ts.Before(A) && ts.Before(A.Add(20*time.Minute)) }), stored(t, ctx, r, f))

			// A retry of the last scheduled time, in a new process: nothing to do.
			c = newCollector()
			sum := run(A.Add(30 * time.Minute))
			require.Zero(t, sum.Samples)
			require.Zero(t, sum.Requests, "a retry writes nothing a receiver could reject")
			require.Equal(t, 3, sum.TargetsCovered)
			t.Logf("%s: retry of %s wrote nothing (%d targets already covered)", rc.name, A.Add(30*time.Minute).Format(time.TimeOnly), sum.TargetsCovered)

			// Outage shorter than max_catch_up: three runs missed, the next fills the gap.
			sum = run(A.Add(50 * time.Minute))
			require.Equal(t, 20*6, sum.Samples, "catch-up of 20 minutes")
			require.Zero(t, sum.SkippedSeconds)
			requireSameData(t, r.Kind, f.expected(func(ts time.Time) bool { return !ts.Before(A) && ts.Before(A.Add(40*time.Minute)) }), stored(t, ctx, r, f))

			// Outage longer than max_catch_up: [A+40m, A+65m) is given up.
			sum = run(A.Add(120 * time.Minute))
			require.Equal(t, 45*6, sum.Samples, "the newest max_catch_up is still written")
			require.InDelta(t, 25*60*3, sum.SkippedSeconds, 0, "25 minutes given up in each of 3 targets")
			covered := func(ts time.Time) bool {
				return !ts.Before(A) && ts.Before(A.Add(110*time.Minute)) && (ts.Before(A.Add(40*time.Minute)) || !ts.Before(A.Add(65*time.Minute)))
			}
			requireSameData(t, r.Kind, f.expected(covered), stored(t, ctx, r, f))
			skipped, err := q.Query(ctx, `sigmawatch_collect_skipped_seconds`, A.Add(120*time.Minute))
			require.NoError(t, err)
			require.Len(t, skipped, 3)
			for _, s := range skipped {
				require.InDelta(t, 25*60, s.V, 0, "skipped_seconds of %v", s.Labels)
			}
			// A late retry of an earlier scheduled time sees the later progress and does nothing.
			sum = run(A.Add(115 * time.Minute))
			require.Zero(t, sum.Requests)
			requireSameData(t, r.Kind, f.expected(covered), stored(t, ctx, r, f))

			// Health series, stamped at the scheduled time.
			last, err := q.Query(ctx, `sigmawatch_collect_last_success_timestamp_seconds`, A.Add(120*time.Minute))
			require.NoError(t, err)
			require.Len(t, last, 3)
			accounts := map[string]string{}
			for _, s := range last {
				require.InDelta(t, float64(A.Add(120*time.Minute).Unix()), s.V, 0)
				require.True(t, s.T.Equal(A.Add(120*time.Minute)), "stamped at T, got %s", s.T)
				accounts[s.Labels["job"]] = s.Labels["account_id"]
			}
			require.Equal(t, map[string]string{"ec2": "123456789012", "orders": "123456789012", "other": "111122223333"}, accounts)
			calls, err := q.Query(ctx, `sigmawatch_collect_api_calls{operation="GetMetricData"}`, A.Add(120*time.Minute))
			require.NoError(t, err)
			require.Len(t, calls, 3)
			cost, err := q.Query(ctx, `sum(sigmawatch_collect_cost_usd)`, A.Add(120*time.Minute))
			require.NoError(t, err)
			require.Len(t, cost, 1)
			require.InDelta(t, 6*0.01/1000, cost[0].V, 1e-12, "6 metrics requested, one call per job")
			t.Logf("%s: 7 runs, a retry, a 20m and a 70m outage: every datapoint outside the 25m given up stored exactly once", rc.name)
		})
	}
}

// TestCollectLabels checks one series' full label set, the YACE shape.
func TestCollectLabels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, ctx)
	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	w, q := storeClients(t, r)
	c, err := collector.New(collector.Options{Config: f.cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q})
	require.NoError(t, err)
	at := f.anchor.Add(15 * time.Minute)
	_, err = c.Run(ctx, at, f.cfg.Jobs)
	require.NoError(t, err)
	got, err := q.Query(ctx, `{job="orders",__name__=~"aws_.+"}`, at.Add(-10*time.Minute))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, map[string]string{
		"__name__":          naming.MetricName(f.metrics[2].namespace, f.metrics[2].metric, "Sum"),
		"dimension_Service": "checkout",
		"region":            "us-east-1",
		"account_id":        "123456789012",
		"name":              "orders",
		"job":               "orders",
	}, got[0].Labels)
}

// flakyWriter passes requests to the real client but fails the ones whose
// number (1-based) is in fail, before sending them: what a receiver that is
// down for part of a run looks like to the collector.
type flakyWriter struct {
	w    *remotewrite.Client
	n    int
	fail map[int]bool
}

func (f *flakyWriter) Write(ctx context.Context, series []remotewrite.Series) error {
	f.n++
	if f.fail[f.n] {
		return fmt.Errorf("injected failure of request %d", f.n)
	}
	return f.w.Write(ctx, series)
}

// TestCollectRecoversFromReceiverFailures: a run whose receiver fails part
// of its requests, or is unreachable, returns an error; its retry (or the
// next run) writes exactly what is missing, against a stock Prometheus that
// would reject any resent sample.
func TestCollectRecoversFromReceiverFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, ctx)
	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	real, q := storeClients(t, r)
	port, err := testenv.FreePort()
	require.NoError(t, err)
	down, err := remotewrite.NewClient(fmt.Sprintf("http://127.0.0.1:%d/api/v1/write", port), remotewrite.WithMaxAttempts(3), remotewrite.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	require.NoError(t, err)
	conn := collector.NewAWSConnector(awsCfg)
	newCollector := func(w collector.Writer) *collector.Collector {
		c, err := collector.New(collector.Options{Config: f.cfg, Connector: conn, Writer: w, Progress: q, MaxSamplesPerRequest: 7})
		require.NoError(t, err)
		return c
	}
	A := f.anchor
	// T1: the 2nd and 4th requests fail; the others are stored.
	flaky := &flakyWriter{w: real, fail: map[int]bool{2: true, 4: true}}
	sum, err := newCollector(flaky).Run(ctx, A.Add(15*time.Minute), f.cfg.Jobs)
	require.ErrorContains(t, err, "injected failure")
	require.Positive(t, sum.FailedUnits)
	t.Logf("injected: requests 2 and 4 of the run at A+15m fail; the run returned: %v", err)
	// Its retry writes exactly the rest.
	_, err = newCollector(real).Run(ctx, A.Add(15*time.Minute), f.cfg.Jobs)
	require.NoError(t, err)
	// T2: the receiver is unreachable: bounded retries, then an error naming it.
	_, err = newCollector(down).Run(ctx, A.Add(20*time.Minute), f.cfg.Jobs)
	require.ErrorContains(t, err, fmt.Sprintf("127.0.0.1:%d", port))
	t.Logf("injected: receiver unreachable at A+20m; the run returned: %v", err)
	// T3: back; the run catches up T2's window too.
	sum, err = newCollector(real).Run(ctx, A.Add(25*time.Minute), f.cfg.Jobs)
	require.NoError(t, err)
	require.Equal(t, 10*6, sum.Samples, "T3 covers its own window and T2's")
	requireSameData(t, r.Kind, f.expected(func(ts time.Time) bool { return !ts.Before(A) && ts.Before(A.Add(15*time.Minute)) }), stored(t, ctx, r, f))
}

// TestCollectShardCountChange: changing progress_shards between runs moves
// series to other shards; they continue from the target's progress instead
// of re-collecting a first-run window (which a stock Prometheus would refuse).
func TestCollectShardCountChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, ctx)
	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	w, q := storeClients(t, r)
	A := f.anchor
	for i, shards := range []int{4, 16, 1} {
		cfg := *f.cfg
		cfg.Shards = shards
		cfg.Defaults.Length = config.Duration(15 * time.Minute)
		for j := range cfg.Jobs {
			cfg.Jobs[j].Metrics = slices.Clone(cfg.Jobs[j].Metrics)
			for k := range cfg.Jobs[j].Metrics {
				cfg.Jobs[j].Metrics[k].Length = config.Duration(15 * time.Minute)
			}
		}
		c, err := collector.New(collector.Options{Config: &cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q})
		require.NoError(t, err)
		at := A.Add(25*time.Minute + time.Duration(i)*5*time.Minute)
		_, err = c.Run(ctx, at, cfg.Jobs)
		require.NoError(t, err, "run with %d shards", shards)
	}
	// The first run covered [A, A+15m); the next two 5 minutes each.
	requireSameData(t, r.Kind, f.expected(func(ts time.Time) bool { return !ts.Before(A) && ts.Before(A.Add(25*time.Minute)) }), stored(t, ctx, r, f))
}

// TestCollectTwoRegions: a discovery job with two regions collects each
// region's own metrics; the discovery cache must not hand the second region
// the first region's listing, and -plan must count what a run collects.
func TestCollectTwoRegions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	uid := strings.ReplaceAll(testenv.UniqueName(t.Name()), "-", "")
	uid = uid[max(0, len(uid)-12):]
	ns, metric := "Test/Regions"+uid, "Cpu"+uid
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	anchor := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	perRegion := map[string][]string{"us-east-1": {"i-east"}, "eu-west-1": {"i-west-1", "i-west-2"}}
	for region, ids := range perRegion {
		cfg := awsCfg.Copy()
		cfg.Region = region
		cw := awsconf.CloudWatch(cfg)
		var data []cwtypes.MetricDatum
		for _, id := range ids {
			for ts := anchor; ts.Before(anchor.Add(30 * time.Minute)); ts = ts.Add(time.Minute) {
				data = append(data, cwtypes.MetricDatum{MetricName: aws.String(metric), Dimensions: dims("InstanceId", id), Timestamp: aws.Time(ts), Value: aws.Float64(1)})
			}
		}
		_, err := cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(ns), MetricData: data})
		require.NoError(t, err)
	}
	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
jobs:
  - name: regions
    regions: [us-east-1, eu-west-1]
    namespace: %s
    dimensions: [InstanceId]
    metrics:
      - {name: %s, statistics: [Average]}
`, ns, metric))
	require.NoError(t, err)

	plan, err := collector.MakePlan(ctx, cfg, cfg.Jobs, collector.NewAWSConnector(awsCfg))
	require.NoError(t, err)
	require.Equal(t, 3, plan.Jobs[0].Metrics, "-plan counts both regions' metrics")

	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, q := storeClients(t, r)
	c, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q})
	require.NoError(t, err)
	at := anchor.Add(20 * time.Minute)
	sum, err := c.Run(ctx, at, cfg.Jobs)
	require.NoError(t, err)
	require.Equal(t, 3*5, sum.Samples, "5 minutes of 3 instances in two regions")
	got, err := q.Query(ctx, fmt.Sprintf(`count by (region) (count_over_time({__name__=%q}[1h]))`, naming.MetricName(ns, metric, "Average")), at)
	require.NoError(t, err)
	byRegion := map[string]float64{}
	for _, s := range got {
		byRegion[s.Labels["region"]] = s.V
	}
	require.Equal(t, map[string]float64{"us-east-1": 1, "eu-west-1": 2}, byRegion)
}

// TestCollectDeploymentsApart: two deployments (stacks) write to one store
// with the same job name. Each reads back only its own progress: the second
// must not take the first's progress for its own and write nothing.
func TestCollectDeploymentsApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	uid := strings.ReplaceAll(testenv.UniqueName(t.Name()), "-", "")
	uid = uid[max(0, len(uid)-12):]
	ns, metric := "Test/Deploy"+uid, "Load"+uid
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	cw := awsconf.CloudWatch(awsCfg)
	anchor := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var data []cwtypes.MetricDatum
	for _, host := range []string{"prod", "staging"} {
		for ts := anchor; ts.Before(anchor.Add(30 * time.Minute)); ts = ts.Add(time.Minute) {
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(metric), Dimensions: dims("Host", host), Timestamp: aws.Time(ts), Value: aws.Float64(2)})
		}
	}
	_, err = cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(ns), MetricData: data})
	require.NoError(t, err)
	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, q := storeClients(t, r)
	at := anchor.Add(20 * time.Minute)
	for _, deployment := range []string{"prod", "staging"} {
		cfg, err := config.LoadCollect(fmt.Appendf(nil, `
progress_shards: 1
jobs:
  - name: app
    regions: [us-east-1]
    namespace: %s
    static: [{Host: %s}]
    metrics:
      - {name: %s, statistics: [Sum]}
`, ns, deployment, metric))
		require.NoError(t, err)
		c, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q, Deployment: deployment})
		require.NoError(t, err)
		sum, err := c.Run(ctx, at, cfg.Jobs)
		require.NoError(t, err)
		require.Equal(t, 5, sum.Samples, "deployment %s collects its own first window", deployment)
	}
	got, err := q.Query(ctx, fmt.Sprintf(`count by (%s) (%s)`, config.DeploymentLabel, collector.CoveredMetric), at)
	require.NoError(t, err)
	require.Len(t, got, 2, "each deployment's progress apart")
}
