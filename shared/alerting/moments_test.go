package alerting_test

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// momentsRun evaluates rule at at (the run's scheduled time) with a new
// Store and Evaluator, as a new process does, and returns what it read.
func momentsRun(t *testing.T, q *promql.Client, rule rules.Rule, at time.Time, budget int) (alerting.Evaluation, []remotewrite.Series, promql.CostSnapshot) {
	t.Helper()
	st := alerting.NewStore(q, "mom")
	e := &alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at, HistoryBudget: budget}
	var cost promql.Cost
	ev, err := e.Evaluate(promql.WithCost(context.Background(), &cost), rule, at)
	require.NoError(t, err, "at %s", at)
	var records []remotewrite.Series
	if ev.Persist != nil {
		records = st.DetectorSeries(at, alerting.RefOf(rule), *ev.Persist)
	}
	return ev, records, cost.Snapshot()
}

// sameScores requires got's scores to be want's: the same series, status
// and point count, and the value, centre, spread and z-scores (current,
// latest, median, sustained) within 1e-9.
func sameScores(t *testing.T, want, got []alerting.Observed, format string, args ...any) {
	t.Helper()
	close := func(a, b float64) bool {
		return a == b || math.Abs(a-b) <= 1e-9*max(1, math.Abs(a))
	}
	require.Len(t, got, len(want), "%v", args)
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(t, w.Fingerprint, g.Fingerprint)
		require.Equal(t, w.Missing, g.Missing, "%v %v", args, w.Labels)
		require.Equal(t, w.Result.Status, g.Result.Status, "%v %v: %+v vs %+v", args, w.Labels, w.Result, g.Result)
		require.Equal(t, w.Result.N, g.Result.N, "%v %v: baseline points", args, w.Labels)
		for _, v := range [][2]float64{{w.Result.Value, g.Result.Value}, {w.Result.Center, g.Result.Center}, {w.Result.Spread, g.Result.Spread}, {w.Result.Z, g.Result.Z}} {
			require.True(t, close(v[0], v[1]) || math.IsNaN(v[0]) && math.IsNaN(v[1]), "%v %v: %+v vs %+v", args, w.Labels, w.Result, g.Result)
		}
		for _, c := range [][2]*anomaly.Result{{w.Latest, g.Latest}, {w.Median, g.Median}, {w.Sustained, g.Sustained}} {
			require.Equal(t, c[0] == nil, c[1] == nil, "%v %v", args, w.Labels)
			if c[0] != nil {
				require.True(t, close(c[0].Z, c[1].Z), "%v %v: %v vs %v", args, w.Labels, c[0].Z, c[1].Z)
			}
		}
	}
}

