package alerting_test

import (
	"fmt"
	"math/rand/v2"
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
