package detector

import (
	"math"
	"time"
)

// baseline returns the baseline of hour, from the completed hours before
// it, cached for the hour.
//
// It is computed in two steps, prepare (every hour before the one just
// before hour) and finish (that last hour added), and both steps run
// whether the state holds its whole look-back (the backtest, a cold start)
// or is compact (the deployed function, which persists prepare's result
// and never reads the look-back at the moment the hour turns): one code
// path, so the two take the same decisions to the bit.
func (d *Detector) baseline(s *State, hour time.Time) Baseline {
	if s.cache.ok && s.cache.hour.Equal(hour) {
		return s.cache.b
	}
	var b Baseline
	last := lastHour(s.Hours, hour)
	switch {
	case !s.compact:
		p := d.prepare(s.Hours, s.First, hour)
		b = d.finish(&p, last)
	case s.prep != nil && s.prep.target.Equal(hour):
		b = d.finish(s.prep, last)
	default:
		// A compact state without the prepared baseline of this hour: its
		// caller skipped Covers. The decision is insufficient data and the
		// state is marked so that it is not persisted.
		s.stale = true
	}
	s.cache = cached{hour: hour, b: b, ok: true}
	return b
}

// lastHour is the summary of the hour just before hour, if hours has one
// (it is then the last of them).
func lastHour(hours []Hour, hour time.Time) *Hour {
	if n := len(hours); n > 0 && hours[n-1].Start.Equal(hour.Add(-time.Hour)) {
		return &hours[n-1]
	}
	return nil
}

// groups pools hours by a key (an hour of the day or of the week); the
// pooled residual variance of the model "each point is its group's mean" is
// Σ M2 / Σ N. Slices, not maps, so the sums run in the same order every
// time and the same state always gives the same bits.
type groups struct {
	n     int
	byKey [7 * 24]Moments
	hours [7 * 24]int
	all   Moments
	// within is Σ M2 of the hours themselves: what is left of the groups'
	// M2 is the spread of hour means about their group's mean.
	within float64
}

// newGroups is a grouping by n keys (1, 24 or 168): fixed arrays, so a
// baseline computation allocates nothing.
func newGroups(n int) groups { return groups{n: n} }

func (g *groups) add(key int, m Moments) {
	g.byKey[key].Merge(m)
	g.hours[key]++
	g.all.Merge(m)
	g.within += max(m.M2, 0)
}

// reduce keeps of g what finish reads of a grouping whose target key is kt
// and whose last hour, still to be added, has key kh: the totals, the
// target's neighbourhood, the last hour's own group, and the sum of the
// other groups' M2 (in key order, so the same hours give the same bits).
func (g *groups) reduce(kt, kh, tol int) part {
	p := part{n: g.n, kt: kt, kh: kh, all: g.all, within: g.within, last: g.byKey[kh], lastHours: g.hours[kh], hours: g.hours[kt]}
	for k, m := range g.byKey[:g.n] {
		if k != kh {
			p.others += max(m.M2, 0)
		}
	}
	for j := -tol; j <= tol; j++ {
		p.keys[j+tol] = g.byKey[mod(int64(kt+j), int64(g.n))]
	}
	return p
}

// part is one grouping reduced to what finish needs (see groups.reduce).
type part struct {
	// n is the number of keys; kt the target's key, kh the last hour's.
	n, kt, kh int
	all       Moments
	within    float64
	// others is Σ max(M2, 0) over every key but kh.
	others float64
	// last is kh's group and lastHours its hour count; hours is kt's count.
	last             Moments
	lastHours, hours int
	// keys are the groups of kt−Tolerance … kt+Tolerance.
	keys [2*maxTolerance + 1]Moments
}

// add pools the last hour into its group.
func (p *part) add(m Moments) {
	p.last.Merge(m)
	p.lastHours++
	p.all.Merge(m)
	p.within += max(m.M2, 0)
}

// key is the group of key k, which must be kh or within Tolerance of kt.
func (p *part) key(k, tol int) Moments {
	if k == p.kh {
		return p.last
	}
	j := int(mod(int64(k-p.kt), int64(p.n)))
	if j > p.n/2 {
		j -= p.n
	}
	return p.keys[j+tol]
}

