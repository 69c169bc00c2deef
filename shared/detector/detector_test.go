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
	pts := noise(2*288, 5*time.Minute, 1, func(i int, _ time.Time, z float64) float64 {
		if i == 100 {
			return 1e6 // a spike during the first day
		}
		return 50 + z
	})
	decs := observeAll(t, d, pts)
	for i, dec := range decs[:288] {
		require.False(t, dec.OK(), "point %d", i)
		require.False(t, dec.Holds, "point %d", i)
	}
	require.True(t, decs[300].OK())
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
