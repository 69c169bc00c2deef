package alerting_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// stored is one series to write into Prometheus.
type stored struct {
	labels map[string]string
	points []backtest.Point
}

// store writes every series in time slices, all series together, as a
// stock Prometheus wants them (its head refuses samples far older than what
// it already holds).
func store(t *testing.T, w *remotewrite.Client, ss []stored) {
	t.Helper()
	var first, last time.Time
	for _, s := range ss {
		for _, p := range s.points {
			if first.IsZero() || p.Time.Before(first) {
				first = p.Time
			}
			if p.Time.After(last) {
				last = p.Time
			}
		}
	}
	for from := first; !from.After(last); from = from.Add(6 * time.Hour) {
		var batch []remotewrite.Series
		for _, s := range ss {
			rs := remotewrite.Series{}
			for _, k := range slices.Sorted(maps.Keys(s.labels)) {
				rs.Labels = append(rs.Labels, remotewrite.Label{Name: k, Value: s.labels[k]})
			}
			for _, p := range s.points {
				if !p.Time.Before(from) && p.Time.Before(from.Add(6*time.Hour)) {
					rs.Samples = append(rs.Samples, remotewrite.Sample{T: p.Time.UnixMilli(), V: p.Value})
				}
			}
			if len(rs.Samples) > 0 {
				batch = append(batch, rs)
			}
		}
		require.NoError(t, w.Write(context.Background(), batch))
	}
}

// noisy is a series every step over [from, to] of level ± noise, with
// value(t, v) free to change a point.
func noisy(seed uint64, from, to time.Time, step time.Duration, level, noise float64, value func(time.Time, float64) float64) []backtest.Point {
	rng := rand.New(rand.NewPCG(seed, 99))
	var out []backtest.Point
	for ts := from; !ts.After(to); ts = ts.Add(step) {
		v := level + noise*rng.NormFloat64()
		if value != nil {
			v = value(ts, v)
		}
		out = append(out, backtest.Point{Time: ts, Value: v})
	}
	return out
}

// shippedLike is the shipped detector with a shorter baseline, so a test
// needs two days of data rather than eight.
func shippedLike() rules.Anomaly {
	d := anomaly.DefaultParams()
	return rules.Anomaly{
		Method: d.Method, Direction: d.Direction, Baseline: config.Duration(24 * time.Hour),
		Threshold: d.Threshold, ResolveThreshold: d.ResolveThreshold, MinHistory: config.Duration(6 * time.Hour),
		MinStddev: d.MinStdDev, MinRelativeStddev: d.MinRelativeStdDev,
		Smoothing: rules.Window(d.Smoothing), Sustained: rules.Window(d.Sustained), SustainedThreshold: d.SustainedThreshold,
	}
}

