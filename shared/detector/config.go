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
	// Threshold is the least |z| of the smoothed residual at which an
	// inactive series is anomalous (a burst, a spike, a drop).
	Threshold float64
	// PeakRank and PeakFactor raise that bar for a series that often goes
	// far out: an inactive series also needs PeakFactor × the PeakRank-th
	// largest hourly peak |z| of the look-back. What a series does every
	// few days is not news, while PeakRank − 1 earlier incidents in the
	// look-back do not hide the next one. PeakRank 0 turns it off.
	PeakRank   int
	PeakFactor float64
	// ResolveRatio: an active series stays anomalous until both checks fall
	// below ResolveRatio × their limits (hysteresis, so it does not flap).
	ResolveRatio float64
	// Smoothing is how far back the burst check averages the standardized
	// residuals: every point in (t − Smoothing, t], at least the newest.
	Smoothing time.Duration
	// Baseline is how far back the recent and the time-of-day baselines
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
	// variance is below SeasonalGain × that of the simpler one.
	SeasonalGain float64
	// Pool is the weight of the model's pooled residual variance in the
	// spread of one hour's bucket (0: the bucket's own variance alone).
	Pool float64
	// Tolerance lets a seasonal pattern come early or late by up to this
	// many hours: the residual is measured from the band spanned by the
	// means of the neighbouring hours, so a batch job that starts a few
	// minutes early, or business hours that move by an hour in UTC with
	// daylight saving time, are not anomalies.
	Tolerance int
	// Trust bounds what one point can teach the baseline: a point whose
	// residual is z spreads enters the hourly summaries with weight
	// (Trust/|z|)² when |z| > Trust, so an incident adds at most Trust²
	// spreads² per point to its hour's variance, however far out it goes.
	// A point keeps its real value, only its weight shrinks: a regime the
	// current model does not know yet (Saturdays, in a daily model fitted
	// on weekdays) is still learned exactly in its own hour-of-week
	// bucket. 0 disables it.
	Trust float64
	// Rare is the share of points beyond Trust, over the look-back, up to
	// which they are down-weighted: an incident is rare, but a series that
	// spikes every half hour (a disk flushing its cache) has a heavy tail
	// that is its normal, and learning it at full weight is what stops it
	// paging on every spike.
	Rare float64
	// ShiftSlack (k) and ShiftLimit (h) are the two-sided CUSUM over the
	// standardized residuals (clipped to ±ShiftClip, then divided by the
	// square root of the look-back's variance inflation of hour means, so
	// residuals that wander together count as the evidence they are):
	// S⁺ = min(h, max(0, S⁺ + w·(e − k))), anomalous at S⁺ ≥ h. A shift of
	// δ > k spreads is flagged after about h/(δ − k) periods of
	// ShiftPeriod; a point counts for its spacing over ShiftPeriod, at
	// most one period. ShiftLimit 0 disables it.
	ShiftSlack  float64
	ShiftLimit  float64
	ShiftClip   float64
	ShiftPeriod time.Duration
	// MinStdDev is a floor under the spread in the metric's own units;
	// MinRelativeStdDev floors it relative to |centre|. A series whose
	// every value so far is a whole number (a count) gets a floor of 1 as
	// well: after a week of zeros, one event is z = 1, not 10⁸.
	MinStdDev         float64
	MinRelativeStdDev float64
	// Location is the time zone of the time-of-day and time-of-week
	// baselines (business hours follow local time across DST); nil is UTC.
	Location *time.Location
	// Exclude lists time ranges whose points are skipped as if they were
	// not there: never learned (CloudWatch lets a user exclude a known
	// event from training) and never scored (a load test pages no one).
	Exclude []TimeRange
}

// TimeRange is [From, To).
type TimeRange struct {
	From, To time.Time
}

// Contains reports whether t is in [From, To).
func (r TimeRange) Contains(t time.Time) bool { return !t.Before(r.From) && t.Before(r.To) }

