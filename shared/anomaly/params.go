package anomaly

import (
	"errors"
	"fmt"
	"math"
)

// Method names how the baseline is computed.
type Method string

// The baseline methods.
const (
	MethodWindow   Method = "window"
	MethodRobust   Method = "robust"
	MethodSeasonal Method = "seasonal"
)

// Direction says which side of the baseline is anomalous.
type Direction string

// The directions.
const (
	DirectionUp   Direction = "up"
	DirectionDown Direction = "down"
	DirectionBoth Direction = "both"
)

// Smoothing names how the last K points are combined into the current value.
type Smoothing string

// The smoothing functions.
const (
	SmoothingMean   Smoothing = "mean"
	SmoothingMedian Smoothing = "median"
)

// Defaults. DefaultThreshold, DefaultResolveRatio and the floors are the
// values chosen by the NAB backtest (shared/backtest/RESULTS.md).
const (
	DefaultMethod            = MethodWindow
	DefaultDirection         = DirectionBoth
	DefaultThreshold         = 6.0
	DefaultResolveRatio      = 0.75
	DefaultMinStdDev         = 1e-9
	DefaultMinRelativeStdDev = 0.05
	DefaultMinPoints         = 12
	DefaultMinSeasons        = 2
	DefaultSmoothing         = SmoothingMean
	DefaultSmoothingPoints   = 3
	// DefaultSustainedPoints and DefaultSustainedThreshold: the mean of the
	// last 90 minutes of 5-minute data at 1.5σ (see Params.SustainedPoints).
	DefaultSustainedPoints    = 18
	DefaultSustainedThreshold = 1.5
)

// Params is everything the maths needs to decide whether one value is
// anomalous against one baseline. Durations (baseline length, minimum
// history) are the caller's business: it turns them into points.
type Params struct {
	Method    Method
	Direction Direction
	// Threshold is the |z| at or above which an inactive alert becomes active.
	Threshold float64
	// ResolveThreshold is the |z| below which an active alert stops being
	// active. Zero means DefaultResolveRatio × Threshold.
	ResolveThreshold float64
	// MinStdDev is the absolute floor under the spread; it must be positive
	// so that z is always finite.
	MinStdDev float64
	// MinRelativeStdDev is the floor under the spread relative to |centre|.
	MinRelativeStdDev float64
	// MinPoints is the fewest finite points a baseline needs.
	MinPoints int
	// MinSeasons is the fewest seasons (weeks) a seasonal baseline needs.
	MinSeasons int
	// SmoothingPoints is K, the number of latest points combined into the
	// current value; 0 or 1 means the latest point alone.
	SmoothingPoints int
	Smoothing       Smoothing
	// SustainedPoints and SustainedThreshold, when both positive, add a
	// second, longer average: the mean of the last SustainedPoints points
	// is also scored against the baseline, and an |z| at or above
	// SustainedThreshold makes the alert active. A shift that lasts (an
	// hour at +3σ) is as much an incident as a short burst at +5σ, but one
	// threshold cannot catch both without paging on every short burst.
	// While active, the sustained z resolves below SustainedThreshold ×
	// (resolve threshold / threshold), the same hysteresis as the main z.
	SustainedPoints    int
	SustainedThreshold float64
}

// DefaultParams returns the shipped defaults.
func DefaultParams() Params {
	return Params{
		Method:             DefaultMethod,
		Direction:          DefaultDirection,
		Threshold:          DefaultThreshold,
		ResolveThreshold:   DefaultResolveRatio * DefaultThreshold,
		MinStdDev:          DefaultMinStdDev,
		MinRelativeStdDev:  DefaultMinRelativeStdDev,
		MinPoints:          DefaultMinPoints,
		MinSeasons:         DefaultMinSeasons,
		SmoothingPoints:    DefaultSmoothingPoints,
		Smoothing:          DefaultSmoothing,
		SustainedPoints:    DefaultSustainedPoints,
		SustainedThreshold: DefaultSustainedThreshold,
	}
}

