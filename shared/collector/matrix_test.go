package collector_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
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
	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// The scenario matrix (issue 11, "Must show"): one timeline of scheduled
// runs against moto and each kind of receiver — a stock Prometheus, one with
// an out-of-order window, VictoriaMetrics and Cortex (stores series by
// series) — covering two regions and two accounts, each config change
// between runs, a colliding series, 1m, 5m, 1h and 1d metrics in one job, a
// run whose calls do not fit its deadline, a future T, and a terminated and
// a new resource. After every step, what is stored must equal what was
// seeded, each sample once, and skipped_seconds what was given up.
//
// Expectations are written out by hand, step by step, from the delivery
// contract (DESIGN.md), not computed by the code under test.

const (
	mainAccount  = "123456789012"
	otherAccount = "111122223333"
	use1, euw1   = "us-east-1", "eu-west-1"
)

// mSeries is one series the matrix expects: where its CloudWatch metric is
// and which series it becomes.
type mSeries struct {
	job, region, account string
	ns, metric, stat     string
	dims                 [][2]string
}

func (s mSeries) name() string { return naming.MetricName(s.ns, s.metric, s.stat) }

// key names a stored series: metric name, job, region, account, dimensions.
func (s mSeries) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s", s.name(), s.job, s.region, s.account)
	for _, d := range s.dims {
		fmt.Fprintf(&b, "|%s=%s", naming.DimensionLabel(d[0]), d[1])
	}
	return b.String()
}

// cwID names the CloudWatch metric behind it.
func (s mSeries) cwID() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s", s.account, s.region, s.ns, s.metric)
	for _, d := range s.dims {
		fmt.Fprintf(&b, "|%s=%s", d[0], d[1])
	}
	return b.String()
}

func storedKey(labels map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s", labels["__name__"], labels["job"], labels["region"], labels["account_id"])
	var dims []string
	for k, v := range labels {
		if strings.HasPrefix(k, "dimension_") {
			dims = append(dims, "|"+k+"="+v)
		}
	}
	slices.Sort(dims)
	b.WriteString(strings.Join(dims, ""))
	return b.String()
}

// matrixExpect is the seeded data and what must be stored.
type matrixExpect struct {
	seeded map[string]map[int64]float64 // cwID → minute → value
	want   map[string]map[int64]float64 // series key → timestamp → value
}

// bucket is the Maximum of a metric's seeded values in [b, b+period).
func (e *matrixExpect) bucket(s mSeries, b time.Time, period time.Duration) (float64, bool) {
	v, ok := math.Inf(-1), false
	for ts, x := range e.seeded[s.cwID()] {
		if ts >= b.UnixMilli() && ts < b.Add(period).UnixMilli() {
			v, ok = max(v, x), true
		}
	}
	return v, ok
}

// cover expects every period bucket of [from, to) at its CloudWatch time.
func (e *matrixExpect) cover(period time.Duration, from, to time.Time, series ...mSeries) {
	for _, s := range series {
		if e.want[s.key()] == nil {
			e.want[s.key()] = map[int64]float64{}
		}
		for b := from; b.Before(to); b = b.Add(period) {
			if v, ok := e.bucket(s, b, period); ok {
				e.want[s.key()][b.UnixMilli()] = v
			}
		}
	}
}

// stamp expects the bucket [b, b+period) stamped at the scheduled time at.
func (e *matrixExpect) stamp(period time.Duration, b, at time.Time, series ...mSeries) {
	for _, s := range series {
		if e.want[s.key()] == nil {
			e.want[s.key()] = map[int64]float64{}
		}
		if v, ok := e.bucket(s, b, period); ok {
			e.want[s.key()][at.UnixMilli()] = v
		}
	}
}

// matrixReceiver is one column of the matrix.
type matrixReceiver struct {
	name  string
	start func(t *testing.T) *testenv.Receiver
	kind  string
	ooo   time.Duration
	// hourly and daily: the timestamp choice the receiver needs for 1h and
	// 1d metrics (-verify-config refuses the other).
	hourly, daily string
}

