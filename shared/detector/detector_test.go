package detector_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/detector"
)

var t0 = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

func TestMomentsMergeEqualsSequential(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var all, a, b detector.Moments
	for i := range 1000 {
		// A large offset with a small spread: bytes on a disk. Sums of
		// squares would cancel to nothing here.
		x := 4.2e11 + 1e3*r.NormFloat64()
		w := 0.5 + r.Float64()
		all.Add(x, w)
		if i%3 == 0 {
			a.Add(x, w)
		} else {
			b.Add(x, w)
		}
	}
	a.Merge(b)
	require.InDelta(t, all.N, a.N, 1e-9)
	require.InEpsilon(t, all.Mean, a.Mean, 1e-15)
	// float64 keeps about 16 digits: with an offset 4e8 times the spread,
	// about 8 are left for the variance.
	require.InEpsilon(t, all.Var(), a.Var(), 1e-6)
	require.InDelta(t, 1e3, a.Std(), 100)
}

func observeAll(t *testing.T, d *detector.Detector, pts []detector.Point) []detector.Decision {
	t.Helper()
	var s detector.State
	out := make([]detector.Decision, len(pts))
	for i, p := range pts {
		out[i] = d.Observe(&s, p)
	}
	return out
}

func noise(n int, step time.Duration, seed uint64, f func(i int, t time.Time, z float64) float64) []detector.Point {
	r := rand.New(rand.NewPCG(seed, seed))
	pts := make([]detector.Point, n)
	for i := range n {
		at := t0.Add(time.Duration(i) * step)
		pts[i] = detector.Point{Time: at, Value: f(i, at, r.NormFloat64())}
	}
	return pts
}

func TestNoDecisionBeforeMinHistory(t *testing.T) {
	t.Parallel()
	d, err := detector.New(detector.DefaultConfig())
	require.NoError(t, err)
	young := int(detector.DefaultMinHistory / (5 * time.Minute))
	pts := noise(2*288, 5*time.Minute, 1, func(i int, _ time.Time, z float64) float64 {
		if i == young/2 {
			return 1e6 // a spike before the minimum history
		}
		return 50 + z
	})
	decs := observeAll(t, d, pts)
	for i, dec := range decs[:young] {
		require.False(t, dec.OK(), "point %d", i)
		require.False(t, dec.Holds, "point %d", i)
	}
	require.True(t, decs[young+12].OK())
}

func TestWeekOfZerosThenOneEventIsNotAnAnomaly(t *testing.T) {
	t.Parallel()
	d, err := detector.New(detector.DefaultConfig())
	require.NoError(t, err)
	n := 7*288 + 1
	pts := noise(n, 5*time.Minute, 1, func(int, time.Time, float64) float64 { return 0 })
	pts[n-1].Value = 1
	decs := observeAll(t, d, pts)
	last := decs[n-1]
	require.True(t, last.OK())
	// The floor of a count is one event: z is at most 1 (before smoothing).
	require.LessOrEqual(t, math.Abs(last.Z), 1.0)
	require.False(t, last.Holds)

	pts[n-1].Value = 1000
	decs = observeAll(t, d, pts)
	require.True(t, decs[n-1].Holds, "a thousand errors after a week of none is an anomaly")
}

func TestConfigValidateNamesEveryField(t *testing.T) {
	t.Parallel()
	c := detector.DefaultConfig()
	c.Threshold = -1
	c.Direction = "sideways"
	c.Baseline = time.Minute
	c.Trust = math.NaN()
	c.Exclude = []detector.TimeRange{{From: t0, To: t0}}
	err := c.Validate()
	for _, want := range []string{"threshold:", "direction:", "baseline:", "trust:", "exclude[0]:"} {
		require.ErrorContains(t, err, want)
	}
	_, err = detector.New(c)
	require.Error(t, err)
}