// deployedEqualsBacktest replays rule with the backtest's Prometheus mode
// over [from, to], then evaluates it the deployed way at every minute of
// [from, to] offset by phase, and checks each evaluation against the
// backtest tick at the newest point it read: the same current value,
// baseline and z, and the same z of the window's latest point and median and
// of the sustained average, to 1e-9 (an auto rule incrementally, from
// the detector states persisted at each tick). Advance, run at every deployed
// tick, must fire and resolve on the same points as the backtest. It
// returns the backtest's series.
func deployedEqualsBacktest(t *testing.T, q *promql.Client, rule rules.Rule, from, to time.Time, phase time.Duration) []backtest.Replayed {
	t.Helper()
	ctx := context.Background()
	settings := rules.DefaultSettings()
	interval := time.Duration(settings.Interval)
	replayed, err := backtest.ReplayPrometheus(ctx, q, rule, settings, from, to)
	require.NoError(t, err)
	require.NotEmpty(t, replayed)
	ticks := map[string]map[time.Time]backtest.Tick{}
	var btFired, btResolved []string
	for _, rp := range replayed {
		ticks[rp.Fingerprint] = map[time.Time]backtest.Tick{}
		for _, tk := range rp.Ticks {
			ticks[rp.Fingerprint][tk.Time] = tk
			switch tk.Notification.Kind {
			case alerting.KindFiring:
				btFired = append(btFired, rp.Fingerprint+"@"+tk.Time.Format(time.RFC3339))
			case alerting.KindResolved:
				btResolved = append(btResolved, rp.Fingerprint+"@"+tk.Time.Format(time.RFC3339))
			}
		}
	}

	// The deployed path: an auto rule advances the detector states the
	// run before persisted, a window rule combines the hour summaries
	// (in a Prometheus of their own, whose head starts at the first run
	// rather than at the data's end).
	var (
		stateW *remotewrite.Client
		states *alerting.Store
	)
	if alerting.SpecOf(rule).Detector != nil {
		var sq *promql.Client
		stateW, sq = clients(t)
		states = alerting.NewStore(sq, "deployed")
	}
	state := map[string]alerting.Stored{}
	var fired, resolved []string
	compared, windowRuns, fromSummaries := 0, 0, 0
	for at := from.Add(phase); !at.After(to.Add(phase)); at = at.Add(interval) {
		e := alerting.Evaluator{Query: q, Store: states, Step: interval, Scheduled: at}
		ev, err := e.Evaluate(ctx, rule, at)
		require.NoError(t, err)
		if states != nil && ev.Persist != nil {
			require.Zero(t, ev.Progress.Behind)
			require.NoError(t, stateW.Write(ctx, states.DetectorSeries(at, alerting.RefOf(rule), *ev.Persist)))
		}
		if states != nil && alerting.SpecOf(rule).Detector.Method == anomaly.MethodWindow {
			windowRuns++
			if ev.Progress.Summaries > 0 {
				fromSummaries++
			}
		}
		require.False(t, ev.DataAt.IsZero(), "%s: no data", at)
		require.False(t, ev.DataAt.After(at))
		for _, o := range ev.Series {
			tk, ok := ticks[o.Fingerprint][ev.DataAt]
			if !ok {
				continue // before from
			}
			compared++
			want := tk.Result
			require.Equal(t, want.Status, o.Result.Status, "%s %v", ev.DataAt, o.Labels)
			require.Equal(t, want.N, o.Result.N, "%s %v: baseline points", ev.DataAt, o.Labels)
			for _, v := range [][2]float64{{want.Value, o.Result.Value}, {want.Center, o.Result.Center}, {want.Spread, o.Result.Spread}, {want.Z, o.Result.Z}} {
				require.InEpsilon(t, v[0]+1e-300, v[1]+1e-300, 1e-9, "%s %v: %+v vs %+v", ev.DataAt, o.Labels, want, o.Result)
			}
			for _, c := range []struct {
				name string
				got  *anomaly.Result
				want float64
			}{{"latest", o.Latest, tk.LatestZ}, {"median", o.Median, tk.MedianZ}, {"sustained", o.Sustained, tk.SustainedZ}} {
				if c.got != nil || c.want != 0 {
					require.NotNil(t, c.got, "%s %v: %s", ev.DataAt, o.Labels, c.name)
					require.InEpsilon(t, c.want+1e-300, c.got.Z+1e-300, 1e-9, "%s %v: %s z", ev.DataAt, o.Labels, c.name)
				}
			}
		}
		outs := alerting.Advance(ev, state, at)
		state = map[string]alerting.Stored{}
		for _, o := range outs {
			state[o.Key.Fingerprint] = alerting.Stored{Labels: o.Labels, State: o.Next}
			switch o.Notification.Kind {
			case alerting.KindFiring:
				fired = append(fired, o.Key.Fingerprint+"@"+ev.DataAt.Format(time.RFC3339))
			case alerting.KindResolved:
				resolved = append(resolved, o.Key.Fingerprint+"@"+ev.DataAt.Format(time.RFC3339))
			}
		}
	}
	require.Positive(t, compared)
	t.Logf("window rule: %d of %d runs from hour summaries", fromSummaries, windowRuns)
	require.Equal(t, btFired, fired, "the deployed function fires on the points the backtest fires on")
	require.Equal(t, btResolved, resolved, "and resolves on the same points")
	return replayed
}