func TestScenarioMatrix(t *testing.T) {
	t.Parallel()
	receivers := []matrixReceiver{
		{"prometheus", func(t *testing.T) *testenv.Receiver { return testenv.StartPrometheus(t, testenv.PrometheusOptions{}) },
			config.ReceiverPrometheus, 0, config.TimestampScheduled, config.TimestampScheduled},
		{"prometheus out-of-order 2h", func(t *testing.T) *testenv.Receiver {
			return testenv.StartPrometheus(t, testenv.PrometheusOptions{OutOfOrderWindow: 2 * time.Hour})
		}, config.ReceiverPrometheus, 2 * time.Hour, config.TimestampCloudWatch, config.TimestampScheduled},
		{"victoriametrics", func(t *testing.T) *testenv.Receiver { return testenv.StartVictoriaMetrics(t) },
			config.ReceiverVictoriaMetrics, 0, config.TimestampCloudWatch, config.TimestampCloudWatch},
		{"cortex", func(t *testing.T) *testenv.Receiver { return testenv.StartCortex(t, testenv.CortexOptions{}) },
			config.ReceiverMimir, 0, config.TimestampScheduled, config.TimestampScheduled},
	}
	for _, rc := range receivers {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			runMatrix(t, rc)
		})
	}
}

func runMatrix(t *testing.T, rc matrixReceiver) {
	ctx := context.Background()
	uid := strings.ReplaceAll(testenv.UniqueName(t.Name()), "-", "")
	uid = uid[max(0, len(uid)-10):]
	// A is midnight a day ago: the first run's daily period is a whole
	// past day, and every scheduled time is in the past.
	A := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	nsEC2, nsOther, nsMixed, nsCol := "Mx/EC2"+uid, "Mx/Other"+uid, "Mx/Mixed"+uid, "Mx/Col"+uid
	cpu, depth, depth2 := "Cpu"+uid, "Depth"+uid, "Deptwo"+uid
	m1, m5, mh, md := "Mone"+uid, "Mfive"+uid, "Mhour"+uid, "Mday"+uid
	reqA, reqB, fine := "requestCount"+uid, "request_count"+uid, "Fine"+uid

	// The new instance shares its progress unit (4 shards) with i-a, so
	// that it appears in a unit that already has progress: without being
	// recognised as new, its first minutes would be lost.
	shardOf := func(id string) uint32 {
		h := fnv.New32a()
		m := cloudwatch.NewMetric(nsEC2, cpu, []cloudwatch.Dimension{{Name: "InstanceId", Value: id}})
		_, _ = h.Write([]byte(m.Key()))
		return h.Sum32() % 4
	}
	newID := ""
	for k := 0; newID == ""; k++ {
		if id := fmt.Sprintf("i-new%d", k); shardOf(id) == shardOf("i-a") {
			newID = id
		}
	}

	ec2 := func(region, id string) mSeries {
		return mSeries{job: "ec2", region: region, account: mainAccount, ns: nsEC2, metric: cpu, stat: "Maximum", dims: [][2]string{{"InstanceId", id}}}
	}
	ia, iterm, inew, ib := ec2(use1, "i-a"), ec2(use1, "i-term"), ec2(use1, newID), ec2(euw1, "i-b")
	other := func(metric, stat string) mSeries {
		return mSeries{job: "other", region: use1, account: otherAccount, ns: nsOther, metric: metric, stat: stat, dims: [][2]string{{"Queue", "q1"}}}
	}
	depthMax, depthMin, depth2Max := other(depth, "Maximum"), other(depth, "Minimum"), other(depth2, "Maximum")
	mixed := func(metric string) mSeries {
		return mSeries{job: "mixed", region: use1, account: mainAccount, ns: nsMixed, metric: metric, stat: "Maximum", dims: [][2]string{{"Svc", "s"}}}
	}
	sM1, sM5, sMH, sMD := mixed(m1), mixed(m5), mixed(mh), mixed(md)
	col := func(job, metric string) mSeries {
		return mSeries{job: job, region: use1, account: mainAccount, ns: nsCol, metric: metric, stat: "Maximum", dims: [][2]string{{"Svc", "s"}}}
	}
	colA, colB, colFine, col2Fine := col("collide", reqA), col("collide", reqB), col("collide", fine), col("collide_v2", fine)

	// Seed moto: one datapoint a minute.
	e := &matrixExpect{seeded: map[string]map[int64]float64{}, want: map[string]map[int64]float64{}}
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	clientFor := func(account, region string) *awscw.Client {
		cfg := awsCfg.Copy()
		cfg.Region = region
		if account == otherAccount {
			cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), crossAccountRole))
		}
		return awsconf.CloudWatch(cfg)
	}
	seedIndex := 0
	seed := func(s mSeries, from, to time.Time, step time.Duration) {
		seedIndex++
		if e.seeded[s.cwID()] == nil {
			e.seeded[s.cwID()] = map[int64]float64{}
		}
		var cwDims []cwtypes.Dimension
		for _, d := range s.dims {
			cwDims = append(cwDims, cwtypes.Dimension{Name: aws.String(d[0]), Value: aws.String(d[1])})
		}
		var data []cwtypes.MetricDatum
		for ts := from; ts.Before(to); ts = ts.Add(step) {
			v := float64(ts.Unix()%7919)/3 + float64(seedIndex)*0.1
			e.seeded[s.cwID()][ts.UnixMilli()] = v
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(s.metric), Dimensions: cwDims, Timestamp: aws.Time(ts), Value: aws.Float64(v)})
		}
		cw := clientFor(s.account, s.region)
		for len(data) > 0 {
			n := min(len(data), 500)
			_, err := cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(s.ns), MetricData: data[:n]})
			require.NoError(t, err)
			data = data[n:]
		}
	}
	for _, s := range []mSeries{ia, ib, depthMax, depth2Max, sM1, sM5, colA, colB, colFine} {
		seed(s, A.Add(-time.Hour), A.Add(3*time.Hour), time.Minute)
	}
	seed(iterm, A.Add(-time.Hour), A.Add(40*time.Minute), time.Minute) // terminated at A+40m
	seed(sMH, A.Add(-2*time.Hour), A.Add(3*time.Hour), time.Minute)
	seed(sMD, A.Add(-22*time.Hour), A, 12*time.Hour) // two datapoints in the day before A
	// The Minimum of a one-minute bucket with one datapoint is that datapoint.
	e.seeded[depthMin.cwID()] = e.seeded[depthMax.cwID()]

	r := rc.start(t)
	w, q := storeClients(t, r)
	cwProxy := testenv.NewFaultProxy(t, moto.URL)
	proxCfg := awsCfg.Copy()
	proxCfg.BaseEndpoint = aws.String(cwProxy.URL)

	// Collector E collects ec2 in a process that stays warm for the whole
	// timeline (it must recognise the new instance); collector X collects
	// the other jobs and is rebuilt at every config change, as a redeploy
	// would.
	receiverYAML := fmt.Sprintf("receiver: {kind: %s, out_of_order_window: %s}\n", rc.kind, config.Duration(rc.ooo))
	header := "interval: 5m\nmax_catch_up: 45m\ndiscovery_ttl: 0s\ncloudwatch_concurrency: 2\n" + receiverYAML + "defaults: {period: 1m, length: 5m, delay: 10m}\n"
	cfgE, err := config.LoadCollect([]byte(header + fmt.Sprintf(`progress_shards: 4
jobs:
  - name: ec2
    regions: [%s, %s]
    namespace: %s
    dimensions: [InstanceId]
    metrics:
      - {name: %s, statistics: [Maximum]}
`, use1, euw1, nsEC2, cpu)))
	require.NoError(t, err)
	collE, err := collector.New(collector.Options{Config: cfgE, Connector: collector.NewAWSConnector(proxCfg), Writer: w, Progress: q})
	require.NoError(t, err)

	type xVersion struct {
		shards                int
		otherDelay, otherLen  string
		depthStats            string
		withDepth2, renameCol bool
		m5Hourly              bool
	}
	loadX := func(v xVersion) *config.Collect {
		t.Helper()
		depth2Entry := ""
		if v.withDepth2 {
			depth2Entry = fmt.Sprintf("      - {name: %s, statistics: [Maximum]}\n", depth2)
		}
		m5Entry := fmt.Sprintf("{name: %s, statistics: [Maximum], period: 5m}", m5)
		if v.m5Hourly {
			m5Entry = fmt.Sprintf("{name: %s, statistics: [Maximum], period: 1h, length: 1h, timestamp: %s}", m5, rc.hourly)
		}
		colJob := "collide"
		if v.renameCol {
			colJob = "collide_v2"
		}
		cfg, err := config.LoadCollect([]byte(header + fmt.Sprintf(`progress_shards: %d
jobs:
  - name: other
    regions: [%s]
    role_arn: %s
    namespace: %s
    static: [{Queue: q1}]
    delay: %s
    length: %s
    metrics:
      - {name: %s, statistics: [%s]}
%s  - name: mixed
    regions: [%s]
    namespace: %s
    static: [{Svc: s}]
    metrics:
      - {name: %s, statistics: [Maximum]}
      - %s
      - {name: %s, statistics: [Maximum], period: 1h, length: 1h, timestamp: %s}
      - {name: %s, statistics: [Maximum], period: 1d, length: 1d, timestamp: %s}
  - name: %s
    regions: [%s]
    namespace: %s
    static: [{Svc: s}]
    metrics:
      - {name: %s, statistics: [Maximum]}
      - {name: %s, statistics: [Maximum]}
      - {name: %s, statistics: [Maximum]}
`, v.shards, use1, crossAccountRole, nsOther, v.otherDelay, v.otherLen, depth, v.depthStats, depth2Entry,
			use1, nsMixed, m1, m5Entry, mh, rc.hourly, md, rc.daily,
			colJob, use1, nsCol, reqA, "Placeholder"+uid, fine)))
		require.NoError(t, err)
		// Two CloudWatch names that make one series: -verify-config refuses
		// it, so it comes in as a config built in code would.
		cfg.Jobs[2].Metrics[1].Name = reqB
		return cfg
	}
	x0 := xVersion{shards: 4, otherDelay: "10m", otherLen: "5m", depthStats: "Maximum"}
	cfgX := loadX(x0)
	newX := func(v xVersion) *collector.Collector {
		cfgX = loadX(v)
		c, err := collector.New(collector.Options{Config: cfgX, Connector: collector.NewAWSConnector(proxCfg), Writer: w, Progress: q})
		require.NoError(t, err)
		return c
	}
	collX := newX(x0)

	run := func(c *collector.Collector, cfg *config.Collect, at time.Time) collector.Summary {
		t.Helper()
		sum, err := c.Run(ctx, at, cfg.Jobs)
		require.NoError(t, err, "run at A+%s", at.Sub(A))
		require.NoError(t, r.Flush(ctx))
		return sum
	}
	runBoth := func(at time.Time) {
		t.Helper()
		run(collE, cfgE, at)
		run(collX, cfgX, at)
	}
	// The hourly and daily series are stamped at their CloudWatch time or
	// at the run's T, as the receiver needs.
	hourly := func(b, at time.Time, s ...mSeries) {
		if rc.hourly == config.TimestampScheduled {
			e.stamp(time.Hour, b, at, s...)
		} else {
			e.cover(time.Hour, b, b.Add(time.Hour), s...)
		}
	}
	check := func(step string) {
		t.Helper()
		requireStored(t, ctx, r, q, e.want, A.Add(3*time.Hour))
		t.Logf("%s: %s: stored equals seeded, each sample once", rc.name, step)
	}
	skipped := func(at time.Time, job string, want time.Duration) {
		t.Helper()
		got, err := q.Query(ctx, fmt.Sprintf(`%s{job=%q}`, collector.SkippedMetric, job), at)
		require.NoError(t, err)
		require.NotEmpty(t, got, "%s: no skipped_seconds at A+%s", job, at.Sub(A))
		for _, s := range got {
			require.True(t, s.T.Equal(at), "%s: skipped_seconds of this run", job)
			require.InDelta(t, want.Seconds(), s.V, 0, "%s %s: skipped_seconds at A+%s", job, s.Labels["region"], at.Sub(A))
		}
	}
	// A config change gives nothing up: no false "given up".
	noneSkipped := func(at time.Time, jobs ...string) {
		t.Helper()
		for _, job := range jobs {
			skipped(at, job, 0)
		}
	}
	at := func(d time.Duration) time.Time { return A.Add(d) }
	mi := time.Minute

	// S0: a scheduled time an hour ahead of the clock is refused; nothing
	// is read or written.
	_, err = collX.Run(ctx, time.Now().Add(time.Hour), cfgX.Jobs)
	require.ErrorContains(t, err, "ahead of the clock")
	got, err := q.Query(ctx, `count({__name__=~"sigmawatch_.+|aws_.+"})`, time.Now())
	require.NoError(t, err)
	require.Empty(t, got, "a future T writes nothing")

	// S1: first run: each series' own window; the hourly and daily periods
	// that ended before T; the colliding pair dropped, its job's other
	// metric collected.
	sum := run(collX, cfgX, at(15*mi))
	require.Equal(t, 2, sum.DroppedSeries, "requestCount and request_count map to one series")
	run(collE, cfgE, at(15*mi))
	e.cover(mi, A, at(5*mi), ia, iterm, ib, depthMax, sM1, colFine)
	e.cover(5*mi, A, at(5*mi), sM5)
	hourly(A.Add(-time.Hour), at(15*mi), sMH)
	if rc.daily == config.TimestampScheduled {
		e.stamp(24*time.Hour, A.Add(-24*time.Hour), at(15*mi), sMD)
	} else {
		e.cover(24*time.Hour, A.Add(-24*time.Hour), A, sMD)
	}
	check("S1 first run, two regions, two accounts, 1m/5m/1h/1d, a colliding pair")
	dropped, err := q.Query(ctx, fmt.Sprintf(`%s{job="collide"}`, collector.DroppedMetric), at(15*mi))
	require.NoError(t, err)
	require.Len(t, dropped, 1)
	require.InDelta(t, 2, dropped[0].V, 0)
	for _, s := range []mSeries{colA, colB} {
		require.Nil(t, e.want[s.key()])
	}

	// S2: the next run, then its retry, which finds everything covered.
	runBoth(at(20 * mi))
	e.cover(mi, at(5*mi), at(10*mi), ia, iterm, ib, depthMax, sM1, colFine)
	e.cover(5*mi, at(5*mi), at(10*mi), sM5)
	sum = run(collX, cfgX, at(20*mi))
	require.Zero(t, sum.Requests, "a retry writes nothing")
	check("S2 steady run and its retry")

	// S3: other's delay 10m → 5m: five more minutes for it, no gap.
	collX = newX(xVersion{shards: 4, otherDelay: "5m", otherLen: "5m", depthStats: "Maximum"})
	runBoth(at(25 * mi))
	e.cover(mi, at(10*mi), at(20*mi), depthMax)
	e.cover(mi, at(10*mi), at(15*mi), ia, iterm, ib, sM1, colFine)
	e.cover(5*mi, at(10*mi), at(15*mi), sM5)
	check("S3 delay 10m → 5m")
	noneSkipped(at(25*mi), "ec2", "other", "mixed", "collide")

	// A new instance appears, with datapoints since A+10m: its unit is
	// covered until A+15m already.
	seed(inew, at(10*mi), A.Add(3*time.Hour), time.Minute)

	// S4: other's delay 5m → 15m: nothing is due for it until the clock
	// catches up (it would resend otherwise). The new instance is fetched
	// from the catch-up limit, not from its unit's progress.
	collX = newX(xVersion{shards: 4, otherDelay: "15m", otherLen: "5m", depthStats: "Maximum"})
	runBoth(at(30 * mi))
	e.cover(mi, at(15*mi), at(20*mi), ia, iterm, ib, sM1, colFine)
	e.cover(5*mi, at(15*mi), at(20*mi), sM5)
	e.cover(mi, at(10*mi), at(20*mi), inew)
	check("S4 delay 5m → 15m, a new instance")
	noneSkipped(at(30*mi), "ec2", "mixed", "collide")

	// S5: still nothing due for other.
	runBoth(at(35 * mi))
	e.cover(mi, at(20*mi), at(25*mi), ia, iterm, ib, inew, sM1, colFine)
	e.cover(5*mi, at(20*mi), at(25*mi), sM5)
	check("S5 delay 15m, the clock catching up")

	// S6: other's delay back to 10m.
	collX = newX(xVersion{shards: 4, otherDelay: "10m", otherLen: "5m", depthStats: "Maximum"})
	runBoth(at(40 * mi))
	e.cover(mi, at(20*mi), at(30*mi), depthMax)
	e.cover(mi, at(25*mi), at(30*mi), ia, iterm, ib, inew, sM1, colFine)
	e.cover(5*mi, at(25*mi), at(30*mi), sM5)
	check("S6 delay 15m → 10m")
	noneSkipped(at(40*mi), "other")

	// S7: progress_shards 4 → 8, other's length 5m → 10m (first runs only),
	// mixed's 5m metric → 1h.
	collX = newX(xVersion{shards: 8, otherDelay: "10m", otherLen: "10m", depthStats: "Maximum", m5Hourly: true})
	runBoth(at(45 * mi))
	e.cover(mi, at(30*mi), at(35*mi), ia, iterm, ib, inew, depthMax, sM1, colFine)
	check("S7 shards 4 → 8, length, period 5m → 1h")
	noneSkipped(at(45*mi), "other", "mixed", "collide")

	// S8: progress_shards 8 → 4: the 4-shard progress is older than the
	// 8-shard one and must not win.
	collX = newX(xVersion{shards: 4, otherDelay: "10m", otherLen: "10m", depthStats: "Maximum", m5Hourly: true})
	runBoth(at(50 * mi))
	e.cover(mi, at(35*mi), at(40*mi), ia, iterm, ib, inew, depthMax, sM1, colFine)
	check("S8 shards 8 → 4")
	noneSkipped(at(50*mi), "other", "mixed", "collide")

	// S9: a statistic and a metric added to other; collide renamed.
	collX = newX(xVersion{shards: 4, otherDelay: "10m", otherLen: "10m", depthStats: "Maximum, Minimum", withDepth2: true, m5Hourly: true, renameCol: true})
	runBoth(at(55 * mi))
	e.cover(mi, at(40*mi), at(45*mi), ia, ib, inew, depthMax, depthMin, sM1)
	e.cover(mi, at(35*mi), at(45*mi), depth2Max) // a first run: other's length is 10m
	e.cover(mi, at(40*mi), at(45*mi), col2Fine)  // a new job: a first run
	check("S9 statistic added, metric added, job renamed")
	noneSkipped(at(55*mi), "other", "collide_v2")

	// S10: the added metric removed again.
	collX = newX(xVersion{shards: 4, otherDelay: "10m", otherLen: "10m", depthStats: "Maximum, Minimum", m5Hourly: true, renameCol: true})
	runBoth(at(60 * mi))
	e.cover(mi, at(45*mi), at(50*mi), ia, ib, inew, depthMax, depthMin, sM1, col2Fine)
	check("S10 metric removed")

	// S11: and back: it catches up from its own progress, within max_catch_up.
	xFinal := xVersion{shards: 4, otherDelay: "10m", otherLen: "10m", depthStats: "Maximum, Minimum", withDepth2: true, m5Hourly: true, renameCol: true}
	collX = newX(xFinal)
	runBoth(at(65 * mi))
	e.cover(mi, at(50*mi), at(55*mi), ia, ib, inew, depthMax, depthMin, sM1, col2Fine)
	e.cover(mi, at(45*mi), at(55*mi), depth2Max)
	check("S11 metric added back")
	noneSkipped(at(65*mi), "other")

	// S12: CloudWatch answers every call after 600 ms and the run has 2 s:
	// calls that would not finish are not started, and the run fails for
	// what it did not write.
	cwProxy.Set(&testenv.Fault{Delay: 600 * time.Millisecond})
	shortCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, errE := collE.Run(shortCtx, at(70*mi), cfgE.Jobs)
	cancel()
	cwProxy.Set(nil)
	require.Error(t, errE, "two regions' listing and data calls at 600 ms each do not fit in 2 s")
	t.Logf("%s: S12 run with calls that do not fit its deadline: %v", rc.name, errE)
	require.NoError(t, r.Flush(ctx))
	run(collX, cfgX, at(70*mi))
	e.cover(mi, at(55*mi), at(60*mi), depthMax, depthMin, depth2Max, sM1, col2Fine)
	// The hour A is due: the metric that was 5m until S7 gives up the half
	// hour its 5m periods left half covered; the hourly one writes hour A.
	hourly(A, at(70*mi), sMH)
	skipped(at(70*mi), "mixed", 30*mi)

	// S13: the next run catches up what S12 could not fetch.
	runBoth(at(75 * mi))
	e.cover(mi, at(55*mi), at(65*mi), ia, ib, inew)
	e.cover(mi, at(60*mi), at(65*mi), depthMax, depthMin, depth2Max, sM1, col2Fine)
	check("S12-S13 a run past its deadline, then catch-up")
	skipped(at(75*mi), "ec2", 0)

	// S14: an outage of 75 minutes: 45 are caught up, 30 given up and
	// counted; the hour A+1h is written.
	runBoth(at(150 * mi))
	e.cover(mi, at(95*mi), at(140*mi), ia, ib, inew, depthMax, depthMin, depth2Max, sM1, col2Fine)
	hourly(A.Add(time.Hour), at(150*mi), sMH, sM5)
	check("S14 outage beyond max_catch_up")
	for _, job := range []string{"ec2", "other", "mixed", "collide_v2"} {
		skipped(at(150*mi), job, 30*mi)
	}
}