// Validate reports every invalid field, each named as in the rules file.
func (p Params) Validate() error {
	var errs []error
	bad := func(field, rule string, got any) {
		errs = append(errs, fmt.Errorf("%s: %s (got %v)", field, rule, got))
	}
	switch p.Method {
	case MethodWindow, MethodRobust, MethodSeasonal:
	default:
		bad("method", "must be window, robust or seasonal", fmt.Sprintf("%q", p.Method))
	}
	switch p.Direction {
	case DirectionUp, DirectionDown, DirectionBoth:
	default:
		bad("direction", "must be up, down or both", fmt.Sprintf("%q", p.Direction))
	}
	if !finite(p.Threshold) || p.Threshold <= 0 {
		bad("threshold", "must be a positive number", p.Threshold)
	}
	if !finite(p.ResolveThreshold) || p.ResolveThreshold < 0 {
		bad("resolve_threshold", "must be a non-negative number", p.ResolveThreshold)
	} else if p.ResolveThreshold > p.Threshold && finite(p.Threshold) {
		bad("resolve_threshold", fmt.Sprintf("must not exceed threshold %v", p.Threshold), p.ResolveThreshold)
	}
	if !finite(p.MinStdDev) || p.MinStdDev <= 0 {
		bad("min_stddev", "must be a positive number", p.MinStdDev)
	}
	if !finite(p.MinRelativeStdDev) || p.MinRelativeStdDev < 0 {
		bad("min_relative_stddev", "must be a non-negative number", p.MinRelativeStdDev)
	}
	if p.MinPoints < 1 {
		bad("min_points", "must be at least 1", p.MinPoints)
	}
	if p.Method == MethodSeasonal && p.MinSeasons < 1 {
		bad("min_seasons", "must be at least 1", p.MinSeasons)
	}
	if p.SmoothingPoints < 0 {
		bad("smoothing_points", "must not be negative", p.SmoothingPoints)
	}
	if p.SustainedPoints < 0 {
		bad("sustained_points", "must not be negative", p.SustainedPoints)
	}
	if !finite(p.SustainedThreshold) || p.SustainedThreshold < 0 {
		bad("sustained_threshold", "must be a non-negative number", p.SustainedThreshold)
	}
	switch p.Smoothing {
	case SmoothingMean, SmoothingMedian, "":
	default:
		bad("smoothing", "must be mean or median", fmt.Sprintf("%q", p.Smoothing))
	}
	return errors.Join(errs...)
}

// EffectiveResolveThreshold is the resolve threshold with its default applied.
func (p Params) EffectiveResolveThreshold() float64 {
	if p.ResolveThreshold == 0 {
		return DefaultResolveRatio * p.Threshold
	}
	return p.ResolveThreshold
}

// Anomalous decides whether z makes the alert active. wasActive is whether
// the alert was pending or firing at the previous tick: an active alert
// stays active until z falls below the resolve threshold, an inactive one
// needs the full threshold. NaN is never anomalous.
func (p Params) Anomalous(z float64, wasActive bool) bool {
	if math.IsNaN(z) {
		return false
	}
	limit := p.Threshold
	if wasActive {
		limit = p.EffectiveResolveThreshold()
	}
	switch p.Direction {
	case DirectionUp:
		return z >= limit
	case DirectionDown:
		return -z >= limit
	default:
		return math.Abs(z) >= limit
	}
}

// SustainedOn reports whether the sustained check is configured.
func (p Params) SustainedOn() bool { return p.SustainedPoints > 0 && p.SustainedThreshold > 0 }

// Sustained decides on the z of the longer average (see SustainedPoints)
// with the same hysteresis as Anomalous; always false when it is off.
func (p Params) Sustained(z float64, wasActive bool) bool {
	if !p.SustainedOn() || math.IsNaN(z) {
		return false
	}
	limit := p.SustainedThreshold
	if wasActive && p.Threshold > 0 {
		limit *= p.EffectiveResolveThreshold() / p.Threshold
	}
	return beyond(z, limit, p.Direction)
}

func beyond(z, limit float64, d Direction) bool {
	switch d {
	case DirectionUp:
		return z >= limit
	case DirectionDown:
		return -z >= limit
	default:
		return math.Abs(z) >= limit
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
