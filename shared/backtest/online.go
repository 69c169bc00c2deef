package backtest

import (
	"fmt"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// Step is one point of a replay of the online detector: its decision and
// what the alert state machine made of it.
type Step struct {
	Time         time.Time
	Decision     detector.Decision
	State        alerting.State
	Notification alerting.Notification
}

// Replay feeds points, in order, to a fresh detector state and steps the
// alert state machine at every point at or after from, at the point's
// time: what the deployed function does at each scheduled run that sees one
// new point. Points before from only teach the detector (a deployed
// function that starts at from finds that history stored). The detector's
// decision carries its own hysteresis, so the alert's state is not fed
// back into it.
func Replay(points []Point, d *detector.Detector, key alerting.Key, tm alerting.Timing, from time.Time) []Step {
	var (
		st    detector.State
		alert alerting.AlertState
	)
	out := make([]Step, 0, len(points))
	for _, p := range points {
		dec := d.Observe(&st, p)
		if p.Time.Before(from) {
			continue
		}
		obs := alerting.Observation{Missing: dec.Missing || dec.Excluded, Holds: dec.Holds, Value: dec.Value, Z: dec.Z}
		var n alerting.Notification
		alert, n = alerting.Step(key, alert, obs, p.Time, tm)
		out = append(out, Step{Time: p.Time, Decision: dec, State: alert.State, Notification: n})
	}
	return out
}

// runAuto is RunFrom for the auto method: the detector of
// detector.FromParams replayed over the points.
func runAuto(points []Point, r Rule, from time.Time) ([]Tick, Summary, error) {
	d, err := detector.New(detector.FromParams(r.Params))
	if err != nil {
		return nil, Summary{}, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	steps := Replay(points, d, alerting.Key{Rule: r.Name, Fingerprint: r.Fingerprint}, r.Timing, from)
	ticks := make([]Tick, len(steps))
	var (
		sum  Summary
		prev alerting.State
	)
	for i, st := range steps {
		ticks[i] = Tick{
			Time:         st.Time,
			Result:       st.Decision.Result,
			Missing:      st.Decision.Missing || st.Decision.Excluded,
			Shift:        st.Decision.Shift,
			State:        st.State,
			Notification: st.Notification,
			Fired:        st.Notification.Kind == alerting.KindFiring,
		}
		sum.add(ticks[i], prev)
		prev = st.State
	}
	return ticks, sum, nil
}
