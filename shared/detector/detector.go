package detector

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// Point is one sample of one series.
type Point struct {
	Time  time.Time
	Value float64
}

// Residual is the standardized residual of one point.
type Residual struct {
	Time time.Time
	Z    float64
}

// Hour is the summary of one clock hour of a series. Start is the hour's
// first instant in the detector's Location. Moments are those of the
// values the hour taught the baseline (weighted, see Config.Trust).
type Hour struct {
	Start time.Time
	// Points counts the points of the hour, Beyond those whose residual
	// was beyond Config.Trust when they arrived.
	Points, Beyond float64
	// Peak is the largest |z| of the smoothed residual in the hour.
	Peak float64
	Moments
}

// State is everything the detector keeps about one series between points:
// the hourly summaries of the look-back, the hour in progress, the
// residuals of the smoothing window and a few numbers. The deployed
// function persists it and the backtest keeps it in memory; both feed it
// the same points in the same order and so take the same decisions.
type State struct {
	// First and Last are the times of the first and of the latest finite
	// point observed.
	First, Last time.Time
	// Hours are the completed hours within the look-back, oldest first.
	Hours []Hour
	// Open is the hour in progress.
	Open Hour
	// Recent are the standardized residuals of the points in (Last −
	// Smoothing, Last] that were scored, each against its own hour's
	// baseline: smoothing residuals rather than values keeps the edge of a
	// daily pattern (a batch job starting at 02:00) from reading as an
	// anomaly when the window straddles two hours.
	Recent []Residual
	// Up and Down are the CUSUM sums of upward and downward shifts.
	Up, Down float64
	// Active: the series was anomalous at the latest point (hysteresis).
	Active bool
	// Integer: every finite value observed so far is a whole number.
	Integer bool

	// cache is the baseline of the hour it was computed for: it depends
	// only on Hours before that hour, so a full state derives it again; a
	// compact one persists it (see Compact).
	cache cached
	// compact: Hours holds only the hours closed since the state was
	// compacted, prep the prepared baseline of the hour after Open (nil
	// once used). stale: a compact state was fed a point of an hour it
	// had no prepared baseline for (see Covers).
	compact, stale bool
	prep           *prepared
}

type cached struct {
	hour time.Time
	b    Baseline
	ok   bool
}

// Model names the baseline a decision was taken against.
type Model string

// The models, from the simplest.
const (
	// ModelNone: no baseline yet (insufficient data).
	ModelNone Model = ""
	// ModelRecent: every hour of the look-back alike (a trailing window).
	ModelRecent Model = "recent"
	// ModelDaily: the same hour of the day over the look-back.
	ModelDaily Model = "daily"
	// ModelWeekly: the same hour of the week over the last weeks.
	ModelWeekly Model = "weekly"
)

// Baseline is what one hour of a series is expected to look like, from
// the hours before it, before the floors.
type Baseline struct {
	Model  Model
	Center float64
	// Lower and Upper bound the band residuals are measured from: the
	// means of the buckets within Tolerance hours (Center itself for the
	// recent model).
	Lower, Upper float64
	Spread       float64
	// N is the weight of the points behind Center.
	N float64
	// Beyond is the share of the look-back's points that were beyond
	// Config.Trust.
	Beyond float64
	// Between is the variance of hour means about what the model expects
	// of them, and PerHour the points per hour: with white noise Between
	// is Spread²/PerHour; a series whose level wanders has more, and its
	// residuals are correlated.
	Between, PerHour float64
	// Peak is the Config.PeakRank-th largest hourly Peak of the look-back.
	Peak float64
}

// Decision is the outcome of one point.
type Decision struct {
	// Result carries the point's value, the baseline's centre, the spread
	// after the floors (RawSpread before them) and Z, the smoothed
	// standardized residual. Status is insufficient data until the series
	// is MinHistory old and has a baseline.
	anomaly.Result
	// Missing: the point had no finite value (or was not newer than the
	// last one) and changed nothing.
	Missing bool
	// Excluded: the point lies in one of Config.Exclude's ranges; it is
	// neither scored nor learned, as if it were not there.
	Excluded bool
	Model    Model
	// Shift is the larger CUSUM sum, signed (negative: a downward shift).
	Shift float64
	// Burst and Shifted say which check holds; Holds is their union.
	Burst, Shifted, Holds bool
}

// Detector applies one Config.
type Detector struct {
	c   Config
	loc *time.Location
}

// New validates c.
func New(c Config) (*Detector, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("detector: %w", err)
	}
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	return &Detector{c: c, loc: loc}, nil
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.c }

// minPoints is the fewest points a baseline needs.
const minPoints = 12

