package alerting_test

import (
	"context"
	"math"
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
)

// robustWant is the definition of a robust baseline at at: the median and
// 1.4826·MAD of the points of (RobustEnd(at)−length, RobustEnd(at)].
func robustWant(p anomaly.Params, points []backtest.Point, at time.Time) anomaly.Baseline {
	end := p.RobustEnd(at)
	var vs []float64
	for _, pt := range points {
		if pt.Time.After(end.Add(-p.Baseline)) && !pt.Time.After(end) {
			vs = append(vs, pt.Value)
		}
	}
	return anomaly.RobustBaseline(vs)
}

// robustRun evaluates rule at at (the run's scheduled time) with a new
// Evaluator whose Store is in a Prometheus of its own (st, written through
// sw: its head starts at the first run, not at the data's end), as a new
// process does, and writes what the run persists.
func robustRun(t *testing.T, q *promql.Client, st *alerting.Store, sw *remotewrite.Client, rule rules.Rule, at time.Time, budget int) alerting.Evaluation {
	t.Helper()
	e := &alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at, HistoryBudget: budget}
	ev, err := e.Evaluate(context.Background(), rule, at)
	require.NoError(t, err, "at %s", at)
	if ev.Persist != nil {
		if records := st.DetectorSeries(at, alerting.RefOf(rule), *ev.Persist); len(records) > 0 {
			require.NoError(t, sw.Write(context.Background(), records))
		}
	}
	return ev
}

