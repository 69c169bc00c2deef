package detector

import (
	"time"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// FromParams is the detector an anomaly rule of method auto stands for:
// the settings a rule can write (direction, threshold, resolve threshold,
// smoothing, baseline, minimum history, floors) from p, everything else
// from DefaultConfig. alerting.SpecOf hands p to the deployed evaluation
// and the backtest alike, and both build their detector here, so the two
// cannot drift.
func FromParams(p anomaly.Params) Config {
	c := DefaultConfig()
	c.Direction = p.Direction
	c.Threshold = p.Threshold
	if p.Threshold > 0 {
		c.ResolveRatio = p.EffectiveResolveThreshold() / p.Threshold
	}
	c.Smoothing = p.Smoothing
	c.Baseline = p.Baseline
	c.MinHistory = p.MinHistory
	c.MinRelativeStdDev = p.MinRelativeStdDev
	// anomaly.Params keeps a tiny positive floor so that its z stays
	// finite; the detector's own floors do that here.
	if p.MinStdDev > anomaly.DefaultMinStdDev {
		c.MinStdDev = p.MinStdDev
	}
	return c
}

// History is how much stored history the deployed evaluation replays
// through the detector at each tick, until the detector's State is
// persisted between runs (issue 14): the look-back of its summaries plus a
// week, in which the learning weights of the oldest points have settled.
// A series whose stored history fits in it gets exactly the decisions of a
// backtest from its first point.
func (c Config) History() time.Duration { return c.lookBack() + Week }