// Defaults, chosen by leave-one-category-out cross-validation on NAB under
// the constraint of the healthy-pattern suite (shared/backtest/nab/RESULTS.md).
// Those a rule can set are package anomaly's, defined there once.
const (
	DefaultThreshold         = anomaly.AutoThreshold
	DefaultPeakRank          = 2
	DefaultPeakFactor        = 1.25
	DefaultResolveRatio      = anomaly.DefaultResolveRatio
	DefaultSmoothing         = anomaly.AutoSmoothing
	DefaultBaseline          = anomaly.DefaultBaseline
	DefaultWeeks             = 4
	DefaultMinHistory        = anomaly.AutoMinHistory
	DefaultDailyAfter        = 3 * Day
	DefaultWeeklyAfter       = 2 * Week
	DefaultSeasonalGain      = 0.6
	DefaultPool              = 0.5
	DefaultTolerance         = 1
	DefaultTrust             = 3.0
	DefaultRare              = 0.01
	DefaultShiftSlack        = 1.0
	DefaultShiftLimit        = 8.0
	DefaultShiftClip         = 4.0
	DefaultShiftPeriod       = 5 * time.Minute
	DefaultMinRelativeStdDev = anomaly.DefaultMinRelativeStdDev
)

// DefaultConfig returns the shipped defaults.
func DefaultConfig() Config {
	return Config{
		Direction:         anomaly.DirectionBoth,
		Threshold:         DefaultThreshold,
		PeakRank:          DefaultPeakRank,
		PeakFactor:        DefaultPeakFactor,
		ResolveRatio:      DefaultResolveRatio,
		Smoothing:         DefaultSmoothing,
		Baseline:          DefaultBaseline,
		Weeks:             DefaultWeeks,
		MinHistory:        DefaultMinHistory,
		DailyAfter:        DefaultDailyAfter,
		WeeklyAfter:       DefaultWeeklyAfter,
		SeasonalGain:      DefaultSeasonalGain,
		Pool:              DefaultPool,
		Tolerance:         DefaultTolerance,
		Trust:             DefaultTrust,
		Rare:              DefaultRare,
		ShiftSlack:        DefaultShiftSlack,
		ShiftLimit:        DefaultShiftLimit,
		ShiftClip:         DefaultShiftClip,
		ShiftPeriod:       DefaultShiftPeriod,
		MinRelativeStdDev: DefaultMinRelativeStdDev,
	}
}

// Validate reports every invalid field, each named as in a rules file.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, rule string, got any) {
		errs = append(errs, fmt.Errorf("%s: %s (got %v)", field, rule, got))
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
	within := func(field string, v, lo, hi float64) {
		if !finite(v) || v < lo || v > hi {
			bad(field, fmt.Sprintf("must be in [%g, %g]", lo, hi), v)
		}
	}
	switch c.Direction {
	case anomaly.DirectionUp, anomaly.DirectionDown, anomaly.DirectionBoth:
	default:
		bad("direction", "must be up, down or both", fmt.Sprintf("%q", c.Direction))
	}
	positive("threshold", c.Threshold)
	if c.PeakRank < 0 || c.PeakRank > maxPeakRank {
		bad("peak_rank", fmt.Sprintf("must be 0 to %d", maxPeakRank), c.PeakRank)
	}
	if c.PeakRank > 0 {
		positive("peak_factor", c.PeakFactor)
	}
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
	if c.Weeks < 0 || c.Weeks > 8 {
		bad("weeks", "must be 0 to 8", c.Weeks)
	}
	if !finite(c.SeasonalGain) || c.SeasonalGain <= 0 || c.SeasonalGain > 1 {
		bad("seasonal_gain", "must be in (0, 1]", c.SeasonalGain)
	}
	within("pool", c.Pool, 0, 1)
	if c.Tolerance < 0 || c.Tolerance > maxTolerance {
		bad("tolerance", fmt.Sprintf("must be 0 to %d hours", maxTolerance), c.Tolerance)
	}
	nonNegative("trust", c.Trust)
	within("rare", c.Rare, 0, 1)
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

// maxPeakRank bounds Config.PeakRank, maxTolerance Config.Tolerance.
const (
	maxPeakRank  = 8
	maxTolerance = 3
)

// lookBack is how far back the detector's hourly summaries must reach.
func (c Config) lookBack() time.Duration {
	return max(c.Baseline, time.Duration(c.Weeks)*Week)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