// TestRobustEqualsDefinition is the robust method's part of issue 14: on
// a real Prometheus, a robust rule over seven days of 1-minute data (and
// of 5-minute data, and an aggregated expression) is scored against the
// median and MAD of every point of its window, to 1e-9 — by the full path
// and by the Evaluator with a Store, which computes each series' baseline
// once per hour into a checkpoint, computes the next hour's ahead within
// its budget once its window's points are stored, and then reads only
// checkpoints. Before, the baseline was quantile_over_time over a
// subquery at ≤ 2,016 steps: 1-minute data over seven days was read every
// fifth point, and this failed (and a rule over 10,000 series took 105 s).
func TestRobustEqualsDefinition(t *testing.T) {
	t.Parallel()
	w, q := clients(t)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-8 * 24 * time.Hour)
	lb := func(name string, kv ...string) map[string]string {
		return lbl(append([]string{"__name__", name}, kv...)...)
	}
	data := []stored{
		{lb("rb_one", "host", "a"), noisy(41, start, end, time.Minute, 100, 3, nil)},
		{lb("rb_one", "host", "b"), noisy(42, start, end, time.Minute, 1e6, 300, nil)},
		{lb("rb_five", "host", "a"), noisy(43, start, end, 5*time.Minute, 20, 2, nil)},
		{lb("rb_parts", "svc", "x", "part", "1"), noisy(44, start, end, 5*time.Minute, 30, 2, nil)},
		{lb("rb_parts", "svc", "x", "part", "2"), noisy(45, start, end, 5*time.Minute, 10, 1, nil)},
	}
	store(t, w, data)
	sum := make([]backtest.Point, len(data[3].points))
	for i := range sum {
		sum[i] = backtest.Point{Time: data[3].points[i].Time, Value: data[3].points[i].Value + data[4].points[i].Value}
	}
	a := baseAnomaly()
	a.Method, a.Baseline, a.ExcludeRecent, a.MinHistory = anomaly.MethodRobust, config.Duration(7*24*time.Hour), 0, config.Duration(24*time.Hour)
	for _, tc := range []struct {
		name, expr string
		want       map[string][]backtest.Point // by the label that tells the series apart
		label      string
	}{
		{"1-minute data", "rb_one", map[string][]backtest.Point{"a": data[0].points, "b": data[1].points}, "host"},
		{"5-minute data", "rb_five", map[string][]backtest.Point{"a": data[2].points}, "host"},
		{"aggregated 5-minute data", "sum by (svc) (rb_parts)", map[string][]backtest.Point{"x": sum}, "svc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rule := anomalyRule(tc.expr, a)
			rule.Group = "g-" + tc.name
			p := detector(rule)
			check := func(ev alerting.Evaluation, how string) {
				t.Helper()
				require.Len(t, ev.Series, len(tc.want), how)
				for _, o := range ev.Series {
					want := robustWant(p, tc.want[o.Labels[tc.label]], ev.DataAt)
					require.True(t, o.Result.OK(), "%s %v: %+v", how, o.Labels, o.Result)
					require.Equal(t, want.N, o.Result.N, "%s %v: every point of the window", how, o.Labels)
					require.InDelta(t, want.Center, o.Result.Center, 1e-9*math.Abs(want.Center), "%s %v: the median", how, o.Labels)
					require.InDelta(t, want.Spread, o.Result.RawSpread, 1e-9*want.Spread, "%s %v: 1.4826·MAD", how, o.Labels)
				}
			}
			// 40 s past the minute (the schedule's phase), 40 minutes into
			// the hour: the next hour's window ended lookback_delta ago.
			at := end.Add(-3*time.Hour + 40*time.Minute + 40*time.Second)
			full, err := alerting.Evaluate(context.Background(), q, rule, at, time.Minute)
			require.NoError(t, err)
			check(full, "full path")

			// The Evaluator with a Store: cold, it computes the hour's
			// baselines (and the next hour's, whose window has ended
			// lookback_delta before the data) and persists them.
			sw, sq := clients(t)
			st := alerting.NewStore(sq, "rb")
			ev := robustRun(t, q, st, sw, rule, at, 0)
			check(ev, "cold")
			sameScores(t, full.Series, ev.Series, "cold")
			require.Equal(t, len(tc.want), ev.Progress.Cold, "computed at once")
			require.Equal(t, 2*len(tc.want), ev.Progress.Prepared, "and the next two hours' ahead")

			// Warm, the same hour: checkpoints only, no point of the window.
			at2 := at.Add(10 * time.Minute)
			ev = robustRun(t, q, st, sw, rule, at2, 0)
			full, err = alerting.Evaluate(context.Background(), q, rule, at2, time.Minute)
			require.NoError(t, err)
			sameScores(t, full.Series, ev.Series, "warm")
			require.Equal(t, len(tc.want), ev.Progress.Summaries)
			require.Zero(t, ev.Progress.Cold+ev.Progress.Prepared)
			for _, query := range ev.Queries {
				require.NotContains(t, query, "6d23h59m59s999ms", "no read of the baseline's points")
				require.NotContains(t, query, "count_over_time", "the history check answered by the checkpoints")
			}
			require.Empty(t, ev.Persist.States)

			// The next hour: prepared the hour before, read from the store.
			at3 := at.Add(time.Hour)
			ev = robustRun(t, q, st, sw, rule, at3, 0)
			full, err = alerting.Evaluate(context.Background(), q, rule, at3, time.Minute)
			require.NoError(t, err)
			check(full, "full path, the next hour")
			sameScores(t, full.Series, ev.Series, "next hour")
			require.Equal(t, len(tc.want), ev.Progress.Summaries, "every series prepared")
			require.Zero(t, ev.Progress.Cold)
		})
	}
}

