package detector

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// # Compact states
//
// A full State holds the summaries of its whole look-back (four weeks: 672
// hours), which the baseline of each new hour is computed from. The
// deployed function cannot read those at every tick, nor all series' at
// the tick an hour turns, so it persists a compact state instead: the
// state with its summaries replaced by the prepared baseline of the next
// hour (what that baseline needs of every hour but the one in progress,
// which the state still holds). A compact state takes points until the
// next hour begins, and through that hour's first points (Covers); then it
// needs preparing again, from the summaries (Restore, then Compact). Both
// steps run the code a full state runs (prepare and finish), so a compact
// state takes the decisions of a full one, to the bit.

// Clone returns a deep copy of s.
func (s *State) Clone() State {
	c := *s
	c.Hours = slices.Clone(s.Hours)
	c.Recent = slices.Clone(s.Recent)
	if s.prep != nil {
		p := *s.prep
		c.prep = &p
	}
	return c
}

// IsCompact reports whether s holds its look-back's summaries (false) or
// only the prepared baseline of its next hour (true; see Compact). In a
// compact state, Hours are the hours closed since it was compacted.
func (s *State) IsCompact() bool { return s.compact }

// Prepared reports whether s is compact with the prepared baseline of the
// hour after the one in progress: it can take points through that hour.
func (d *Detector) Prepared(s *State) bool {
	return s.compact && !s.stale && s.prep != nil && s.Open.Points > 0 && s.prep.target.Equal(d.next(s))
}

// Stale reports whether a compact s was fed a point it had no prepared
// baseline for (its caller did not check Covers): its decisions since are
// wrong and it must not be kept.
func (s *State) Stale() bool { return s.stale }

// Compact turns a full s into a compact one: the look-back's summaries
// are dropped and replaced by the prepared baseline of the hour after the
// one in progress. A state without any point is left as it is.
func (d *Detector) Compact(s *State) error {
	if s.compact {
		return errors.New("detector: the state is compact already (Restore it first)")
	}
	if s.Open.Points == 0 {
		return nil
	}
	// The baseline of the hour in progress is persisted with the state:
	// once the summaries are gone it cannot be computed again.
	d.baseline(s, s.Open.Start)
	p := d.prepare(s.Hours, s.First, d.next(s))
	s.prep = &p
	s.Hours = nil
	s.compact = true
	return nil
}

// HourOf is the start of t's clock hour in the detector's location: the
// hour a point at t is summarised in.
func (d *Detector) HourOf(t time.Time) time.Time { return d.hourOf(t) }

// next is the hour after s's hour in progress.
func (d *Detector) next(s *State) time.Time { return d.hourOf(s.Open.Start.Add(time.Hour)) }

// Covers reports whether s can take the points after its latest up to t
// and decide as a full state would: a full state always; a compact one
// while t is in its hour in progress or in the hour it is prepared for.
func (d *Detector) Covers(s *State, t time.Time) bool {
	if !s.compact {
		return true
	}
	if s.stale {
		return false
	}
	h := d.hourOf(t)
	if !h.After(s.Open.Start) {
		return true
	}
	return s.prep != nil && s.prep.target.Equal(h)
}

// Restore makes a compact s full again from the summaries of its
// look-back: hours holds the summaries of the hours before the one in
// progress, in any order (of two summaries of one hour the later in hours
// wins). Hours outside the look-back are dropped.
func (d *Detector) Restore(s *State, hours []Hour) {
	from := s.Open.Start.Add(-d.c.lookBack())
	byStart := make(map[int64]Hour, len(hours)+len(s.Hours))
	for _, h := range slices.Concat(hours, s.Hours) {
		if h.Points > 0 && !h.Start.Before(from) && h.Start.Before(s.Open.Start) {
			byStart[h.Start.UnixNano()] = h
		}
	}
	s.Hours = s.Hours[:0]
	for _, k := range slices.Sorted(maps.Keys(byStart)) {
		s.Hours = append(s.Hours, byStart[k])
	}
	s.compact, s.stale, s.prep = false, false, nil
}

