package anomaly

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Method names how the baseline is computed.
type Method string

// The baseline methods.
const (
	// MethodAuto is the online detector of package detector: baselines
	// that learn the time of day and of the week from hourly summaries,
	// learning weights an incident cannot poison, a CUSUM for shifts. The
	// shipped default.
	MethodAuto     Method = "auto"
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

// Smoothing names how the points of the smoothing window are combined into
// the current value.
type Smoothing string

// The smoothing functions.
const (
	SmoothingMean   Smoothing = "mean"
	SmoothingMedian Smoothing = "median"
)

// Defaults, defined here once. rules.yaml's anomaly block takes every
// default from DefaultParamsFor its method, and the backtest and the
// deployed evaluation read the same Params (alerting.SpecOf maps a rule to
// them). The shipped method is auto; its threshold, floors and smoothing
// (AutoThreshold and the shared values below) were chosen by
// leave-one-category-out cross-validation on the whole NAB corpus
// (shared/backtest/nab/RESULTS.md), the rest of its settings are package
// detector's. DefaultThreshold and the sustained check are the window,
// robust and seasonal methods' values, chosen by the NAB backtest on the
// AWS subset (shared/backtest/RESULTS.md), on 5-minute data: 15 minutes of
// smoothing is 3 points there, 90 minutes of sustained average 18.
const (
	DefaultMethod = MethodAuto
	// AutoThreshold and AutoSmoothing are the auto method's burst check:
	// the least |z| of the 10-minute mean of standardized residuals that
	// pages.
	AutoThreshold = 4.0
	AutoSmoothing = 10 * time.Minute
	// AutoMinHistory: the auto method decides after 12 hours of data (on
	// the recent model until its daily and weekly models have the history).
	AutoMinHistory           = 12 * time.Hour
	DefaultDirection         = DirectionBoth
	DefaultBaseline          = 7 * 24 * time.Hour
	DefaultThreshold         = 6.0
	DefaultResolveRatio      = 0.75
	DefaultMinStdDev         = 1e-9
	DefaultMinRelativeStdDev = 0.05
	DefaultMinPoints         = 12
	DefaultMinSeasons        = 2
	// DefaultMinHistory applies to trailing baselines; a seasonal baseline
	// needs DefaultSeason of history instead. Both are capped at the
	// baseline's reach.
	DefaultMinHistory    = 24 * time.Hour
	DefaultSmoothing     = 15 * time.Minute
	DefaultSmoothingFunc = SmoothingMean
	// DefaultSustained and DefaultSustainedThreshold: the mean of the last
	// 90 minutes at 1.5σ (see Params.Sustained).
	DefaultSustained          = 90 * time.Minute
	DefaultSustainedThreshold = 1.5
	// DefaultSeasons, DefaultSeason and DefaultSeasonWindow shape the
	// seasonal baseline: an hour around the same time 1, 2 and 3 weeks back.
	DefaultSeasons      = 3
	DefaultSeason       = 7 * 24 * time.Hour
	DefaultSeasonWindow = time.Hour
)

// Params is everything the detector needs to decide whether a series is
// anomalous at one time: which points form the baseline (durations), how
// the current value is smoothed (a duration), the floors, the thresholds and
// the minimum history. Windows are durations, never point counts, so a rule
// means the same on 1-minute and 5-minute data: the points of a window are
// the ones whose timestamps fall in (t−length, t], PromQL's range semantics.
type Params struct {
	Method    Method
	Direction Direction
	// Baseline is the length of the trailing window of the window and
	// robust methods. The seasonal method uses Seasons, Season and
	// SeasonWindow instead.
	Baseline time.Duration
	// Gap leaves the newest Gap before the evaluation time out of a
	// trailing baseline, so an anomaly that lasts does not pull its own
	// baseline towards it (rules.yaml's exclude_recent).
	Gap time.Duration
	// Seasons, Season and SeasonWindow (seasonal only): the points within
	// SeasonWindow centred on the same time 1…Seasons seasons back.
	Seasons      int
	Season       time.Duration
	SeasonWindow time.Duration
	// MinHistory: at a time less than MinHistory after the series' first
	// point the result is insufficient data whatever the point count.
	MinHistory time.Duration
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
	// Smoothing is the window of the current value: the mean (or median,
	// SmoothingFunc) of the points in (t−Smoothing, t]; 0 means the latest
	// point alone.
	Smoothing     time.Duration
	SmoothingFunc Smoothing
	// Sustained and SustainedThreshold, when both positive, add a second,
	// longer average: the mean of the points in (t−Sustained, t] is scored
	// against the same baseline too. A shift that lasts (an hour at +3σ)
	// is as much an incident as a short burst at +5σ, but one threshold
	// cannot catch both without paging on every short burst. See Holds for
	// how it decides.
	Sustained          time.Duration
	SustainedThreshold float64
}

// DefaultParams returns the shipped detector (method auto).
func DefaultParams() Params { return DefaultParamsFor(DefaultMethod) }

// DefaultParamsFor returns the defaults of method m: the auto method has
// its own threshold and no sustained check (its CUSUM detects shifts);
// the others share the window method's tuned values.
func DefaultParamsFor(m Method) Params {
	p := classicParams()
	p.Method = m
	if m == MethodAuto {
		p.Threshold = AutoThreshold
		p.ResolveThreshold = DefaultResolveRatio * AutoThreshold
		p.Smoothing = AutoSmoothing
		p.MinHistory = AutoMinHistory
		p.Sustained, p.SustainedThreshold = 0, 0
	}
	return p
}

func classicParams() Params {
	return Params{
		Method:             MethodWindow,
		Direction:          DefaultDirection,
		Baseline:           DefaultBaseline,
		Seasons:            DefaultSeasons,
		Season:             DefaultSeason,
		SeasonWindow:       DefaultSeasonWindow,
		MinHistory:         DefaultMinHistory,
		Threshold:          DefaultThreshold,
		ResolveThreshold:   DefaultResolveRatio * DefaultThreshold,
		MinStdDev:          DefaultMinStdDev,
		MinRelativeStdDev:  DefaultMinRelativeStdDev,
		MinPoints:          DefaultMinPoints,
		MinSeasons:         DefaultMinSeasons,
		Smoothing:          DefaultSmoothing,
		SmoothingFunc:      DefaultSmoothingFunc,
		Sustained:          DefaultSustained,
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
	case MethodAuto:
		if p.Baseline < time.Hour {
			bad("baseline", "must be at least 1h", p.Baseline)
		}
		if p.Gap != 0 {
			bad("exclude_recent", "only for methods window and robust (auto never learns from the hour in progress)", p.Gap)
		}
		if p.SustainedOn() {
			bad("sustained", "only for methods window, robust and seasonal (auto detects shifts with its CUSUM)", p.Sustained)
		}
		if p.SmoothingFunc == SmoothingMedian {
			bad("smoothing_func", "method auto smooths with the mean", p.SmoothingFunc)
		}
	case MethodWindow, MethodRobust:
		if p.Baseline <= 0 {
			bad("baseline", "must be positive", p.Baseline)
		}
	case MethodSeasonal:
		if p.Seasons < 1 {
			bad("seasons", "must be at least 1", p.Seasons)
		}
		if p.Season <= 0 {
			bad("season", "must be positive", p.Season)
		}
		if p.SeasonWindow <= 0 || p.SeasonWindow > p.Season {
			bad("season_window", "must be positive and at most the season", p.SeasonWindow)
		}
		if p.MinSeasons < 1 {
			bad("min_seasons", "must be at least 1", p.MinSeasons)
		}
	default:
		bad("method", "must be auto, window, robust or seasonal", fmt.Sprintf("%q", p.Method))
	}
	switch p.Direction {
	case DirectionUp, DirectionDown, DirectionBoth:
	default:
		bad("direction", "must be up, down or both", fmt.Sprintf("%q", p.Direction))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"exclude_recent", p.Gap}, {"min_history", p.MinHistory}, {"smoothing", p.Smoothing}, {"sustained", p.Sustained}} {
		if d.v < 0 {
			bad(d.name, "must not be negative", d.v)
		}
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
	if !finite(p.SustainedThreshold) || p.SustainedThreshold < 0 {
		bad("sustained_threshold", "must be a non-negative number", p.SustainedThreshold)
	}
	switch p.SmoothingFunc {
	case SmoothingMean, SmoothingMedian, "":
	default:
		bad("smoothing_func", "must be mean or median", fmt.Sprintf("%q", p.SmoothingFunc))
	}
	return errors.Join(errs...)
}

// Reach is how far before the evaluation time the baseline reads: the
// trailing window and its gap (for the robust method, and the lag of its
// end, see RobustEnd), or the oldest season's window.
func (p Params) Reach() time.Duration {
	switch p.Method {
	case MethodSeasonal:
		return time.Duration(p.Seasons)*p.Season + p.SeasonWindow/2
	case MethodRobust:
		return p.Baseline + p.Gap + RobustLag + RobustRefresh
	}
	return p.Baseline + p.Gap
}

// How a robust baseline is held (RobustEnd): its window ends on a whole
// RobustRefresh, RobustLag before the one the evaluation falls in.
const (
	RobustRefresh = time.Hour
	RobustLag     = 2 * time.Hour
)

// RobustEnd is where the robust baseline of an evaluation at t ends: two
// whole hours before the hour that t−Gap falls in (from 2 to 3 hours before
// t−Gap). The baseline is the median and MAD of the points of
// (RobustEnd(t)−Baseline, RobustEnd(t)].
//
// Why an hour-aligned end, lagging two hours: the median and the MAD have
// no exact combination from summaries, so a deployed evaluation must read
// every point of the window to compute them — days of every series. Held
// for the hour, the baseline is computed once per series and hour instead
// of at every run; lagging, it is computed ahead, during the hour and a
// half before it is used, once its last points are stored (spread over
// those runs instead of all at the hour's first run: 10,000 series of
// 5-minute data over seven days are 20 million points an hour). Over a
// baseline of days, two hours more or less at its end move the median and
// MAD by little; the backtest replays exactly this definition.
func (p Params) RobustEnd(t time.Time) time.Time {
	return t.Add(-p.Gap).Truncate(RobustRefresh).Add(-RobustLag)
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
	return beyond(z, limit, p.Direction)
}

// SustainedOn reports whether the sustained check is configured.
func (p Params) SustainedOn() bool { return p.Sustained > 0 && p.SustainedThreshold > 0 }

// SustainedAnomalous decides on the z of the longer average (see Params.Sustained)
// with the same hysteresis ratio as Anomalous; always false when it is off.
func (p Params) SustainedAnomalous(z float64, wasActive bool) bool {
	if !p.SustainedOn() || math.IsNaN(z) {
		return false
	}
	limit := p.SustainedThreshold
	if wasActive && p.Threshold > 0 {
		limit *= p.EffectiveResolveThreshold() / p.Threshold
	}
	return beyond(z, limit, p.Direction)
}

// Scores is what one evaluation of one series gives the decision, all
// scored against the same baseline: the smoothed current value (Current,
// the mean of the smoothing window), the window's latest point (Latest) and
// its median (Median) — both nil when the window is a single point, Current
// then stands for them — and the sustained average (Sustained, nil when the
// check is off or could not be scored).
type Scores struct {
	Current   Result
	Latest    *Result
	Median    *Result
	Sustained *Result
}

// Holds is the decision of one evaluation, the one both the deployed
// function and the backtest make (wasActive: the alert was pending or
// firing at the previous tick).
//
// An inactive alert becomes active when the smoothed value is at the
// threshold and the latest point at the resolve threshold (a burst going on
// now), or when the sustained average is at the sustained threshold with
// the smoothed value, and the latest point and the median at the sustained
// resolve threshold, all on the same side (a shift going on now). An active
// alert stays active while the latest point or the window's median is at
// the resolve threshold, or while the sustained average is at the
// sustained resolve threshold and the median with it, on its side. The
// resolve thresholds are the fire thresholds × resolve_threshold/threshold.
//
// Reading the latest point and the median is what lets an alert resolve
// within minutes of a burst ending: the 15-minute mean carries a burst's
// last point until it leaves the window and the 90-minute average carries
// a 30-minute burst for an hour after it, but the latest point is back at
// once and the median once most of the window is (two 5-minute points,
// eight 1-minute ones); with the median, a single normal point inside an
// incident does not resolve it. Whatever fires also holds, so evaluating
// the same data twice never flaps (the deployed function evaluates a
// 5-minute point at five 1-minute ticks).
func (p Params) Holds(s Scores, wasActive bool) bool {
	if !s.Current.OK() {
		return false
	}
	latest, median := s.Current, s.Current
	if s.Latest != nil && s.Latest.OK() {
		latest = *s.Latest
	}
	if s.Median != nil && s.Median.OK() {
		median = *s.Median
	}
	resolve := p.EffectiveResolveThreshold()
	sustainedResolve := p.SustainedThreshold * resolve / p.Threshold
	shift := s.Sustained != nil && s.Sustained.OK() && p.SustainedOn()
	// with: z on the same side as the sustained average, by at least limit.
	with := func(z, limit float64) bool { return shift && math.Copysign(1, s.Sustained.Z)*z >= limit }
	if wasActive {
		if beyond(latest.Z, resolve, p.Direction) || beyond(median.Z, resolve, p.Direction) {
			return true
		}
		return shift && beyond(s.Sustained.Z, sustainedResolve, p.Direction) && with(median.Z, sustainedResolve)
	}
	if beyond(s.Current.Z, p.Threshold, p.Direction) && beyond(latest.Z, resolve, p.Direction) {
		return true
	}
	return shift && beyond(s.Sustained.Z, p.SustainedThreshold, p.Direction) &&
		with(s.Current.Z, p.SustainedThreshold) && with(latest.Z, sustainedResolve) && with(median.Z, sustainedResolve)
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