// TestWindowIncrementalEqualsFull is the window method's part of issue 14:
// a window rule evaluated by an Evaluator with a Store reads its baseline
// from hour summaries it keeps in the store (and the raw points of the
// baseline's edges), not from seven days of raw points, and scores every
// series as the full path (alerting.Evaluate) does, to 1e-9, at every tick
// of four hours: from a cold start, across hour turns, across 70 minutes
// of missed ticks, in a new process each tick, after a run whose state
// write was refused (nothing persisted: the next run summarises again),
// after a change of the baseline's length (the summaries serve it) and of
// the expression (a new fingerprint: cold again). A warm run reads at least
// 20 times fewer samples than the full path; before, the Evaluator read
// every window rule in full at every run and this failed.
//
// A cold start within a small history budget is scored by the full path
// (Progress.Full) until its summaries are complete, never from part of a
// baseline.
func TestWindowIncrementalEqualsFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-8*24*time.Hour - 4*time.Hour)
	late := func(ts time.Time, v float64) float64 {
		if !ts.Before(end.Add(-50*time.Minute)) && ts.Before(end.Add(-20*time.Minute)) {
			return v + 80
		}
		return v
	}
	lb := func(name string, kv ...string) map[string]string {
		return lbl(append([]string{"__name__", name}, kv...)...)
	}
	window := func(baseline, gap time.Duration) rules.Anomaly {
		a := shippedLike()
		a.Method = anomaly.MethodWindow
		a.Baseline, a.ExcludeRecent = config.Duration(baseline), config.Duration(gap)
		a.MinHistory = config.Duration(24 * time.Hour)
		return a
	}
	for _, tc := range []struct {
		name    string
		exprs   [2]string // before and after the expression changes
		data    []stored
		anomaly rules.Anomaly
		budget  int
		// minRatio is the least full/incremental samples of a warm run.
		minRatio float64
	}{
		{
			name: "1-minute data, seven days", exprs: [2]string{"mom_one", "mom_one * 1"},
			data: []stored{
				{lb("mom_one", "host", "a"), noisy(31, start, end, time.Minute, 100, 3, late)},
				{lb("mom_one", "host", "b"), noisy(32, start, end, time.Minute, 1e6, 3, nil)},
				// Younger than min_history until the ticks' third hour.
				{lb("mom_one", "host", "c"), noisy(33, end.Add(-26*time.Hour), end, time.Minute, 50, 2, late)},
			},
			anomaly: window(7*24*time.Hour, 0), minRatio: 20,
		},
		{
			name: "aggregated 5-minute data, gap, small budget", exprs: [2]string{"sum by (svc) (mom_five)", "sum by (svc) (mom_five) * 1"},
			data: []stored{
				{lb("mom_five", "svc", "x", "part", "1"), noisy(34, start, end, 5*time.Minute, 30, 2, late)},
				{lb("mom_five", "svc", "x", "part", "2"), noisy(35, start, end, 5*time.Minute, 30, 2, nil)},
				{lb("mom_five", "svc", "y", "part", "1"), noisy(36, start.Add(2*24*time.Hour+17*time.Minute), end, 5*time.Minute, 30, 2, nil)},
			},
			// About 30 hours summarised a run: a cold start takes six.
			anomaly: window(6*24*time.Hour, 2*time.Hour), budget: 1_000, minRatio: 5,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, q := clients(t)
			f := feed{w: w, series: tc.data}
			rule := anomalyRule(tc.exprs[0], tc.anomaly)
			missedFrom, missedTo := end.Add(-170*time.Minute), end.Add(-100*time.Minute)
			var (
				refusedAt                    time.Time
				resumed                      int
				ticks, compared, holds, full int
				warm, exprChanged            bool
				ratios                       []float64
				progress                     alerting.Progress
			)
			for at := end.Add(-4 * time.Hour).Add(20 * time.Second); !at.After(end); at = at.Add(time.Minute) {
				if !at.Before(missedFrom) && at.Before(missedTo) {
					continue
				}
				if !exprChanged && !at.Before(end.Add(-40*time.Minute)) {
					// A new expression: new summaries, from a cold start.
					rule = anomalyRule(tc.exprs[1], tc.anomaly)
					exprChanged, warm = true, false
				}
				if at.After(end.Add(-90*time.Minute)) && rule.Anomaly.Baseline == tc.anomaly.Baseline {
					// A shorter baseline: the same summaries serve it.
					a := *rule.Anomaly
					a.Baseline -= config.Duration(time.Hour)
					rule.Anomaly = &a
				}
				f.upTo(t, at)
				ticks++
				var fullCost promql.Cost
				want, err := alerting.Evaluate(promql.WithCost(ctx, &fullCost), q, rule, at, time.Minute)
				require.NoError(t, err)
				ev, records, cost := momentsRun(t, q, rule, at, tc.budget)
				sameScores(t, want.Series, ev.Series, "at %s", at)
				progress.Add(ev.Progress)
				compared += len(ev.Series)
				for _, o := range ev.Series {
					if o.Holds(ev.Params, false) {
						holds++
					}
				}
				if ev.Progress.Full > 0 {
					full++
					require.False(t, warm, "at %s: a warm rule falls back to the full path", at)
				} else {
					require.Positive(t, ev.Progress.Summaries, "at %s: scored from summaries", at)
					if warm {
						ratios = append(ratios, float64(fullCost.Snapshot().Samples)/float64(cost.Samples))
					}
					warm = true
				}
				if refusedAt.IsZero() && warm && ev.Progress.Full == 0 && ev.Progress.Summarized > 0 && at.After(missedTo) {
					// The store refuses the run's write (the hour it
					// closed): nothing of it is persisted, and the next run
					// summarises the hour again.
					refusedAt = at
					continue
				}
				if resumed == 0 && !refusedAt.IsZero() && at.After(refusedAt) {
					resumed = ev.Progress.Summarized
					require.Positive(t, resumed, "at %s: the run after the refused write summarises its hour again", at)
				}
				if len(records) > 0 {
					require.NoError(t, w.Write(ctx, records), "at %s", at)
				}
			}
			require.Positive(t, holds, "the burst pages")
			require.Greater(t, compared, ticks)
			if tc.budget > 0 {
				require.Positive(t, full, "the cold starts, past the budget")
			}
			require.Positive(t, resumed, "a refused write was resumed")
			require.NotEmpty(t, ratios)
			slicesMin := ratios[0]
			for _, r := range ratios {
				slicesMin = min(slicesMin, r)
			}
			require.GreaterOrEqual(t, slicesMin, tc.minRatio, "a warm run reads at least %v× fewer samples than the full path", tc.minRatio)
			t.Logf("%d ticks, %d series compared, %d holding, %d on the full path; progress %+v; warm runs read %.1f–%.1f× fewer samples", ticks, compared, holds, full, progress, slicesMin, maxOf(ratios))
		})
	}
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// TestSeasonalHistoryFromSeasons: the seasonal method's history check (a
// point in (at−reach, at−min_history], three weeks read at every run) is
// answered by the season windows that lie inside that range when an
// Evaluator with a Store evaluates it, and read in full only when a series
// has no point there (a young series). The scores are the full path's, to
// 1e-9; a rule whose series all have history reads at least 15 times
// fewer samples (it read as many as the full path before).
func TestSeasonalHistoryFromSeasons(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, q := clients(t)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-15 * 24 * time.Hour)
	lb := func(kv ...string) map[string]string { return lbl(append([]string{"__name__", "mom_season"}, kv...)...) }
	store(t, w, []stored{
		{lb("age", "old", "host", "a"), noisy(41, start, end, time.Minute, 100, 3, func(ts time.Time, v float64) float64 {
			if ts.After(end.Add(-30 * time.Minute)) {
				return v + 60
			}
			return v
		})},
		{lb("age", "old", "host", "b"), noisy(42, start, end, time.Minute, 20, 1, nil)},
		// Ten days old: no point two weeks back.
		{lb("age", "young", "host", "c"), noisy(43, end.Add(-10*24*time.Hour), end, time.Minute, 20, 1, nil)},
	})
	a := shippedLike()
	a.Method, a.Seasons = anomaly.MethodSeasonal, 2
	a.MinHistory = config.Duration(7 * 24 * time.Hour)
	for _, tc := range []struct {
		expr     string
		minRatio float64
	}{
		{`mom_season{age="old"}`, 15},
		{`mom_season`, 4}, // the young series alone reads its two weeks
	} {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			rule := anomalyRule(tc.expr, a)
			ok := 0
			for at := end.Add(-time.Hour).Add(20 * time.Second); !at.After(end); at = at.Add(3 * time.Minute) {
				var fullCost promql.Cost
				want, err := alerting.Evaluate(promql.WithCost(ctx, &fullCost), q, rule, at, time.Minute)
				require.NoError(t, err)
				ev, records, cost := momentsRun(t, q, rule, at, 0)
				require.Empty(t, records, "a seasonal rule keeps nothing")
				sameScores(t, want.Series, ev.Series, "at %s", at)
				for _, o := range ev.Series {
					if o.Result.OK() {
						ok++
					}
				}
				ratio := float64(fullCost.Snapshot().Samples) / float64(cost.Samples)
				require.GreaterOrEqual(t, ratio, tc.minRatio, "at %s: %d samples, the full path %d", at, cost.Samples, fullCost.Snapshot().Samples)
				if at.Equal(end.Add(-time.Hour).Add(20 * time.Second)) {
					t.Logf("%s: %d samples a run, the full path %d (%.1f×)", tc.expr, cost.Samples, fullCost.Snapshot().Samples, ratio)
				}
			}
			require.Positive(t, ok, "series scored")
		})
	}
}