// TestBacktestEqualsDeployed is item 5 of issue 12: the windows are
// durations and the backtest reads the data at its own resolution, so on
// 1-minute data, on 5-minute data and on an aggregated expression over
// 5-minute series the deployed evaluation (at a schedule phase off the data's
// grid) and the backtest compute the same numbers and page on the same
// points. Before, the backtest laid every series on a 1-minute grid
// (repeating each 5-minute point five times) while the deployed function
// read plain selectors raw: "smoothing 3" meant 3 minutes in one and 15 in
// the other, and the two fired on different series.
func TestBacktestEqualsDeployed(t *testing.T) {
	t.Parallel()
	w, q := clients(t)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-36 * time.Hour)
	from := end.Add(-150 * time.Minute)
	burst := func(amount float64) func(time.Time, float64) float64 {
		return func(ts time.Time, v float64) float64 {
			if !ts.Before(end.Add(-100*time.Minute)) && ts.Before(end.Add(-70*time.Minute)) {
				return v + amount
			}
			return v
		}
	}
	lb := func(name string, kv ...string) map[string]string {
		return lbl(append([]string{"__name__", name}, kv...)...)
	}
	store(t, w, []stored{
		{lb("sw_one", "host", "a"), noisy(1, start, end, time.Minute, 100, 3, burst(80))},
		{lb("sw_one", "host", "b"), noisy(2, start, end, time.Minute, 100, 3, nil)},
		{lb("sw_five", "host", "a"), noisy(3, start, end, 5*time.Minute, 100, 3, burst(80))},
		{lb("sw_five", "host", "b"), noisy(4, start, end, 5*time.Minute, 100, 3, nil)},
		{lb("sw_parts", "svc", "x", "part", "1"), noisy(5, start, end, 5*time.Minute, 30, 2, burst(60))},
		{lb("sw_parts", "svc", "x", "part", "2"), noisy(6, start, end, 5*time.Minute, 30, 2, nil)},
		{lb("sw_parts", "svc", "x", "part", "3"), noisy(7, start, end, 5*time.Minute, 30, 2, nil)},
		{lb("sw_parts", "svc", "y", "part", "1"), noisy(8, start, end, 5*time.Minute, 30, 2, nil)},
	})
	for _, tc := range []struct {
		name, expr string
		phase      time.Duration
		wantPoints int // per series and hour
		method     anomaly.Method
	}{
		{"1-minute data", "sw_one", 40 * time.Second, 60, anomaly.MethodAuto},
		{"5-minute data", "sw_five", 3*time.Minute + 20*time.Second, 12, anomaly.MethodAuto},
		{"aggregated 5-minute data", "sum by (svc) (sw_parts)", 2*time.Minute + 10*time.Second, 12, anomaly.MethodAuto},
		// The window method from hour summaries (moments.go).
		{"window method, 1-minute data", "sw_one", 40 * time.Second, 60, anomaly.MethodWindow},
		{"window method, aggregated 5-minute data", "sum by (svc) (sw_parts)", 2*time.Minute + 10*time.Second, 12, anomaly.MethodWindow},
		// The robust method from its hourly checkpoints (robust.go).
		{"robust method, 1-minute data", "sw_one", 40 * time.Second, 60, anomaly.MethodRobust},
		{"robust method, aggregated 5-minute data", "sum by (svc) (sw_parts)", 2*time.Minute + 10*time.Second, 12, anomaly.MethodRobust},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := shippedLike()
			a.Method = tc.method
			rule := anomalyRule(tc.expr, a)
			rule.RepeatInterval = config.Duration(4 * time.Hour)
			replayed := deployedEqualsBacktest(t, q, rule, from, end, tc.phase)
			require.Len(t, replayed, 2)
			for _, rp := range replayed {
				require.Len(t, rp.Ticks, int(end.Sub(from).Hours()*float64(tc.wantPoints))+1, "%v: one tick per stored point", rp.Labels)
				wantFire := rp.Labels["host"] == "a" || rp.Labels["svc"] == "x"
				require.Equal(t, wantFire, rp.Summary.Firings == 1, "%v: %+v", rp.Labels, rp.Summary)
				require.Equal(t, wantFire, rp.Summary.Resolves == 1, "%v: %+v", rp.Labels, rp.Summary)
			}
		})
	}
}

