package backtest

import (
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// DefaultTiming is the alert timing the detector's defaults were chosen
// and judged with (shared/backtest/nab/RESULTS.md): fire at the first point
// that is anomalous, keep firing 10 minutes after it stops being so (short
// enough that a burst's resolved message goes out within 30 minutes of its
// end), repeat every 4 hours.
func DefaultTiming() alerting.Timing {
	return alerting.Timing{For: 0, KeepFiringFor: 10 * time.Minute, RepeatInterval: 4 * time.Hour}
}

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