// TestWindowSummariesOnVictoriaMetrics: the hour summaries are read with a
// subquery at hour steps, and VictoriaMetrics aligns a subquery's steps to
// the query time less its range (Prometheus to multiples of the step): a
// range one millisecond short of whole hours put its steps a millisecond
// past the hours and lost the newest, so each baseline lacked an hour
// (2,820 points against the full path's 2,880) until the range was whole
// hours and only the steps on the hours were taken. Over two hours of
// ticks, hours closing, the same scores as the full path on the same
// store.
func TestWindowSummariesOnVictoriaMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vm := testenv.StartVictoriaMetrics(t)
	w, err := remotewrite.NewClient(vm.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(vm.URL, http.DefaultTransport)
	require.NoError(t, err)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-3 * 24 * time.Hour)
	store(t, w, []stored{
		{lbl("__name__", "vm_mom", "host", "a"), noisy(51, start, end, time.Minute, 100, 3, nil)},
		{lbl("__name__", "vm_mom", "host", "b"), noisy(52, start, end, time.Minute, 50, 3, nil)},
	})
	require.NoError(t, vm.Flush(ctx))
	a := shippedLike()
	a.Method, a.Baseline, a.MinHistory = anomaly.MethodWindow, config.Duration(48*time.Hour), config.Duration(24*time.Hour)
	rule := anomalyRule("vm_mom", a)
	var progress alerting.Progress
	for at := end.Add(-2 * time.Hour).Add(20 * time.Second); !at.After(end); at = at.Add(5 * time.Minute) {
		want, err := alerting.Evaluate(ctx, q, rule, at, time.Minute)
		require.NoError(t, err)
		ev, records, _ := momentsRun(t, q, rule, at, 0)
		sameScores(t, want.Series, ev.Series, "at %s", at)
		progress.Add(ev.Progress)
		if len(records) > 0 {
			require.NoError(t, w.Write(ctx, records))
			require.NoError(t, vm.Flush(ctx))
		}
	}
	require.Zero(t, progress.Full)
	require.Positive(t, progress.Summaries)
	require.Greater(t, progress.Summarized, 2*47, "the cold start's hours and the hours that closed")
}