// TestNaNDoesNotBlindTheBaseline is item 6 of issue 12: one 0/0 in a ratio
// (a NaN point) used to poison avg_over_time for the whole baseline, so the
// deployed function called the series "insufficient data, N=0" for seven
// days while the backtest scored it from 864 points. NaN and ±Inf are now
// dropped inside the aggregates, for an expression and for a plain selector
// whose raw samples hold them (a recorded ratio with ±Inf), and deployed =
// backtest.
func TestNaNDoesNotBlindTheBaseline(t *testing.T) {
	t.Parallel()
	w, q := clients(t)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-3 * 24 * time.Hour)
	from := end.Add(-40 * time.Minute)
	poisoned := end.Add(-20 * time.Hour)
	req := noisy(1, start, end, 5*time.Minute, 1000, 30, func(ts time.Time, v float64) float64 {
		if ts.Equal(poisoned) {
			return 0 // no requests: err/req is 0/0
		}
		return v
	})
	errs := noisy(2, start, end, 5*time.Minute, 10, 1, func(ts time.Time, v float64) float64 {
		if ts.Equal(poisoned) {
			return 0
		}
		return v
	})
	ratio := make([]backtest.Point, len(req))
	for i := range req {
		ratio[i] = backtest.Point{Time: req[i].Time, Value: errs[i].Value / req[i].Value}
	}
	// A recorded ratio with ±Inf samples (the project's own remote-write
	// sender refuses NaN, so the raw samples here are infinite instead).
	recorded := slices.Clone(ratio)
	for i, p := range recorded {
		if math.IsNaN(p.Value) {
			recorded[i].Value = math.Inf(-1)
		}
	}
	recorded[len(recorded)/2].Value = math.Inf(1)
	store(t, w, []stored{
		{lbl("__name__", "sw_req", "svc", "x"), req},
		{lbl("__name__", "sw_err", "svc", "x"), errs},
		{lbl("__name__", "sw_err_ratio", "svc", "x"), recorded},
	})
	for _, tc := range []struct {
		expr   string
		points []backtest.Point
		method anomaly.Method
	}{
		{"sw_err / sw_req", ratio, anomaly.MethodWindow},
		{"sw_err_ratio", recorded, anomaly.MethodWindow},
		{"sw_err / sw_req", ratio, anomaly.MethodAuto},
		{"sw_err_ratio", recorded, anomaly.MethodAuto},
	} {
		t.Run(tc.expr+" "+string(tc.method), func(t *testing.T) {
			t.Parallel()
			a := shippedLike()
			a.Method = tc.method
			a.Baseline = config.Duration(3 * 24 * time.Hour)
			rule := anomalyRule(tc.expr, a)
			ev, err := alerting.Evaluate(context.Background(), q, rule, end.Add(2*time.Minute), time.Minute)
			require.NoError(t, err)
			require.Len(t, ev.Series, 1)
			r := ev.Series[0].Result
			require.True(t, r.OK(), "one NaN must not make the series insufficient data: %+v", r)
			finitePoints := 0
			for _, p := range tc.points {
				if !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) && p.Time.After(end.Add(-3*24*time.Hour)) {
					finitePoints++
				}
			}
			if tc.method == anomaly.MethodWindow {
				// The auto method's N is its hour bucket's, not a count.
				require.Equal(t, finitePoints, r.N, "every finite point of the baseline counts")
			}
			deployedEqualsBacktest(t, q, rule, from, end, 90*time.Second)
		})
	}
}

// collectSchedule writes a series the way collect does with period p and
// delay d on a schedule every interval at phase off the interval's grid:
// the run at T writes every point up to its window's end,
// align(T−delay, p), and the write lands runTime after T.
type collectSchedule struct {
	period, delay, interval, phase, runTime time.Duration
}

// storedBy is the newest point written by time now: the window end of the
// last run whose write had landed, minus one period.
func (c collectSchedule) storedBy(now time.Time) time.Time {
	lastRun := now.Add(-c.phase - c.runTime).Truncate(c.interval).Add(c.phase)
	return lastRun.Add(-c.delay).Truncate(c.period).Add(-c.period)
}

