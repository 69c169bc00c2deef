package detector

import (
	"math"
	"time"
)

// baseline returns the baseline of hour, from the completed hours before
// it, cached for the hour.
func (d *Detector) baseline(s *State, hour time.Time) Baseline {
	if s.cache.ok && s.cache.hour.Equal(hour) {
		return s.cache.b
	}
	b := d.compute(s, hour)
	s.cache = cached{hour: hour, b: b, ok: true}
	return b
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

// newGroups is a grouping by n keys (24 or 168): fixed arrays, so a
// baseline computation allocates nothing.
func newGroups(n int) groups { return groups{n: n} }

func (g *groups) add(key int, m Moments) {
	g.byKey[key].Merge(m)
	g.hours[key]++
	g.all.Merge(m)
	g.within += max(m.M2, 0)
}

// between is the variance of hour means about their group's mean, per
// point: how far an hour's mean usually is from what the model expects.
func (g *groups) between() float64 {
	if g.all.N <= 0 {
		return 0
	}
	var m2 float64
	for _, m := range g.byKey[:g.n] {
		m2 += max(m.M2, 0)
	}
	return max(m2-g.within, 0) / g.all.N
}

// residual is the pooled within-group variance.
func (g *groups) residual() float64 {
	if g.all.N <= 0 {
		return 0
	}
	var m2 float64
	for _, m := range g.byKey[:g.n] {
		m2 += max(m.M2, 0)
	}
	return m2 / g.all.N
}

// compute chooses the model for hour and returns its baseline.
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
func (d *Detector) compute(s *State, hour time.Time) Baseline {
	c := d.c
	age := hour.Sub(s.First)
	recentFrom := hour.Add(-c.Baseline)
	weeklyFrom := hour.Add(-time.Duration(c.Weeks) * Week)

	recent := newGroups(1)
	var points, beyond, hours float64
	var top peaks
	daily := newGroups(24)
	weekly, weeklyDaily := newGroups(7*24), newGroups(24)
	useWeekly := c.Weeks > 0 && age >= c.WeeklyAfter
	hod := d.hourOfDay(hour)
	how := d.hourOfWeek(hour)
	for _, h := range s.Hours {
		if !h.Start.Before(hour) {
			break
		}
		kd := d.hourOfDay(h.Start)
		if !h.Start.Before(recentFrom) {
			recent.add(0, h.Moments)
			points += h.Points
			beyond += h.Beyond
			hours++
			top.add(h.Peak, c.PeakRank)
			daily.add(kd, h.Moments)
		}
		if useWeekly && !h.Start.Before(weeklyFrom) {
			weekly.add(d.hourOfWeek(h.Start), h.Moments)
			weeklyDaily.add(kd, h.Moments)
		}
	}
	all := recent.all
	if all.N < minPoints {
		return Baseline{}
	}
	vRecent := all.Var()
	best := Baseline{Model: ModelRecent, Center: all.Mean, Lower: all.Mean, Upper: all.Mean, Spread: all.Std(), N: all.N, Between: recent.between()}
	if age >= c.DailyAfter && daily.hours[hod] >= 2 {
		if v := daily.residual(); v < c.SeasonalGain*vRecent {
			best = d.bucket(ModelDaily, &daily, hod, v)
		}
	}
	if useWeekly && weekly.hours[how] >= 2 {
		// Compared with the simpler models on the same weeks of data.
		simpler := weeklyDaily.all.Var()
		if best.Model == ModelDaily {
			simpler = weeklyDaily.residual()
		}
		if v := weekly.residual(); v < c.SeasonalGain*simpler {
			best = d.bucket(ModelWeekly, &weekly, how, v)
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

// bucket is the baseline of one seasonal bucket: its mean, the band of the
// means of the buckets within Tolerance hours, and a spread that pools its
// own variance with the model's residual variance, so a bucket of a few
// quiet hours does not get a spread of almost nothing.
func (d *Detector) bucket(m Model, g *groups, key int, pooled float64) Baseline {
	b := g.byKey[key]
	v := (1-d.c.Pool)*b.Var() + d.c.Pool*pooled
	out := Baseline{Model: m, Center: b.Mean, Lower: b.Mean, Upper: b.Mean, Spread: math.Sqrt(max(v, 0)), N: b.N, Between: g.between()}
	n := g.n
	for k := 1; k <= d.c.Tolerance; k++ {
		for _, nb := range []int{(key + k) % n, (key - k + n) % n} {
			if g.byKey[nb].N > 0 {
				out.Lower = min(out.Lower, g.byKey[nb].Mean)
				out.Upper = max(out.Upper, g.byKey[nb].Mean)
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