// hoursAt is the hour count of the target's group.
func (p *part) hoursAt() int {
	if p.kt == p.kh {
		return p.lastHours
	}
	return p.hours
}

// sumM2 is Σ max(M2, 0) over every group: the other groups in key order,
// then the last hour's.
func (p *part) sumM2() float64 { return p.others + max(p.last.M2, 0) }

// between is the variance of hour means about their group's mean, per
// point: how far an hour's mean usually is from what the model expects.
func (p *part) between() float64 {
	if p.all.N <= 0 {
		return 0
	}
	return max(p.sumM2()-p.within, 0) / p.all.N
}

// residual is the pooled within-group variance.
func (p *part) residual() float64 {
	if p.all.N <= 0 {
		return 0
	}
	return p.sumM2() / p.all.N
}

// prepared is what the baseline of hour target needs of the hours before
// target−1h: the four groupings reduced (part), the counts of the recent
// window and its largest peaks. finish adds the hour target−1h (the hour in
// progress until target begins) and chooses the model. A compact State
// persists it, so the deployed function turns an hour without reading the
// look-back's summaries.
type prepared struct {
	target time.Time
	// daily and weekly: the series is old enough at target for the
	// time-of-day and the time-of-week models.
	daily, weekly                      bool
	recent, byDay, byWeek, weeklyByDay part
	points, beyond, hours              float64
	top                                peaks
}

// prepare reduces the hours before target−1h (hours is in time order).
func (d *Detector) prepare(hours []Hour, first, target time.Time) prepared {
	c := d.c
	age := target.Sub(first)
	p := prepared{target: target, daily: age >= c.DailyAfter, weekly: c.Weeks > 0 && age >= c.WeeklyAfter}
	prev := target.Add(-time.Hour)
	recentFrom := target.Add(-c.Baseline)
	weeklyFrom := target.Add(-time.Duration(c.Weeks) * Week)

	recent := newGroups(1)
	daily := newGroups(24)
	weekly, weeklyDaily := newGroups(7*24), newGroups(24)
	for _, h := range hours {
		if !h.Start.Before(prev) {
			break
		}
		kd := d.hourOfDay(h.Start)
		if !h.Start.Before(recentFrom) {
			recent.add(0, h.Moments)
			p.points += h.Points
			p.beyond += h.Beyond
			p.hours++
			p.top.add(h.Peak, c.PeakRank)
			daily.add(kd, h.Moments)
		}
		if p.weekly && !h.Start.Before(weeklyFrom) {
			weekly.add(d.hourOfWeek(h.Start), h.Moments)
			weeklyDaily.add(kd, h.Moments)
		}
	}
	hod, how := d.hourOfDay(target), d.hourOfWeek(target)
	lastD, lastW := d.hourOfDay(prev), d.hourOfWeek(prev)
	p.recent = recent.reduce(0, 0, 0)
	p.byDay = daily.reduce(hod, lastD, c.Tolerance)
	p.byWeek = weekly.reduce(how, lastW, c.Tolerance)
	p.weeklyByDay = weeklyDaily.reduce(hod, lastD, c.Tolerance)
	return p
}