// TestThresholdRuleFiresAtEveryPhase is item 1 of issue 12 with the shipped
// configs: EC2 status checks are collected with a 5-minute period and a
// 10-minute delay every 5 minutes, at whatever phase the schedule was
// created with; the alert runs every minute. EC2StatusCheckFailed (for: 10m,
// keep_firing_for 0) must fire once and resolve once at every phase, and
// never flap. Before, the rule was evaluated with an instant query at
// T−15m (evaluation_delay): with the collect schedule 2, 3 or 4 minutes off
// the grid the query came back empty at some ticks, the pending state was
// lost and the alert never fired; at other phases it flapped.
func TestThresholdRuleFiresAtEveryPhase(t *testing.T) {
	t.Parallel()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	rf, err := rules.LoadFile(filepath.Join(root, "infra", "examples", "rules.yaml"))
	require.NoError(t, err)
	cf, err := config.LoadCollectFile(filepath.Join(root, "infra", "examples", "collect.yaml"))
	require.NoError(t, err)
	var rule rules.Rule
	for _, r := range rf.Rules() {
		if r.Alert == "EC2StatusCheckFailed" {
			rule = r
		}
	}
	require.Equal(t, "aws_ec2_status_check_failed_maximum > 0", rule.Expr)
	require.Zero(t, rule.KeepFiringFor, "the shipped rule does not hide flapping behind keep_firing_for")
	var period, delay time.Duration
	for _, j := range cf.Jobs {
		for _, m := range j.Metrics {
			if j.Namespace == "AWS/EC2" && m.Name == "StatusCheckFailed" {
				period, delay = m.Period.D(), m.Delay.D()
			}
		}
	}
	require.Equal(t, 5*time.Minute, period)
	interval := time.Duration(rf.Settings.Interval)

	failFrom := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	failTo := failFrom.Add(time.Hour)
	start, end := failFrom.Add(-time.Hour), failTo.Add(90*time.Minute)
	value := func(ts time.Time) float64 {
		if !ts.Before(failFrom) && ts.Before(failTo) {
			return 1
		}
		return 0
	}
	for _, store := range []string{"prometheus", "victoriametrics"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			var recv *testenv.Receiver
			if store == "prometheus" {
				recv = testenv.StartPrometheus(t, testenv.PrometheusOptions{})
			} else {
				recv = testenv.StartVictoriaMetrics(t)
			}
			w, err := remotewrite.NewClient(recv.RemoteWriteURL)
			require.NoError(t, err)
			q, err := promql.NewClient(recv.URL, http.DefaultTransport)
			require.NoError(t, err)
			ctx := context.Background()
			phases := []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4*time.Minute + 30*time.Second}
			schedules := make([]collectSchedule, len(phases))
			written := make([]time.Time, len(phases))
			for i, ph := range phases {
				schedules[i] = collectSchedule{period: period, delay: delay, interval: time.Duration(cf.Interval), phase: ph, runTime: 40 * time.Second}
				written[i] = start.Add(-period)
			}
			instance := func(i int) string { return fmt.Sprintf("i-phase%d", i) }
			state := map[string]alerting.Stored{}
			events := map[string][]string{}
			for at := start.Add(30 * time.Minute); !at.After(end); at = at.Add(interval) {
				// What each collect schedule has stored by now.
				var batch []remotewrite.Series
				for i, c := range schedules {
					s := remotewrite.Series{Labels: []remotewrite.Label{
						{Name: "__name__", Value: "aws_ec2_status_check_failed_maximum"}, {Name: "dimension_InstanceId", Value: instance(i)},
					}}
					for ts := written[i].Add(period); !ts.After(c.storedBy(at)); ts = ts.Add(period) {
						if !ts.Before(start) {
							s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: value(ts)})
						}
						written[i] = ts
					}
					if len(s.Samples) > 0 {
						batch = append(batch, s)
					}
				}
				if len(batch) > 0 {
					require.NoError(t, w.Write(ctx, batch))
					if store == "victoriametrics" {
						require.NoError(t, recv.Flush(ctx))
					}
				}
				ev, err := alerting.Evaluate(ctx, q, rule, at.Add(-time.Duration(rf.Settings.EvaluationDelay)), interval)
				require.NoError(t, err)
				outs := alerting.Advance(ev, state, at)
				state = map[string]alerting.Stored{}
				for _, o := range outs {
					state[o.Key.Fingerprint] = alerting.Stored{Labels: o.Labels, State: o.Next}
					if o.Notification.Kind != alerting.KindNone {
						id := o.Labels["dimension_InstanceId"]
						events[id] = append(events[id], fmt.Sprintf("%s %s", o.Notification.Kind, at.Sub(failFrom)))
					}
				}
			}
			for i, ph := range phases {
				ev := events[instance(i)]
				require.Len(t, ev, 2, "phase %s: one firing and one resolved, no flapping: %v", ph, ev)
				require.True(t, strings.HasPrefix(ev[0], "firing "), "phase %s: %v", ph, ev)
				require.True(t, strings.HasPrefix(ev[1], "resolved "), "phase %s: %v", ph, ev)
				t.Logf("phase %s: %v", ph, ev)
			}
		})
	}
}

