package backtest

import (
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
// alert state machine at every point, at the point's time: what the
// deployed function does at each scheduled run that sees one new point.
func Replay(points []detector.Point, d *detector.Detector, key alerting.Key, tm alerting.Timing) []Step {
	var (
		st    detector.State
		alert alerting.AlertState
	)
	out := make([]Step, len(points))
	for i, p := range points {
		dec := d.Observe(&st, p)
		obs := alerting.Observation{Missing: dec.Missing, Holds: dec.Holds, Value: dec.Value, Z: dec.Z}
		var n alerting.Notification
		alert, n = alerting.Step(key, alert, obs, p.Time, tm)
		out[i] = Step{Time: p.Time, Decision: dec, State: alert.State, Notification: n}
	}
	return out
}
