package backtest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/detector"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Point is one sample (the detector's: the auto method replays points
// through it unchanged).
type Point = detector.Point

// Rule is one anomaly rule as the alert function evaluates it: the
// detector and the timing that alerting.SpecOf maps a rule of rules.yaml to
// (RuleFromConfig), or set in code (nabrun's flags).
type Rule struct {
	// Name and Fingerprint feed the notification ids.
	Name        string
	Fingerprint string
	Params      anomaly.Params
	Timing      alerting.Timing
	// Lookback bounds how old the latest point may be when smoothing is 0
	// (the deployed function's lookback_delta); 0 means unbounded.
	Lookback time.Duration
}

// Validate reports every invalid field.
func (r Rule) Validate() error {
	var errs []error
	if err := r.Params.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("anomaly: %w", err))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"for", r.Timing.For}, {"keep_firing_for", r.Timing.KeepFiringFor}, {"repeat_interval", r.Timing.RepeatInterval}, {"lookback_delta", r.Lookback}} {
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
	// LatestZ and MedianZ are the z of the smoothing window's latest point
	// and median, SustainedZ the z of the longer average (Params.Sustained),
	// against the same baseline (see anomaly.Params.Holds); zero when not
	// scored.
	LatestZ, MedianZ, SustainedZ float64
	// Shift is the auto method's larger CUSUM sum, signed (see
	// detector.Decision); zero for the other methods.
	Shift float64
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
	if r.Params.Method == anomaly.MethodAuto {
		return runAuto(points, r, from)
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
// far, the sliding windows and the alert state.
type evaluator struct {
	r      Rule
	times  []time.Time
	values []float64
	// main is the baseline; smooth and sustained are the windows of the
	// current value and of the sustained average.
	main, smooth, sustained window
	state                   alerting.AlertState
	key                     alerting.Key
}

// window is a trailing window sliding over the evaluator's points:
// values[lo:hi], kept sorted too for the robust method.
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
	at := p.Time
	pr := e.r.Params

	tick := Tick{Time: at}
	window := e.recent(&e.smooth, at, pr.Smoothing)
	cur, ok := anomaly.Current(window, pr.SmoothingFunc)
	b := anomaly.Baseline{}
	// A series younger than MinHistory keeps the empty baseline: insufficient
	// data whatever its point count.
	if at.Sub(e.times[0]) >= pr.MinHistory {
		b = e.baseline(at)
	}
	if ok {
		tick.Result = pr.Score(cur, b)
	} else {
		tick.Missing = true
		tick.Result = anomaly.Result{Status: anomaly.StatusInsufficientData, Value: cur}
	}
	scores := anomaly.Scores{Current: tick.Result}
	if tick.Result.OK() && len(window) > 1 {
		// The window's latest point and median, what the decision reads to
		// tell an incident going on from one that has passed.
		latest, _ := anomaly.Current(lastFinite(window), anomaly.SmoothingMean)
		med, _ := anomaly.Current(window, anomaly.SmoothingMedian)
		lr, mr := pr.Score(latest, b), pr.Score(med, b)
		scores.Latest, scores.Median = &lr, &mr
		tick.LatestZ, tick.MedianZ = lr.Z, mr.Z
	}
	if tick.Result.OK() && pr.SustainedOn() {
		// The longer average against the same baseline: a lasting shift.
		if long, ok := anomaly.Current(e.slide(&e.sustained, at, pr.Sustained), anomaly.SmoothingMean); ok {
			if sr := pr.Score(long, b); sr.OK() {
				tick.SustainedZ = sr.Z
				scores.Sustained = &sr
			}
		}
	}
	obs := alerting.Observation{
		Missing: tick.Missing,
		Holds:   pr.Holds(scores, e.state.State.Active()),
		Value:   tick.Result.Value,
		Z:       tick.Result.Z,
	}
	e.state, tick.Notification = alerting.Step(e.key, e.state, obs, at, e.r.Timing)
	tick.State = e.state.State
	tick.Fired = tick.Notification.Kind == alerting.KindFiring
	return tick
}

// recent is the smoothing window at at: the points in (at−length, at], or,
// when length is 0, the latest finite point (within the lookback, when the
// rule has one), as the deployed function's last_over_time reads it.
func (e *evaluator) recent(w *window, at time.Time, length time.Duration) []float64 {
	if length > 0 {
		return e.slide(w, at, length)
	}
	for i := len(e.values) - 1; i >= 0; i-- {
		if e.r.Lookback > 0 && !e.times[i].After(at.Add(-e.r.Lookback)) {
			break
		}
		if finite(e.values[i]) {
			return e.values[i : i+1]
		}
	}
	return nil
}

// lastFinite is the latest finite value of window, as a one-point window
// (empty when there is none).
func lastFinite(window []float64) []float64 {
	for i := len(window) - 1; i >= 0; i-- {
		if finite(window[i]) {
			return window[i : i+1]
		}
	}
	return nil
}

// slide moves w to (at-length, at] over the points seen so far and
// returns its values.
func (e *evaluator) slide(w *window, at time.Time, length time.Duration) []float64 {
	e.advance(w, at.Add(-length), at, false)
	return e.values[w.lo:w.hi]
}

// advance slides w to (start, end] (PromQL's range semantics: left-open,
// right-closed), keeping w.sorted when sorted is set.
func (e *evaluator) advance(w *window, start, end time.Time, sorted bool) {
	for w.hi < len(e.values) && !e.times[w.hi].After(end) {
		if sorted && finite(e.values[w.hi]) {
			i, _ := slices.BinarySearch(w.sorted, e.values[w.hi])
			w.sorted = slices.Insert(w.sorted, i, e.values[w.hi])
		}
		w.hi++
	}
	for w.lo < w.hi && !e.times[w.lo].After(start) {
		if sorted && finite(e.values[w.lo]) {
			i, _ := slices.BinarySearch(w.sorted, e.values[w.lo])
			w.sorted = slices.Delete(w.sorted, i, i+1)
		}
		w.lo++
	}
}

// baseline is the rule's baseline at at: the trailing window
// (at-gap-length, at-gap] over the points seen so far, or for the seasonal
// method the earlier seasons.
func (e *evaluator) baseline(at time.Time) anomaly.Baseline {
	pr := e.r.Params
	switch pr.Method {
	case anomaly.MethodSeasonal:
		return e.seasonal(at)
	case anomaly.MethodRobust:
		// Held for the hour (anomaly.Params.RobustEnd), as deployed.
		end := pr.RobustEnd(at)
		e.advance(&e.main, end.Add(-pr.Baseline), end, true)
		return anomaly.RobustFromSorted(e.main.sorted)
	default:
		end := at.Add(-pr.Gap)
		e.advance(&e.main, end.Add(-pr.Baseline), end, false)
		return anomaly.WindowBaseline(e.values[e.main.lo:e.main.hi])
	}
}

// seasonal takes, for each of the earlier seasons, the points in
// (at-k·season-width/2, at-k·season+width/2]: the same time of the week
// (or day), centred, so a daily ramp is compared with the same ramp.
func (e *evaluator) seasonal(at time.Time) anomaly.Baseline {
	pr := e.r.Params
	half := pr.SeasonWindow / 2
	seasons := make([]anomaly.Baseline, 0, pr.Seasons)
	for k := 1; k <= pr.Seasons; k++ {
		mid := at.Add(-time.Duration(k) * pr.Season)
		from := sort.Search(len(e.times), func(i int) bool { return e.times[i].After(mid.Add(-half)) })
		to := sort.Search(len(e.times), func(i int) bool { return e.times[i].After(mid.Add(half)) })
		if to > from {
			seasons = append(seasons, anomaly.WindowBaseline(e.values[from:to]))
		}
	}
	return anomaly.SeasonalBaseline(seasons)
}

func finite(v float64) bool { return v == v && v-v == 0 }

// ShippedKeepFiringFor is the keep_firing_for of the example rules'
// anomaly rules (infra/examples/rules.yaml), which DefaultRule and the NAB
// scores in BENCHMARKS.md use: none, so a resolved message follows an
// incident within minutes (anomaly.Params.Holds keeps a single normal point
// from resolving it).
const ShippedKeepFiringFor = 0

// DefaultRule is the rule the example rules ship with: an anomaly block
// left to its defaults (anomaly.DefaultParams), for 0s, keep_firing_for
// ShippedKeepFiringFor and the default repeat_interval.
func DefaultRule() Rule {
	return Rule{
		Name:   "default",
		Params: anomaly.DefaultParams(),
		Timing: alerting.Timing{
			KeepFiringFor:      ShippedKeepFiringFor,
			RepeatInterval:     time.Duration(rules.DefaultRepeatInterval),
			MissingDataTimeout: time.Duration(rules.DefaultMissingDataTimeout),
		},
		Lookback: time.Duration(rules.DefaultLookbackDelta),
	}
}