// requireStored compares every stored aws_* sample of the matrix's jobs with
// want, and fails on a sample stored twice.
func requireStored(t *testing.T, ctx context.Context, r *testenv.Receiver, q *promql.Client, want map[string]map[int64]float64, at time.Time) {
	t.Helper()
	require.NoError(t, r.Flush(ctx))
	sel := `{__name__=~"aws_.+",job=~"ec2|other|mixed|collide|collide_v2"}`
	series, err := q.QuerySeries(ctx, sel+"[2d]", at)
	require.NoError(t, err)
	got := map[string]map[int64]float64{}
	total := 0
	for _, s := range series {
		k := storedKey(s.Labels)
		require.Nil(t, got[k], "%s: two series", k)
		got[k] = map[int64]float64{}
		for _, p := range s.Points {
			_, dup := got[k][p.T.UnixMilli()]
			require.False(t, dup, "%s: two samples at %s", k, p.T)
			got[k][p.T.UnixMilli()] = p.V
			total++
		}
	}
	if r.Kind == "victoriametrics" {
		counts, err := q.Query(ctx, fmt.Sprintf(`sum(count_over_time(%s[2d]))`, sel), at)
		require.NoError(t, err)
		require.Len(t, counts, 1)
		require.InDelta(t, float64(total), counts[0].V, 0, "VictoriaMetrics stored a sample twice")
	}
	wantKeys, gotKeys := sortedKeys(want), sortedKeys(got)
	wantKeys = slices.DeleteFunc(wantKeys, func(k string) bool { return len(want[k]) == 0 })
	require.Equal(t, wantKeys, gotKeys, "series")
	for k, pts := range want {
		if len(pts) == 0 {
			continue
		}
		require.Len(t, got[k], len(pts), "%s: samples", k)
		for ts, v := range pts {
			g, ok := got[k][ts]
			require.True(t, ok, "%s: missing sample at %s", k, time.UnixMilli(ts).UTC())
			if r.Kind == "victoriametrics" {
				require.InEpsilon(t, v, g, 1e-12, "%s at %s", k, time.UnixMilli(ts).UTC())
			} else {
				require.Equal(t, math.Float64bits(v), math.Float64bits(g), "%s at %s: want %v got %v", k, time.UnixMilli(ts).UTC(), v, g)
			}
		}
	}
}
