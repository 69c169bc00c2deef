package backtest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// Week is the default season of the seasonal method.
const Week = 7 * 24 * time.Hour

// Seasons is how many seasons back the seasonal method looks by default
// (1w, 2w, 3w).
const Seasons = 3

// Point is one sample.
type Point struct {
	Time  time.Time
	Value float64
}

// Rule is one anomaly rule as the alert function evaluates it.
type Rule struct {
	// Name and Fingerprint feed the notification ids.
	Name        string
	Fingerprint string
	Params      anomaly.Params
	// Baseline is the length of the trailing baseline window; for the
	// seasonal method, the length of the window taken around the same time
	// in each earlier week.
	Baseline time.Duration
	// Gap leaves the newest Gap before the tick out of the baseline, so an
	// anomaly that lasts does not pull its own baseline towards it.
	Gap time.Duration
	// MinHistory: a tick less than MinHistory after the first point is
	// insufficient data.
	MinHistory time.Duration
	// Seasons and Season (seasonal method only): how many seasons back, and
	// how long one season is. Zero means Seasons and Week.
	Seasons int
	Season  time.Duration
	Timing  alerting.Timing
}

// Validate reports every invalid field.
func (r Rule) Validate() error {
	var errs []error
	if err := r.Params.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("anomaly: %w", err))
	}
	if r.Baseline <= 0 {
		errs = append(errs, fmt.Errorf("baseline: must be positive (got %s)", r.Baseline))
	}
	if r.Seasons < 0 {
		errs = append(errs, fmt.Errorf("seasons: must not be negative (got %d)", r.Seasons))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"gap", r.Gap}, {"min_history", r.MinHistory}, {"season", r.Season}, {"for", r.Timing.For}, {"keep_firing_for", r.Timing.KeepFiringFor}, {"repeat_interval", r.Timing.RepeatInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative (got %s)", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// Tick is the outcome of one evaluation.
type Tick struct {
	Time   time.Time
	Result anomaly.Result
	// SustainedZ is the z of the longer average (Params.SustainedPoints)
	// against the same baseline; zero when that check is off.
	SustainedZ float64
	// Missing: no finite value to score at this tick.
	Missing      bool
	State        alerting.State
	Notification alerting.Notification
	// Fired: the alert went firing at this tick (from pending, or from
	// inactive when for is 0). This is NAB's anomaly_score.
	Fired bool
}

// Summary counts what a run did.
type Summary struct {
	Ticks         int
	Insufficient  int
	Missing       int
	Pendings      int
	Firings       int
	Resolves      int
	Repeats       int
	Notifications int
}

func (s *Summary) add(t Tick, prev alerting.State) {
	s.Ticks++
	switch {
	case t.Missing:
		s.Missing++
	case !t.Result.OK():
		s.Insufficient++
	}
	if t.State == alerting.StatePending && prev != alerting.StatePending {
		s.Pendings++
	}
	switch t.Notification.Kind {
	case alerting.KindFiring:
		s.Firings++
	case alerting.KindResolved:
		s.Resolves++
	case alerting.KindRepeat:
		s.Repeats++
	}
	if t.Notification.Kind != alerting.KindNone {
		s.Notifications++
	}
}

// Run evaluates r at every point, one tick per point at that point's time,
// the way the alert function evaluates it at every scheduled run: the tick
// at index t sees only points[0..t]. Timestamps are expected in
// non-decreasing order, as a time series is; repeated timestamps are
// separate ticks.
func Run(points []Point, r Rule) ([]Tick, Summary, error) {
	return RunFrom(points, r, time.Time{})
}

// RunFrom is Run with a warm-up: points before from are history only (they
// feed baselines and min_history but are not ticks), the way a deployed
// function that starts at from finds the history already stored. It
// returns one tick per point at or after from.
func RunFrom(points []Point, r Rule, from time.Time) ([]Tick, Summary, error) {
	if err := r.Validate(); err != nil {
		return nil, Summary{}, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	e := newEvaluator(r, len(points))
	ticks := make([]Tick, 0, len(points))
	var sum Summary
	for _, p := range points {
		if p.Time.Before(from) {
			e.remember(p)
			continue
		}
		prev := e.state.State
		t := e.observe(p)
		sum.add(t, prev)
		ticks = append(ticks, t)
	}
	return ticks, sum, nil
}

// evaluator holds what one series needs between ticks: the points seen so
// far, the sliding baseline windows and the alert state.
type evaluator struct {
	r      Rule
	times  []time.Time
	values []float64
	main   window
	state  alerting.AlertState
	key    alerting.Key
}

// window is a trailing baseline window sliding over the evaluator's
// points: values[lo:hi], kept sorted too for the robust method.
type window struct {
	lo, hi int
	sorted []float64 // finite values of the window, ascending (robust only)
}

func newEvaluator(r Rule, capacity int) *evaluator {
	return &evaluator{
		r:      r,
		times:  make([]time.Time, 0, capacity),
		values: make([]float64, 0, capacity),
		key:    alerting.Key{Rule: r.Name, Fingerprint: r.Fingerprint},
	}
}

// remember adds a point to the history without evaluating a tick.
func (e *evaluator) remember(p Point) {
	e.times = append(e.times, p.Time)
	e.values = append(e.values, p.Value)
}

func (e *evaluator) observe(p Point) Tick {
	e.remember(p)
	t := len(e.values) - 1
	at := p.Time
	pr := e.r.Params

	tick := Tick{Time: at}
	cur, ok := anomaly.Current(e.values[max(0, t+1-max(pr.SmoothingPoints, 1)):], pr.SmoothingPoints, pr.Smoothing)
	b := anomaly.Baseline{}
	// A series younger than MinHistory keeps the empty baseline: insufficient
	// data whatever its point count.
	if at.Sub(e.times[0]) >= e.r.MinHistory {
		b = e.baseline(&e.main, at, pr.Method, e.r.Baseline, e.r.Gap, e.r.Seasons, e.r.Season)
	}
	if ok {
		tick.Result = pr.Score(cur, b)
	} else {
		tick.Missing = true
		tick.Result = anomaly.Result{Status: anomaly.StatusInsufficientData, Value: cur}
	}
	active := e.state.State.Active()
	holds := tick.Result.OK() && pr.Anomalous(tick.Result.Z, active)
	if tick.Result.OK() && pr.SustainedOn() {
		// The longer average against the same baseline: a lasting shift.
		if long, ok := anomaly.Current(e.values[max(0, t+1-pr.SustainedPoints):], pr.SustainedPoints, anomaly.SmoothingMean); ok {
			if sr := pr.Score(long, b); sr.OK() {
				tick.SustainedZ = sr.Z
				holds = holds || pr.Sustained(sr.Z, active)
			}
		}
	}
	obs := alerting.Observation{
		Missing: tick.Missing,
		Holds:   holds,
		Value:   tick.Result.Value,
		Z:       tick.Result.Z,
	}
	e.state, tick.Notification = alerting.Step(e.key, e.state, obs, at, e.r.Timing)
	tick.State = e.state.State
	tick.Fired = tick.Notification.Kind == alerting.KindFiring
	return tick
}

// baseline slides w to (at-gap-length, at-gap] (PromQL's range semantics:
// left-open, right-closed) over the points seen so far, or for the
// seasonal method gathers the earlier seasons.
func (e *evaluator) baseline(w *window, at time.Time, method anomaly.Method, length, gap time.Duration, seasons int, season time.Duration) anomaly.Baseline {
	if method == anomaly.MethodSeasonal {
		return e.seasonal(at, length, seasons, season)
	}
	end := at.Add(-gap)
	start := end.Add(-length)
	robust := method == anomaly.MethodRobust
	for w.hi < len(e.values) && !e.times[w.hi].After(end) {
		if robust && finite(e.values[w.hi]) {
			i, _ := slices.BinarySearch(w.sorted, e.values[w.hi])
			w.sorted = slices.Insert(w.sorted, i, e.values[w.hi])
		}
		w.hi++
	}
	for w.lo < w.hi && !e.times[w.lo].After(start) {
		if robust && finite(e.values[w.lo]) {
			i, _ := slices.BinarySearch(w.sorted, e.values[w.lo])
			w.sorted = slices.Delete(w.sorted, i, i+1)
		}
		w.lo++
	}
	if robust {
		return anomaly.RobustFromSorted(w.sorted)
	}
	return anomaly.WindowBaseline(e.values[w.lo:w.hi])
}

// seasonal takes, for each of the earlier seasons, the points in
// (at-k·season-length/2, at-k·season+length/2]: the same time of the week
// (or day), centred, so a daily ramp is compared with the same ramp.
func (e *evaluator) seasonal(at time.Time, length time.Duration, n int, season time.Duration) anomaly.Baseline {
	half := length / 2
	if n == 0 {
		n = Seasons
	}
	if season == 0 {
		season = Week
	}
	seasons := make([]anomaly.Baseline, 0, n)
	for k := 1; k <= n; k++ {
		mid := at.Add(-time.Duration(k) * season)
		from := sort.Search(len(e.times), func(i int) bool { return e.times[i].After(mid.Add(-half)) })
		to := sort.Search(len(e.times), func(i int) bool { return e.times[i].After(mid.Add(half)) })
		if to > from {
			seasons = append(seasons, anomaly.WindowBaseline(e.values[from:to]))
		}
	}
	return anomaly.SeasonalBaseline(seasons)
}

func finite(v float64) bool { return v == v && v-v == 0 }

// Default rule settings, chosen by the NAB backtest (RESULTS.md).
const (
	DefaultBaseline   = 7 * 24 * time.Hour
	DefaultGap        = 0
	DefaultMinHistory = 24 * time.Hour
	DefaultFor        = 0
	DefaultKeepFiring = 12 * time.Hour
	DefaultRepeat     = 4 * time.Hour
)

// DefaultRule is the rule the example rules ship with, at 5-minute data.
func DefaultRule() Rule {
	return Rule{
		Name:       "default",
		Params:     anomaly.DefaultParams(),
		Baseline:   DefaultBaseline,
		Gap:        DefaultGap,
		MinHistory: DefaultMinHistory,
		Timing: alerting.Timing{
			For:            DefaultFor,
			KeepFiringFor:  DefaultKeepFiring,
			RepeatInterval: DefaultRepeat,
		},
	}
}
