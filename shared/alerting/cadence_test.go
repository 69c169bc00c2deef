package alerting_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// TestReplayIsAdvanceOnUnchangedData: a run that skips a rule whose data
// did not change (Replay, from the states the previous run persisted)
// must write the same states and plan the same per-series events as one
// that evaluates it again and gets the same scores (Advance), tick after
// tick: for every combination of for, keep_firing_for, repeat_interval and
// the missing-data policies, with hysteresis and the sustained check on,
// series that go missing, come back or stop being returned. New data
// arrives every fifth one-minute tick; the states are kept as the store
// keeps them (a series is written while kept and once more when it stops
// being kept, and a restore finds its last write).
func TestReplayIsAdvanceOnUnchangedData(t *testing.T) {
	t.Parallel()
	a := baseAnomaly()
	a.Sustained, a.SustainedThreshold = rules.Window(time.Hour), 2
	var rs []rules.Rule
	for _, forD := range []time.Duration{0, 7 * time.Minute} {
		for _, keep := range []time.Duration{0, 12 * time.Minute} {
			for _, repeat := range []time.Duration{0, 13 * time.Minute} {
				for _, md := range []rules.MissingData{rules.MissingKeep, rules.MissingResolve} {
					for _, timeout := range []time.Duration{0, 23 * time.Minute} {
						r := anomalyRule("x", a)
						r.Alert = fmt.Sprintf("for%s-keep%s-repeat%s-%s-timeout%s", forD, keep, repeat, md, timeout)
						r.For, r.KeepFiringFor, r.RepeatInterval, r.MissingData = config.Duration(forD), config.Duration(keep), config.Duration(repeat), md
						to := config.Duration(timeout)
						r.MissingDataTimeout = &to
						rs = append(rs, r)
					}
				}
			}
		}
	}
	zs := []float64{0, 1.5, 2.5, 3, 4.5, -5, 9}
	series := []map[string]string{lbl("i", "a"), lbl("i", "b"), lbl("i", "c"), lbl("i", "d")}
	for _, r := range rs {
		p := detector(r)
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, 7))
			draw := func(at time.Time) alerting.Evaluation {
				ev := alerting.Evaluation{Rule: r, Params: p, At: at}
				for _, ls := range series {
					switch x := rng.Float64(); {
					case x < 0.1: // not returned
						continue
					case x < 0.25:
						ev.Series = append(ev.Series, observed(ls, anomaly.Result{Status: anomaly.StatusInsufficientData}, true))
						continue
					}
					z := zs[rng.IntN(len(zs))]
					o := observed(ls, anomaly.Result{Status: anomaly.StatusOK, Value: 10 + z, Z: z}, false)
					if rng.IntN(2) == 0 {
						s := anomaly.Result{Status: anomaly.StatusOK, Value: 10, Z: zs[rng.IntN(len(zs))]}
						o.Sustained = &s
					}
					ev.Series = append(ev.Series, o)
				}
				return ev
			}
			every, cadence := map[string]alerting.Stored{}, map[string]alerting.Stored{}
			// persist is what the store keeps of a tick's outcomes.
			persist := func(stored map[string]alerting.Stored, outs []alerting.Outcome) (map[string]alerting.AlertState, map[string]alerting.Notification) {
				written, events := map[string]alerting.AlertState{}, map[string]alerting.Notification{}
				for _, o := range outs {
					if o.Notification.Kind != alerting.KindNone {
						events[o.Key.Fingerprint] = o.Notification
					}
					if o.Next.Kept() || o.Prev.Kept() {
						written[o.Key.Fingerprint] = o.Next
						stored[o.Key.Fingerprint] = alerting.Stored{Labels: o.Labels, State: o.Next}
					}
				}
				return written, events
			}
			var ev alerting.Evaluation
			start := evalAt
			for tick := range 180 {
				at := start.Add(time.Duration(tick) * time.Minute)
				fresh := tick%5 == 0
				if fresh {
					ev = draw(at)
				}
				wantWritten, wantEvents := persist(every, alerting.Advance(ev, every, at))
				var outs []alerting.Outcome
				if fresh {
					outs = alerting.Advance(ev, cadence, at)
				} else {
					outs = alerting.Replay(r, cadence, at.Add(-time.Minute), at)
				}
				gotWritten, gotEvents := persist(cadence, outs)
				require.Equal(t, wantWritten, gotWritten, "%s seed %d tick %d: states written", r.Alert, seed, tick)
				require.Equal(t, wantEvents, gotEvents, "%s seed %d tick %d: events", r.Alert, seed, tick)
			}
		}
	}
}

// TestCadenceWaitsForColdStart: an auto rule whose cold start spreads over
// runs (the history budget) must be evaluated at every run until every
// series is decided, although its data does not change: a skipped run
// would stall the catching up. On real Prometheus, four series of 5-minute
// data, a budget for one series' history a run, no new point.
func TestCadenceWaitsForColdStart(t *testing.T) {
	t.Parallel()
	w, q := clients(t)
	ctx := context.Background()
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	var ss []stored
	for i := range 4 {
		ss = append(ss, stored{lbl("__name__", "cadence_cold", "host", fmt.Sprint(i)), noisy(uint64(40+i), end.Add(-30*time.Hour), end, 5*time.Minute, 100, 3, nil)})
	}
	f := feed{w: w, series: ss}
	f.upTo(t, end)
	rule := anomalyRule("cadence_cold", shippedLike())
	st := alerting.NewStore(q, "cadence-cold")
	var prev alerting.Mark
	var runs []string
	for at := end.Add(time.Minute); !at.After(end.Add(10 * time.Minute)); at = at.Add(time.Minute) {
		e := &alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at, HistoryBudget: 500}
		ev, mark, skipped, err := e.EvaluateAtCadence(ctx, rule, at, prev)
		require.NoError(t, err)
		runs = append(runs, fmt.Sprintf("behind %d unprepared %d skipped %t mark %t", ev.Progress.Behind, ev.Progress.Unprepared, skipped, mark != 0))
		if ev.Progress.Behind > 0 || ev.Progress.Unprepared > 0 {
			require.Zero(t, mark, "at %s: no mark while series are behind or unprepared", at)
		}
		if ev.Persist != nil {
			require.NoError(t, w.Write(ctx, st.DetectorSeries(at, alerting.RefOf(rule), *ev.Persist)))
		}
		prev = mark
	}
	t.Logf("runs:\n%s", strings.Join(runs, "\n"))
	require.Contains(t, runs[0], "behind 3", "one series' cold start a run")
	require.Contains(t, runs[len(runs)-1], "skipped true", "skipped once every series is decided")
}