// Fingerprint identifies the configuration and the state layout: a state
// persisted under another fingerprint was built by other settings (or
// another version of this code) and must not be resumed.
func (c Config) Fingerprint() string {
	var b strings.Builder
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	loc := "UTC"
	if c.Location != nil {
		loc = c.Location.String()
	}
	fmt.Fprintf(&b, "v%d;%s;%s;%d;%s;%s;%s;%s;%d;%s;%s;%s;%s;%s;%d;%s;%s;%s;%s;%s;%s;%s;%s;%s",
		encodingVersion, c.Direction, f(c.Threshold), c.PeakRank, f(c.PeakFactor), f(c.ResolveRatio), c.Smoothing, c.Baseline, c.Weeks,
		c.MinHistory, c.DailyAfter, c.WeeklyAfter, f(c.SeasonalGain), f(c.Pool), c.Tolerance, f(c.Trust), f(c.Rare),
		f(c.ShiftSlack), f(c.ShiftLimit), f(c.ShiftClip), c.ShiftPeriod, f(c.MinStdDev), f(c.MinRelativeStdDev), loc)
	for _, r := range c.Exclude {
		fmt.Fprintf(&b, ";%d-%d", r.From.UnixNano(), r.To.UnixNano())
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// encodingVersion is the layout of AppendState, AppendHour and
// AppendDecision, and part of Config.Fingerprint.
const encodingVersion = 1

// HourWidth is the number of values AppendHour appends.
const HourWidth = 7

// AppendHour appends h as HourWidth numbers: its start (Unix
// milliseconds), points, points beyond Trust, peak and moments.
func AppendHour(dst []float64, h Hour) []float64 {
	return append(dst, ms(h.Start), h.Points, h.Beyond, h.Peak, h.N, h.Mean, h.M2)
}

// DecodeHours reads what AppendHour appended, any number of hours.
func DecodeHours(v []float64) ([]Hour, error) {
	if len(v)%HourWidth != 0 {
		return nil, fmt.Errorf("detector: hour summaries: %d numbers is not a multiple of %d", len(v), HourWidth)
	}
	out := make([]Hour, 0, len(v)/HourWidth)
	for i := 0; i < len(v); i += HourWidth {
		r := v[i : i+HourWidth]
		if !allFinite(r) || r[1] < 0 || r[2] < 0 || r[4] < 0 {
			return nil, fmt.Errorf("detector: hour summary %d: invalid numbers %v", i/HourWidth, r)
		}
		out = append(out, Hour{Start: fromMS(r[0]), Points: r[1], Beyond: r[2], Peak: r[3], Moments: Moments{N: r[4], Mean: r[5], M2: r[6]}})
	}
	return out, nil
}

// Flags of an encoded state.
const (
	flagInteger = 1 << iota
	flagActive
	flagCache
	flagPrep
	flagPrepDaily
	flagPrepWeekly
	flagLimit
)

// stateHead is the number of values of an encoded state before its
// residuals.
const stateHead = 25

// AppendState appends the compact state s as numbers (finite, exact in
// float64): what the deployed function persists. It refuses a full or a
// stale state.
func (d *Detector) AppendState(dst []float64, s *State) ([]float64, error) {
	if !s.compact {
		return dst, errors.New("detector: only a compact state is persisted (Compact it first)")
	}
	if s.stale {
		return dst, errors.New("detector: the state is stale")
	}
	flags := 0
	set := func(b bool, f int) {
		if b {
			flags |= f
		}
	}
	set(s.Integer, flagInteger)
	set(s.Active, flagActive)
	set(s.cache.ok, flagCache)
	set(s.prep != nil, flagPrep)
	if s.prep != nil {
		set(s.prep.daily, flagPrepDaily)
		set(s.prep.weekly, flagPrepWeekly)
	}
	b := s.cache.b
	dst = append(dst, encodingVersion, float64(flags), ms(s.First), ms(s.Last), s.Up, s.Down)
	dst = AppendHour(dst, s.Open)
	dst = append(dst, ms(s.cache.hour), modelCode(b.Model), b.Center, b.Lower, b.Upper, b.Spread, b.N, b.Beyond, b.Between, b.PerHour, b.Peak)
	dst = append(dst, float64(len(s.Recent)))
	for _, r := range s.Recent {
		dst = append(dst, ms(r.Time), r.Z)
	}
	if p := s.prep; p != nil {
		dst = append(dst, ms(p.target), p.points, p.beyond, p.hours, float64(p.top.n))
		dst = append(dst, p.top.v[:p.top.n]...)
		for _, g := range []*part{&p.recent, &p.byDay, &p.byWeek, &p.weeklyByDay} {
			dst = append(dst, g.all.N, g.all.Mean, g.all.M2, g.within, g.others, g.last.N, g.last.Mean, g.last.M2, float64(g.lastHours), float64(g.hours))
			for _, m := range g.keys[:2*d.c.Tolerance+1] {
				dst = append(dst, m.N, m.Mean, m.M2)
			}
		}
	}
	if !allFinite(dst) {
		return dst, errors.New("detector: the state holds a value that is not finite")
	}
	return dst, nil
}

// DecodeState reads what AppendState appended, under the same
// configuration.
func (d *Detector) DecodeState(v []float64) (State, error) {
	bad := func(format string, a ...any) (State, error) {
		return State{}, fmt.Errorf("detector: encoded state: "+format, a...)
	}
	if len(v) < stateHead || !allFinite(v) {
		return bad("%d numbers, or not all finite", len(v))
	}
	if v[0] != encodingVersion {
		return bad("layout %v, this code reads %d", v[0], encodingVersion)
	}
	flags := int(v[1])
	if float64(flags) != v[1] || flags < 0 || flags >= flagLimit {
		return bad("flags %v", v[1])
	}
	s := State{First: fromMS(v[2]), Last: fromMS(v[3]), Up: v[4], Down: v[5], Integer: flags&flagInteger != 0, Active: flags&flagActive != 0, compact: true}
	hs, err := DecodeHours(v[6 : 6+HourWidth])
	if err != nil {
		return bad("hour in progress: %v", err)
	}
	s.Open = hs[0]
	c := v[13:24]
	model, ok := modelOf(c[1])
	if !ok {
		return bad("model %v", c[1])
	}
	s.cache = cached{hour: fromMS(c[0]), ok: flags&flagCache != 0,
		b: Baseline{Model: model, Center: c[2], Lower: c[3], Upper: c[4], Spread: c[5], N: c[6], Beyond: c[7], Between: c[8], PerHour: c[9], Peak: c[10]}}
	n := int(v[24])
	rest := v[stateHead:]
	if float64(n) != v[24] || n < 0 || 2*n > len(rest) {
		return bad("%v residuals in %d numbers", v[24], len(rest))
	}
	s.Recent = make([]Residual, n)
	for i := range n {
		s.Recent[i] = Residual{Time: fromMS(rest[2*i]), Z: rest[2*i+1]}
	}
	rest = rest[2*n:]
	if flags&flagPrep == 0 {
		if len(rest) != 0 {
			return bad("%d numbers left over", len(rest))
		}
		return s, nil
	}
	if len(rest) < 5 {
		return bad("prepared baseline cut short")
	}
	p := &prepared{target: fromMS(rest[0]), points: rest[1], beyond: rest[2], hours: rest[3], daily: flags&flagPrepDaily != 0, weekly: flags&flagPrepWeekly != 0}
	p.top.n = int(rest[4])
	if float64(p.top.n) != rest[4] || p.top.n < 0 || p.top.n > maxPeakRank {
		return bad("%v peaks", rest[4])
	}
	rest = rest[5:]
	width := 10 + 3*(2*d.c.Tolerance+1)
	if len(rest) != p.top.n+4*width {
		return bad("prepared baseline: %d numbers, want %d", len(rest), p.top.n+4*width)
	}
	copy(p.top.v[:], rest[:p.top.n])
	rest = rest[p.top.n:]
	prev := p.target.Add(-time.Hour)
	keys := []struct{ n, kt, kh int }{
		{1, 0, 0},
		{24, d.hourOfDay(p.target), d.hourOfDay(prev)},
		{7 * 24, d.hourOfWeek(p.target), d.hourOfWeek(prev)},
		{24, d.hourOfDay(p.target), d.hourOfDay(prev)},
	}
	for i, g := range []*part{&p.recent, &p.byDay, &p.byWeek, &p.weeklyByDay} {
		r := rest[i*width : (i+1)*width]
		*g = part{n: keys[i].n, kt: keys[i].kt, kh: keys[i].kh, all: Moments{N: r[0], Mean: r[1], M2: r[2]}, within: r[3], others: r[4],
			last: Moments{N: r[5], Mean: r[6], M2: r[7]}, lastHours: int(r[8]), hours: int(r[9])}
		for j := range 2*d.c.Tolerance + 1 {
			g.keys[j] = Moments{N: r[10+3*j], Mean: r[11+3*j], M2: r[12+3*j]}
		}
	}
	s.prep = p
	return s, nil
}

// DecisionWidth is the number of values AppendDecision appends.
const DecisionWidth = 11

// AppendDecision appends dec as DecisionWidth finite numbers.
func AppendDecision(dst []float64, dec Decision) []float64 {
	flags := 0
	for i, b := range []bool{dec.Missing, dec.Excluded, dec.Burst, dec.Shifted, dec.Holds} {
		if b {
			flags |= 1 << i
		}
	}
	r := dec.Result
	return append(dst, float64(flags), float64(r.Status), finiteOr0(r.Value), r.Center, r.Spread, r.RawSpread, float64(r.N), r.Z, modelCode(dec.Model), dec.Shift, 0)
}

// DecodeDecision reads what AppendDecision appended.
func DecodeDecision(v []float64) (Decision, error) {
	if len(v) != DecisionWidth || !allFinite(v) {
		return Decision{}, fmt.Errorf("detector: encoded decision: %d numbers, or not all finite", len(v))
	}
	model, ok := modelOf(v[8])
	flags := int(v[0])
	if !ok || float64(flags) != v[0] || flags < 0 || flags >= 1<<5 || (v[1] != float64(anomaly.StatusOK) && v[1] != float64(anomaly.StatusInsufficientData)) {
		return Decision{}, fmt.Errorf("detector: encoded decision: invalid flags, status or model %v", v[:9])
	}
	bit := func(i int) bool { return flags&(1<<i) != 0 }
	return Decision{
		Result:  anomaly.Result{Status: anomaly.Status(v[1]), Value: v[2], Center: v[3], Spread: v[4], RawSpread: v[5], N: int(v[6]), Z: v[7]},
		Missing: bit(0), Excluded: bit(1), Burst: bit(2), Shifted: bit(3), Holds: bit(4), Model: model, Shift: v[9],
	}, nil
}

func modelCode(m Model) float64 {
	switch m {
	case ModelRecent:
		return 1
	case ModelDaily:
		return 2
	case ModelWeekly:
		return 3
	}
	return 0
}

func modelOf(v float64) (Model, bool) {
	switch v {
	case 0:
		return ModelNone, true
	case 1:
		return ModelRecent, true
	case 2:
		return ModelDaily, true
	case 3:
		return ModelWeekly, true
	}
	return ModelNone, false
}

// ms is t in Unix milliseconds (0 for the zero time), exact in a float64.
func ms(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli())
}

func fromMS(v float64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(v)).UTC()
}

func finiteOr0(v float64) float64 {
	if finite(v) {
		return v
	}
	return 0
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