func TestHourKeysMatchTheCalendar(t *testing.T) {
	t.Parallel()
	// The detector's arithmetic fast path for UTC must agree with the
	// calendar, before and after 1970 too; checked through the daily
	// model's buckets: a pattern by hour of day is learned and followed.
	for _, start := range []time.Time{t0, time.Date(1969, 12, 25, 0, 0, 0, 0, time.UTC)} {
		d, err := detector.New(detector.DefaultConfig())
		require.NoError(t, err)
		var s detector.State
		var last detector.Decision
		for i := range 10 * 288 {
			at := start.Add(time.Duration(i) * 5 * time.Minute)
			v := 10.0
			if at.Hour() == 3 {
				v = 1000
			}
			last = d.Observe(&s, detector.Point{Time: at, Value: v + float64(i%2)})
			if at.Hour() == 3 && i > 5*288 {
				require.Equal(t, detector.ModelDaily, last.Model, "%s", at)
				require.False(t, last.Holds, "%s", at)
			}
		}
	}
}

// sine is a daily cycle of 100 ± 50 with unit Gaussian noise.
func sine(days int, step time.Duration, seed uint64) []detector.Point {
	return noise(days*int(24*time.Hour/step), step, seed, func(_ int, at time.Time, z float64) float64 {
		return 100 + 50*math.Sin(2*math.Pi*float64(at.Hour()*60+at.Minute())/1440) + 5*z
	})
}

func addBurst(pts []detector.Point, from time.Time, d time.Duration, by float64) {
	for i := range pts {
		if !pts[i].Time.Before(from) && pts[i].Time.Before(from.Add(d)) {
			pts[i].Value += by
		}
	}
}

// A 30-minute burst must not poison the baseline: the same burst a day
// later pages again, and the spread at that hour barely moves. With
// learning weights off (Trust 0, every point counts fully, as a plain
// trailing z-score does) the spread at that hour grows several-fold, the
// defect of issue 13.
func TestABurstDoesNotPoisonTheBaseline(t *testing.T) {
	t.Parallel()
	day8 := t0.Add(8*24*time.Hour + 14*time.Hour)
	pts := sine(10, 5*time.Minute, 3)
	addBurst(pts, day8, 30*time.Minute, 150)
	addBurst(pts, day8.Add(24*time.Hour), 30*time.Minute, 150)

	spreadAt := func(c detector.Config, at time.Time) (float64, []bool) {
		d, err := detector.New(c)
		require.NoError(t, err)
		decs := observeAll(t, d, pts)
		var spread float64
		var holds []bool
		for i, p := range pts {
			if p.Time.Equal(at) {
				spread = decs[i].RawSpread
			}
			if !p.Time.Before(day8) && p.Time.Before(day8.Add(30*time.Minute)) ||
				!p.Time.Before(day8.Add(24*time.Hour)) && p.Time.Before(day8.Add(24*time.Hour+30*time.Minute)) {
				holds = append(holds, decs[i].Holds)
			}
		}
		return spread, holds
	}
	// The spread of the burst's hour of the day, before the burst (its own
	// baseline) and a day later.
	before, _ := spreadAt(detector.DefaultConfig(), day8)
	after, holds := spreadAt(detector.DefaultConfig(), day8.Add(24*time.Hour))
	require.Less(t, after, 1.5*before, "the burst inflated the spread from %g to %g", before, after)
	require.True(t, holds[1], "the first burst pages")
	require.True(t, holds[len(holds)/2+1], "the same burst a day later pages")

	plain := detector.DefaultConfig()
	plain.Trust = 0
	pBefore, _ := spreadAt(plain, day8)
	pAfter, _ := spreadAt(plain, day8.Add(24*time.Hour))
	require.Greater(t, pAfter, 2*pBefore, "without learning weights the burst inflates the spread (the old behaviour)")
}