// Observe feeds one point to s and returns the decision at that point. It
// is pure apart from s: the same state and point always give the same
// decision and the same next state.
func (d *Detector) Observe(s *State, p Point) Decision {
	c := d.c
	if !finite(p.Value) || (!s.Last.IsZero() && !p.Time.After(s.Last)) {
		return Decision{Missing: true, Result: anomaly.Result{Status: anomaly.StatusInsufficientData, Value: p.Value}}
	}
	if d.excluded(p.Time) {
		return Decision{Excluded: true, Result: anomaly.Result{Status: anomaly.StatusInsufficientData, Value: p.Value}}
	}
	prev := s.Last
	if s.First.IsZero() {
		s.First = p.Time
		s.Integer = true
	}
	hour := d.hourOf(p.Time)
	if !s.Open.Start.Equal(hour) {
		if s.Open.Points > 0 {
			s.Hours = append(s.Hours, s.Open)
		}
		s.Open = Hour{Start: hour}
		d.prune(s, hour)
	}
	cut := 0
	for cut < len(s.Recent) && !s.Recent[cut].Time.After(p.Time.Add(-c.Smoothing)) {
		cut++
	}
	s.Recent = slices.Delete(s.Recent, 0, cut)
	s.Last = p.Time

	b := d.baseline(s, hour)
	dec := Decision{Model: b.Model}
	dec.Result = anomaly.Result{Status: anomaly.StatusInsufficientData, Value: p.Value, Center: b.Center, RawSpread: b.Spread, N: int(b.N)}
	spread := max(b.Spread, c.MinStdDev, c.MinRelativeStdDev*math.Abs(b.Center))
	if s.Integer {
		spread = max(spread, 1)
	}
	if b.Model == ModelNone || p.Time.Sub(s.First) < c.MinHistory || !(spread > 0) {
		s.Up, s.Down, s.Active, s.Recent = 0, 0, false, s.Recent[:0]
		d.learn(s, p, 0, b, false)
		return dec
	}
	e := clampZ((p.Value - min(max(p.Value, b.Lower), b.Upper)) / spread)
	s.Recent = append(s.Recent, Residual{Time: p.Time, Z: e})
	z := 0.0
	for _, r := range s.Recent {
		z += r.Z
	}
	z /= float64(len(s.Recent))
	dec.Result.Status = anomaly.StatusOK
	dec.Result.Spread = spread
	dec.Result.Z = z

	ratio := 1.0
	if s.Active {
		ratio = c.ResolveRatio
	}
	limit := c.Threshold
	if !s.Active && c.PeakRank > 0 {
		limit = max(limit, c.PeakFactor*b.Peak)
	}
	dec.Burst = beyond(z, limit*ratio, c.Direction)
	s.Open.Peak = max(s.Open.Peak, math.Abs(z))
	if c.ShiftLimit > 0 {
		d.cusum(s, &dec, b, spread, e, z, prev, p.Time, ratio)
	}
	dec.Holds = dec.Burst || dec.Shifted
	if s.Active && !dec.Holds {
		// The episode is over: the shift statistic starts again from zero,
		// so the next page needs a new shift, not the noise of the old one.
		s.Up, s.Down = 0, 0
	}
	s.Active = dec.Holds
	d.learn(s, p, e, b, true)
	return dec
}

// cusum advances the shift check by the residual e of the point at t.
//
// While the series is anomalous (ratio < 1) the shift also needs the
// smoothed residual z still beyond the slack on its side: the
// capped sum falls back by only about k per period, and noise above k
// pushes it up again, so without this a shift that has ended could hold an
// alert for half an hour; with it, the alert clears once the last
// Smoothing is back.
func (d *Detector) cusum(s *State, dec *Decision, b Baseline, spread, e, z float64, prev, t time.Time, ratio float64) {
	c := d.c
	e = max(-c.ShiftClip, min(c.ShiftClip, e))
	// Residuals that wander together carry less evidence each: a CUSUM on
	// them sees a shift in every slow wave. Scale them by the variance
	// inflation of hour means (1 for white noise).
	if r := b.Between * b.PerHour / (spread * spread); r > 1 {
		e /= math.Sqrt(r)
	}
	w := 1.0
	if !prev.IsZero() {
		w = min(1, float64(t.Sub(prev))/float64(c.ShiftPeriod))
	}
	s.Up = min(c.ShiftLimit, max(0, s.Up+w*(e-c.ShiftSlack)))
	s.Down = min(c.ShiftLimit, max(0, s.Down+w*(-e-c.ShiftSlack)))
	limit := c.ShiftLimit * ratio
	still := math.Inf(-1)
	if ratio < 1 {
		still = c.ShiftSlack
	}
	up := c.Direction != anomaly.DirectionDown && s.Up >= limit && z >= still
	down := c.Direction != anomaly.DirectionUp && s.Down >= limit && -z >= still
	dec.Shifted = up || down
	dec.Shift = s.Up
	if s.Down > s.Up {
		dec.Shift = -s.Down
	}
}

// learn adds p to the hour in progress, down-weighted when its residual e
// is beyond Trust and such points are rare.
func (d *Detector) learn(s *State, p Point, e float64, b Baseline, ready bool) {
	if p.Value != math.Trunc(p.Value) {
		s.Integer = false
	}
	s.Open.Points++
	w := 1.0
	if ready && d.c.Trust > 0 && math.Abs(e) > d.c.Trust {
		s.Open.Beyond++
		if b.Beyond <= d.c.Rare {
			w = (d.c.Trust / e) * (d.c.Trust / e)
		}
	}
	s.Open.Add(p.Value, w)
}

// excluded reports whether t lies in one of Config.Exclude's ranges.
func (d *Detector) excluded(t time.Time) bool {
	for _, r := range d.c.Exclude {
		if r.Contains(t) {
			return true
		}
	}
	return false
}

// hourOf is the start of t's clock hour in the detector's location.
func (d *Detector) hourOf(t time.Time) time.Time {
	l := t.In(d.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, d.loc)
}

// prune drops the hours that have left the look-back of hour.
func (d *Detector) prune(s *State, hour time.Time) {
	from := hour.Add(-d.c.lookBack())
	cut := 0
	for cut < len(s.Hours) && s.Hours[cut].Start.Before(from) {
		cut++
	}
	s.Hours = slices.Delete(s.Hours, 0, cut)
}

func beyond(z, limit float64, dir anomaly.Direction) bool {
	switch dir {
	case anomaly.DirectionUp:
		return z >= limit
	case anomaly.DirectionDown:
		return -z >= limit
	default:
		return math.Abs(z) >= limit
	}
}

func clampZ(z float64) float64 {
	switch {
	case math.IsNaN(z):
		return 0
	case z > anomaly.MaxZ:
		return anomaly.MaxZ
	case z < -anomaly.MaxZ:
		return -anomaly.MaxZ
	}
	return z
}
