package detector

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// Week and Day are the seasons the detector learns.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// Config is what the detector needs besides the data. Durations are
// durations of data time, never point counts, so a rule means the same on
// 1-minute and 5-minute metrics.
type Config struct {
	Direction anomaly.Direction
	// Threshold is the |z| of the smoothed current value at which an
	// inactive series becomes anomalous (a burst or a drop).
	Threshold float64
	// ResolveRatio: an active series stays anomalous until both checks fall
	// below ResolveRatio × their limits (hysteresis, so it does not flap).
	ResolveRatio float64
	// Smoothing is how far back the current value averages the points:
	// every point in (t − Smoothing, t], at least the newest.
	Smoothing time.Duration
	// Baseline is how far back the all-hours and the time-of-day baselines
	// look; Weeks is how many weeks back the time-of-week baseline looks.
	Baseline time.Duration
	Weeks    int
	// MinHistory is how old the series must be before any decision.
	MinHistory time.Duration
	// DailyAfter and WeeklyAfter: the history a series needs before the
	// time-of-day and time-of-week baselines are considered.
	DailyAfter  time.Duration
	WeeklyAfter time.Duration
	// SeasonalGain: a seasonal baseline is used only when its residual
	// variance is below SeasonalGain × that of the simpler one (1: whenever
	// it explains anything).
	SeasonalGain float64
	// Pool is the weight of the model's pooled residual variance in the
	// spread of one hour's bucket (0: the bucket's own variance alone).
	Pool float64
	// Trust bounds what one point can teach the baseline: a point whose
	// residual is z spreads enters the hourly summaries with weight
	// min(1, (Trust/|z|)²), so an incident adds at most about Trust²
	// spreads² to its hour's variance and barely moves its mean. A point
	// keeps its real value, only its weight shrinks: a regime the current
	// model does not know yet (Saturdays, in a daily model fitted on
	// weekdays) is still learned exactly in its own hour-of-week bucket.
	// 0 disables it.
	Trust float64
	// Tolerance lets a seasonal pattern come early or late by up to this
	// many hours (0 or 1): the residual is measured from the band spanned
	// by the means of the neighbouring hours, so a batch job that starts a
	// few minutes early, or business hours that move with daylight saving
	// time, are not anomalies.
	Tolerance int
	// ShiftSlack (k) and ShiftLimit (h) are the two-sided CUSUM over the
	// standardized residuals e (clipped to ±ShiftClip): S⁺ = max(0, S⁺ + e −
	// k), anomalous at S⁺ ≥ h; a shift of δ spreads (δ > k) is flagged after
	// about h/(δ − k) periods of ShiftPeriod. ShiftLimit 0 disables it.
	ShiftSlack  float64
	ShiftLimit  float64
	ShiftClip   float64
	ShiftPeriod time.Duration
	// ShiftMemory makes the CUSUM look for changes rather than for levels:
	// its input is the residual minus the residuals' own exponential
	// average over ShiftMemory (and never more than the residual itself),
	// so a level that wanders slowly away from the seasonal baseline (a
	// busier week, a day of drift) is not a shift, a jump is, and the
	// return from a shift to normal is not a shift the other way. 0 keeps
	// the residual as it is.
	ShiftMemory time.Duration
	// TrustFloor is the least weight a point is learned with (see Trust):
	// what recurs (an hourly cron spike) is learned, slowly, instead of
	// staying an anomaly forever.
	TrustFloor float64
	// MinStdDev is a floor under the spread in the metric's own units.
	// MinRelativeStdDev floors it relative to |centre|. A series whose
	// every value so far is an integer (a count) gets a floor of 1 as well:
	// one event is not a 10⁸σ anomaly after a week of zeros.
	MinStdDev         float64
	MinRelativeStdDev float64
	// Location is the time zone of the time-of-day and time-of-week
	// baselines (business hours follow local time across DST); nil is UTC.
	Location *time.Location
	// Exclude lists time ranges whose points never enter the baseline (a
	// known incident, a load test), as CloudWatch lets a user exclude them.
	Exclude []TimeRange
}

// TimeRange is [From, To).
type TimeRange struct {
	From, To time.Time
}

// Contains reports whether t is in [From, To).
func (r TimeRange) Contains(t time.Time) bool { return !t.Before(r.From) && t.Before(r.To) }