// The shift check has a well-defined duration in data time: a shift of 3
// spreads on a steady series is flagged after about h/(δ−k) = 8/2 periods
// of 5 minutes, at 1-minute and at 5-minute resolution alike.
func TestShiftDurationIsTheSameAtEveryResolution(t *testing.T) {
	t.Parallel()
	c := detector.DefaultConfig()
	c.Threshold = 100 // the burst check out of the way
	d, err := detector.New(c)
	require.NoError(t, err)
	shiftAt := t0.Add(3 * 24 * time.Hour)
	for _, step := range []time.Duration{time.Minute, 5 * time.Minute} {
		pts := noise(4*int(24*time.Hour/step), step, 7, func(_ int, at time.Time, z float64) float64 {
			// Averages of more samples are less noisy: the 5-minute series is
			// the 5-minute mean of a 1-minute one with the same noise. The
			// level is low enough that the relative floor stays below σ.
			sd := 1 / math.Sqrt(float64(step/time.Minute))
			v := 5 + sd*z
			if !at.Before(shiftAt) {
				v += 3 * sd
			}
			return v
		})
		decs := observeAll(t, d, pts)
		var flagged time.Duration = -1
		for i, p := range pts {
			if !p.Time.Before(shiftAt) && decs[i].Shifted {
				flagged = p.Time.Sub(shiftAt)
				break
			}
			if p.Time.Before(shiftAt) && p.Time.After(t0.Add(2*24*time.Hour)) {
				require.False(t, decs[i].Holds, "%s before the shift at %s", step, p.Time)
			}
		}
		require.GreaterOrEqual(t, flagged, 10*time.Minute, step.String())
		require.LessOrEqual(t, flagged, 30*time.Minute, step.String())
	}
}

func TestExcludedRangesTeachNothing(t *testing.T) {
	t.Parallel()
	day := t0.Add(5*24*time.Hour + 14*time.Hour)
	clean := sine(7, 5*time.Minute, 5)
	loadTest := sine(7, 5*time.Minute, 5)
	addBurst(loadTest, day, 2*time.Hour, 500)
	run := func(pts []detector.Point, exclude []detector.TimeRange) detector.State {
		c := detector.DefaultConfig()
		c.Exclude = exclude
		d, err := detector.New(c)
		require.NoError(t, err)
		var s detector.State
		for _, p := range pts {
			d.Observe(&s, p)
		}
		return s
	}
	hours := func(s detector.State) []detector.Hour {
		var out []detector.Hour
		for _, h := range s.Hours {
			if h.Start.Before(day) || !h.Start.Before(day.Add(2*time.Hour)) {
				out = append(out, h)
			}
		}
		return out
	}
	excl := []detector.TimeRange{{From: day, To: day.Add(2 * time.Hour)}}
	withTest := run(loadTest, excl)
	require.Equal(t, hours(run(clean, excl)), hours(withTest), "the load test left a trace in the summaries")
	require.NotEqual(t, hours(run(clean, nil)), hours(run(loadTest, nil)), "without the exclusion it would have")
	for _, h := range withTest.Hours {
		require.False(t, !h.Start.Before(day) && h.Start.Before(day.Add(2*time.Hour)), "an excluded hour has a summary")
	}
}

// The exported fields of State are the whole state: a run stopped at any
// point, its state copied field by field (as the deployed function writes
// and reads it back) and resumed, takes bit-identical decisions.
func TestStateResumesExactly(t *testing.T) {
	t.Parallel()
	d, err := detector.New(detector.DefaultConfig())
	require.NoError(t, err)
	pts := sine(9, 5*time.Minute, 11)
	addBurst(pts, t0.Add(8*24*time.Hour+3*time.Hour), 20*time.Minute, 200)
	want := observeAll(t, d, pts)
	for _, cut := range []int{1, 287, 288 + 7, 5*288 + 131, len(pts) - 3} {
		var s detector.State
		for _, p := range pts[:cut] {
			d.Observe(&s, p)
		}
		resumed := detector.State{
			First: s.First, Last: s.Last, Open: s.Open, Up: s.Up, Down: s.Down, Active: s.Active, Integer: s.Integer,
			Hours:  append([]detector.Hour(nil), s.Hours...),
			Recent: append([]detector.Residual(nil), s.Recent...),
		}
		for i, p := range pts[cut:] {
			got := d.Observe(&resumed, p)
			require.Equal(t, want[cut+i], got, "cut %d, point %d", cut, cut+i)
		}
	}
}