// TestTimeToPage measures, with the shipped rules and the shipped collect
// config's timing (delay 10m, every 5 minutes, at each phase 0–4½ minutes
// off the grid, the write landing 40s after the run), the time from the
// CloudWatch timestamp of a burst's first point to the alert run that fires
// (and so publishes), and from the first normal point after it to the run
// that resolves, for a 5-minute metric (EC2CPUAnomaly) and a 1-minute one
// (RDSCPUAnomaly), bursts of 40σ, 10σ and 7σ lasting 30 minutes, over 7
// days of history. The table it logs is BENCHMARKS.md's "Time to page". The
// times are simulated (scheduled times), so they are exact and repeatable.
// The rules are evaluated the deployed way: each run advances the detector
// states the run before persisted in the store (the full replay's
// decisions, TestIncrementalEqualsFullReplay), so only the first run reads
// the seven days.
func TestTimeToPage(t *testing.T) {
	t.Parallel()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	rf, err := rules.LoadFile(filepath.Join(root, "infra", "examples", "rules.yaml"))
	require.NoError(t, err)
	cf, err := config.LoadCollectFile(filepath.Join(root, "infra", "examples", "collect.yaml"))
	require.NoError(t, err)
	metrics := []struct {
		rule, name, namespace, metric string
	}{
		{"EC2CPUAnomaly", "aws_ec2_cpuutilization_average", "AWS/EC2", "CPUUtilization"},
		{"RDSCPUAnomaly", "aws_rds_cpuutilization_average", "AWS/RDS", "CPUUtilization"},
	}
	byName := map[string]rules.Rule{}
	for _, r := range rf.Rules() {
		byName[r.Alert] = r
	}
	timing := map[string]collectSchedule{}
	for _, m := range metrics {
		for _, j := range cf.Jobs {
			for _, cm := range j.Metrics {
				if j.Namespace == m.namespace && cm.Name == m.metric {
					timing[m.name] = collectSchedule{period: cm.Period.D(), delay: cm.Delay.D(), interval: cf.Interval.D(), runTime: 40 * time.Second}
				}
			}
		}
		require.Contains(t, timing, m.name)
		require.NotNil(t, byName[m.rule].Anomaly)
	}
	require.Equal(t, 5*time.Minute, timing["aws_ec2_cpuutilization_average"].period)
	require.Equal(t, time.Minute, timing["aws_rds_cpuutilization_average"].period)

	const level, noise = 50.0, 2.5 // σ = the 5% floor
	phases := []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4*time.Minute + 30*time.Second}
	sizes := []float64{40, 10, 7} // the burst, in σ
	burstFrom := time.Date(2026, 11, 9, 10, 0, 0, 0, time.UTC)
	normalAgain := burstFrom.Add(30 * time.Minute)
	start := burstFrom.Add(-7*24*time.Hour - 2*time.Hour)
	type key struct {
		name  string
		phase time.Duration
		size  float64
	}
	id := func(k key) string { return fmt.Sprintf("p%s-%gsigma", k.phase, k.size) }
	value := func(k key, ts time.Time) float64 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(id(k) + k.name))
		v := level + noise*rand.New(rand.NewPCG(h.Sum64(), uint64(ts.Unix()))).NormFloat64()
		if !ts.Before(burstFrom) && ts.Before(normalAgain) {
			v += k.size * noise
		}
		return v
	}
	var keys []key
	for _, m := range metrics {
		for _, ph := range phases {
			for _, sz := range sizes {
				keys = append(keys, key{m.name, ph, sz})
			}
		}
	}
	w, q := clients(t)
	ctx := context.Background()
	written := map[key]time.Time{}
	write := func(now time.Time) {
		var batch []remotewrite.Series
		for _, k := range keys {
			c := timing[k.name]
			c.phase = k.phase
			last, ok := written[k]
			if !ok {
				last = start.Add(-c.period)
			}
			s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: k.name}, {Name: "dimension_Id", Value: id(k)}, {Name: "phase", Value: k.phase.String()}}}
			for ts := last.Add(c.period); !ts.After(c.storedBy(now)); ts = ts.Add(c.period) {
				s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: value(k, ts)})
				last = ts
			}
			written[k] = last
			if len(s.Samples) > 0 {
				batch = append(batch, s)
			}
		}
		for _, part := range remotewrite.Batches(batch, 200_000, 0) {
			require.NoError(t, w.Write(ctx, part))
		}
	}
	// History up to shortly before the burst, in day-long slices.
	for now := start.Add(24 * time.Hour); now.Before(burstFrom.Add(-10 * time.Minute)); now = now.Add(24 * time.Hour) {
		write(now)
	}
	fired, resolved := map[string]time.Duration{}, map[string]time.Duration{}
	count := map[string]int{}
	states := map[string]map[string]alerting.Stored{}
	st := alerting.NewStore(q, "ttp")
	for at := burstFrom.Add(-10 * time.Minute); !at.After(normalAgain.Add(45 * time.Minute)); at = at.Add(time.Minute) {
		write(at)
		var records []remotewrite.Series
		for _, m := range metrics {
			for _, ph := range phases {
				// One rule per collect phase: a metric's series are all
				// collected by one schedule, and a rule is evaluated at its
				// own newest data.
				r := byName[m.rule]
				r.Expr = fmt.Sprintf("%s{phase=%q}", r.Expr, ph)
				// The deployed path: the detector states persisted in
				// the store by the run before, advanced by the new points.
				e := alerting.Evaluator{Query: q, Store: st, Step: time.Duration(rf.Settings.Interval), Scheduled: at}
				ev, err := e.Evaluate(ctx, r, at)
				require.NoError(t, err)
				require.Zero(t, ev.Progress.Behind)
				records = append(records, st.DetectorSeries(at, alerting.RefOf(r), *ev.Persist)...)
				sk := r.Expr
				outs := alerting.Advance(ev, states[sk], at)
				states[sk] = map[string]alerting.Stored{}
				for _, o := range outs {
					states[sk][o.Key.Fingerprint] = alerting.Stored{Labels: o.Labels, State: o.Next}
					name := m.name + " " + o.Labels["dimension_Id"]
					switch o.Notification.Kind {
					case alerting.KindFiring:
						fired[name] = at.Sub(burstFrom)
						count[name]++
					case alerting.KindResolved:
						resolved[name] = at.Sub(normalAgain)
						count[name]++
					}
				}
			}
		}
		require.NoError(t, w.Write(ctx, records))
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| metric | collect phase | burst | time to page | resolved after the first normal point |\n|---|---|---|---:|---:|\n")
	for _, k := range keys {
		name := k.name + " " + id(k)
		fmt.Fprintf(&table, "| %s | %s | %gσ | %s | %s |\n", k.name, k.phase, k.size, fired[name], resolved[name])
	}
	t.Logf("time to page with the shipped configs:\n%s", table.String())
	for _, k := range keys {
		name := k.name + " " + id(k)
		require.Equal(t, 2, count[name], "%s: one firing, one resolved", name)
		require.LessOrEqual(t, resolved[name], 30*time.Minute, name)
	}
}