// Defaults.
const (
	DefaultThreshold         = 6.0
	DefaultResolveRatio      = 0.75
	DefaultSmoothing         = 15 * time.Minute
	DefaultBaseline          = Week
	DefaultWeeks             = 3
	DefaultMinHistory        = Day
	DefaultDailyAfter        = 3 * Day
	DefaultWeeklyAfter       = 2 * Week
	DefaultSeasonalGain      = 0.8
	DefaultPool              = 0.5
	DefaultTrust             = 3.0
	DefaultTolerance         = 1
	DefaultShiftSlack        = 1.0
	DefaultShiftLimit        = 8.0
	DefaultShiftClip         = 4.0
	DefaultShiftPeriod       = 5 * time.Minute
	DefaultShiftMemory       = 6 * time.Hour
	DefaultTrustFloor        = 0.1
	DefaultMinRelativeStdDev = 0.05
)

// DefaultConfig returns the shipped defaults.
func DefaultConfig() Config {
	return Config{
		Direction:         anomaly.DirectionBoth,
		Threshold:         DefaultThreshold,
		ResolveRatio:      DefaultResolveRatio,
		Smoothing:         DefaultSmoothing,
		Baseline:          DefaultBaseline,
		Weeks:             DefaultWeeks,
		MinHistory:        DefaultMinHistory,
		DailyAfter:        DefaultDailyAfter,
		WeeklyAfter:       DefaultWeeklyAfter,
		SeasonalGain:      DefaultSeasonalGain,
		Pool:              DefaultPool,
		Trust:             DefaultTrust,
		Tolerance:         DefaultTolerance,
		ShiftSlack:        DefaultShiftSlack,
		ShiftLimit:        DefaultShiftLimit,
		ShiftClip:         DefaultShiftClip,
		ShiftPeriod:       DefaultShiftPeriod,
		ShiftMemory:       DefaultShiftMemory,
		TrustFloor:        DefaultTrustFloor,
		MinRelativeStdDev: DefaultMinRelativeStdDev,
	}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, rule string, got any) {
		errs = append(errs, fmt.Errorf("%s: %s (got %v)", field, rule, got))
	}
	switch c.Direction {
	case anomaly.DirectionUp, anomaly.DirectionDown, anomaly.DirectionBoth:
	default:
		bad("direction", "must be up, down or both", fmt.Sprintf("%q", c.Direction))
	}
	positive := func(field string, v float64) {
		if !finite(v) || v <= 0 {
			bad(field, "must be a positive number", v)
		}
	}
	nonNegative := func(field string, v float64) {
		if !finite(v) || v < 0 {
			bad(field, "must be a non-negative number", v)
		}
	}
	positive("threshold", c.Threshold)
	if !finite(c.ResolveRatio) || c.ResolveRatio <= 0 || c.ResolveRatio > 1 {
		bad("resolve_ratio", "must be in (0, 1]", c.ResolveRatio)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"smoothing", c.Smoothing}, {"min_history", c.MinHistory}, {"daily_after", c.DailyAfter}, {"weekly_after", c.WeeklyAfter}} {
		if d.v < 0 {
			bad(d.field, "must not be negative", d.v)
		}
	}
	if c.Baseline < time.Hour {
		bad("baseline", "must be at least 1h", c.Baseline)
	}
	if c.Weeks < 0 {
		bad("weeks", "must not be negative", c.Weeks)
	}
	if !finite(c.SeasonalGain) || c.SeasonalGain <= 0 || c.SeasonalGain > 1 {
		bad("seasonal_gain", "must be in (0, 1]", c.SeasonalGain)
	}
	if !finite(c.Pool) || c.Pool < 0 || c.Pool > 1 {
		bad("pool", "must be in [0, 1]", c.Pool)
	}
	nonNegative("trust", c.Trust)
	if !finite(c.TrustFloor) || c.TrustFloor < 0 || c.TrustFloor > 1 {
		bad("trust_floor", "must be in [0, 1]", c.TrustFloor)
	}
	if c.ShiftMemory < 0 {
		bad("shift_memory", "must not be negative", c.ShiftMemory)
	}
	if c.Tolerance < 0 || c.Tolerance > 3 {
		bad("tolerance", "must be 0 to 3 hours", c.Tolerance)
	}
	nonNegative("shift_slack", c.ShiftSlack)
	nonNegative("shift_limit", c.ShiftLimit)
	if c.ShiftLimit > 0 {
		positive("shift_clip", c.ShiftClip)
		if c.ShiftPeriod <= 0 {
			bad("shift_period", "must be positive", c.ShiftPeriod)
		}
	}
	nonNegative("min_stddev", c.MinStdDev)
	nonNegative("min_relative_stddev", c.MinRelativeStdDev)
	for i, r := range c.Exclude {
		if !r.To.After(r.From) {
			bad(fmt.Sprintf("exclude[%d]", i), "to must be after from", fmt.Sprintf("%s..%s", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339)))
		}
	}
	return errors.Join(errs...)
}

// lookBack is how far back the detector's hourly summaries must reach.
func (c Config) lookBack() time.Duration {
	return max(c.Baseline, time.Duration(c.Weeks)*Week)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