// TestRobustBudget: a robust rule over more series than one run's history
// budget computes what fits, in fingerprint order; the rest are missing for
// the run (their alert state kept), never scored on part of a baseline, and
// the next runs continue where it stopped.
func TestRobustBudget(t *testing.T) {
	t.Parallel()
	w, q := clients(t)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-26 * time.Hour)
	var data []stored
	for i := range 12 {
		data = append(data, stored{lbl("__name__", "rb_many", "i", string(rune('a'+i))), noisy(uint64(50+i), start, end, 5*time.Minute, 100, 5, nil)})
	}
	store(t, w, data)
	a := baseAnomaly()
	a.Method, a.Baseline, a.ExcludeRecent, a.MinHistory = anomaly.MethodRobust, config.Duration(24*time.Hour), 0, config.Duration(6*time.Hour)
	rule := anomalyRule("rb_many", a)
	sw, sq := clients(t)
	st := alerting.NewStore(sq, "rb")
	at := end.Add(-40*time.Minute + 20*time.Second) // the next hour's window not yet settled
	full, err := alerting.Evaluate(context.Background(), q, rule, at, time.Minute)
	require.NoError(t, err)
	// 288 points per series: one series, then two a chunk, within 1,000.
	done := 0
	for run := 0; done < len(data); run++ {
		require.Less(t, run, 6, "every series computed within a few runs")
		ev := robustRun(t, q, st, sw, rule, at.Add(time.Duration(run)*time.Minute), 1000)
		require.Equal(t, done, ev.Progress.Summaries, "run %d: the series computed before, from the store", run)
		require.Positive(t, ev.Progress.Cold, "run %d", run)
		require.Equal(t, len(data)-done-ev.Progress.Cold, ev.Progress.Behind, "run %d", run)
		for i, o := range ev.Series {
			if o.Missing {
				require.False(t, o.Result.OK(), "run %d: behind, not scored", run)
				continue
			}
			sameScores(t, full.Series[i:i+1], ev.Series[i:i+1], "run %d", run)
		}
		done += ev.Progress.Cold
	}
}

// TestRobustQueries: the full path reads each series' points of the
// hour-aligned window once, by its labels, a chunk of series at a time.
func TestRobustQueries(t *testing.T) {
	t.Parallel()
	rule := robustRule()
	rule.Anomaly.Smoothing = 0
	f := &fakeQuerier{instant: map[string][]promql.Sample{
		"last_over_time(cpu[29m59s999ms])":                {{Labels: lbl("i", "a"), V: 14}, {Labels: lbl("i", "b"), V: 12}},
		"count_over_time(cpu[6d2h59m59s999ms] offset 1d)": {{Labels: lbl("i", "a"), V: 5}, {Labels: lbl("i", "b"), V: 5}},
	}, series: map[string][]promql.Series{}}
	newest(f, "cpu", evalAt)
	pts := func(vs ...float64) []promql.Point {
		var out []promql.Point
		for i, v := range vs {
			out = append(out, promql.Point{T: evalAt.Add(-2*time.Hour - time.Duration(i)*time.Minute), V: v})
		}
		return out
	}
	f.series[`cpu{i=~"a"}[6d23h59m59s999ms]`] = []promql.Series{{Labels: lbl("__name__", "cpu", "i", "a"), Points: pts(11, 12, 13, math.NaN())}}
	f.series[`cpu{i=~"b"}[6d23h59m59s999ms]`] = []promql.Series{{Labels: lbl("__name__", "cpu", "i", "b"), Points: pts(10, 10, 10, 12)}}
	ev, err := alerting.Evaluate(context.Background(), f, rule, evalAt, 5*time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 2)
	a, b := ev.Series[0].Result, ev.Series[1].Result
	if ev.Series[0].Labels["i"] == "b" {
		a, b = b, a
	}
	want := anomaly.RobustBaseline([]float64{11, 12, 13})
	require.Equal(t, 3, a.N, "NaN is not a point")
	require.InDelta(t, want.Center, a.Center, 1e-12)
	require.InDelta(t, want.Spread, a.RawSpread, 1e-12)
	require.Equal(t, 4, b.N)
	require.InDelta(t, 10, b.Center, 1e-12)
	var reads []string
	for i, query := range f.asked {
		if strings.Contains(query, "6d23h59m59s999ms]") {
			reads = append(reads, query)
			require.Equal(t, evalAt.Add(-2*time.Hour), f.at[i], "read at the window's end: two whole hours before the evaluation's")
		}
	}
	require.Len(t, reads, 2, "one series, then the rest by the samples per series read")
}