// finish adds last (the summary of the hour before p.target, nil when that
// hour had no point) to p and chooses the model for p.target.
//
// Three models compete, each fitted on the hourly summaries: recent (every
// hour of the last Baseline alike), daily (each hour of the day its own
// mean and spread, over the last Baseline) and weekly (each hour of the
// week, over the last Weeks weeks). A seasonal model is taken only once the
// series is old enough for it (DailyAfter, WeeklyAfter), when the hour's
// bucket has at least two past hours, and when its residual variance is
// below SeasonalGain × that of the simpler model on the same hours: a
// pattern has to explain variance to be believed, as a noise-only series
// split 24 ways would otherwise look seasonal by chance.
func (d *Detector) finish(p *prepared, last *Hour) Baseline {
	c := d.c
	recent, daily, weekly, weeklyDaily := p.recent, p.byDay, p.byWeek, p.weeklyByDay
	points, beyond, hours, top := p.points, p.beyond, p.hours, p.top
	if last != nil {
		recent.add(last.Moments)
		points += last.Points
		beyond += last.Beyond
		hours++
		top.add(last.Peak, c.PeakRank)
		daily.add(last.Moments)
		if p.weekly {
			weekly.add(last.Moments)
			weeklyDaily.add(last.Moments)
		}
	}
	all := recent.all
	if all.N < minPoints {
		return Baseline{}
	}
	vRecent := all.Var()
	best := Baseline{Model: ModelRecent, Center: all.Mean, Lower: all.Mean, Upper: all.Mean, Spread: all.Std(), N: all.N, Between: recent.between()}
	if p.daily && daily.hoursAt() >= 2 {
		if v := daily.residual(); v < c.SeasonalGain*vRecent {
			best = d.bucket(ModelDaily, &daily, v)
		}
	}
	if p.weekly && weekly.hoursAt() >= 2 {
		// Compared with the simpler models on the same weeks of data.
		simpler := weeklyDaily.all.Var()
		if best.Model == ModelDaily {
			simpler = weeklyDaily.residual()
		}
		if v := weekly.residual(); v < c.SeasonalGain*simpler {
			best = d.bucket(ModelWeekly, &weekly, v)
		}
	}
	if c.PeakRank > 0 && top.n >= c.PeakRank {
		best.Peak = top.v[c.PeakRank-1]
	}
	if points > 0 {
		best.Beyond = beyond / points
		best.PerHour = points / hours
	}
	return best
}

// peaks keeps the largest hourly peaks seen, in descending order, up to
// maxPeakRank of them.
type peaks struct {
	v [maxPeakRank]float64
	n int
}

func (p *peaks) add(x float64, rank int) {
	rank = min(rank, maxPeakRank)
	if rank <= 0 {
		return
	}
	i := min(p.n, rank-1)
	if p.n >= rank && x <= p.v[i] {
		return
	}
	for i > 0 && p.v[i-1] < x {
		p.v[i] = p.v[i-1]
		i--
	}
	p.v[i] = x
	p.n = min(p.n+1, rank)
}

// bucket is the baseline of the target's seasonal bucket: its mean, the
// band of the means of the buckets within Tolerance hours, and a spread
// that pools its own variance with the model's residual variance, so a
// bucket of a few quiet hours does not get a spread of almost nothing.
func (d *Detector) bucket(m Model, g *part, pooled float64) Baseline {
	tol := d.c.Tolerance
	b := g.key(g.kt, tol)
	v := (1-d.c.Pool)*b.Var() + d.c.Pool*pooled
	out := Baseline{Model: m, Center: b.Mean, Lower: b.Mean, Upper: b.Mean, Spread: math.Sqrt(max(v, 0)), N: b.N, Between: g.between()}
	n := g.n
	for k := 1; k <= tol; k++ {
		for _, nb := range []int{(g.kt + k) % n, (g.kt - k + n) % n} {
			if nm := g.key(nb, tol); nm.N > 0 {
				out.Lower = min(out.Lower, nm.Mean)
				out.Upper = max(out.Upper, nm.Mean)
			}
		}
	}
	return out
}

func (d *Detector) hourOfDay(t time.Time) int {
	if d.loc == time.UTC {
		// The common case without the calendar: a tenth of the cost.
		return int(mod(floorDiv(t.Unix(), 3600), 24))
	}
	return t.In(d.loc).Hour()
}

func (d *Detector) hourOfWeek(t time.Time) int {
	if d.loc == time.UTC {
		// 1970-01-01 was a Thursday (weekday 4).
		return int(mod(floorDiv(t.Unix(), 86400)+4, 7))*24 + d.hourOfDay(t)
	}
	l := t.In(d.loc)
	return int(l.Weekday())*24 + l.Hour()
}

// mod is a modulo b in [0, b).
func mod(a, b int64) int64 { return ((a % b) + b) % b }

// floorDiv is a/b rounded down (b > 0), for times before 1970 too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
