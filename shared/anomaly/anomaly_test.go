package anomaly_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

var (
	nan  = math.NaN()
	inf  = math.Inf(1)
	ninf = math.Inf(-1)
	huge = math.MaxFloat64
)

func TestWindowBaseline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		points       []float64
		center, sd   float64
		n            int
		wantNonFinit bool
	}{
		{name: "empty", points: nil},
		{name: "one point", points: []float64{5}, center: 5, n: 1},
		{name: "constant", points: []float64{3, 3, 3, 3}, center: 3, n: 4},
		{name: "zeros", points: []float64{0, 0, 0}, n: 3},
		{name: "population sd", points: []float64{2, 4, 4, 4, 5, 5, 7, 9}, center: 5, sd: 2, n: 8},
		{name: "NaN and Inf ignored", points: []float64{nan, 2, inf, 4, ninf, 4, 4, 5, 5, 7, 9}, center: 5, sd: 2, n: 8},
		{name: "only non-finite", points: []float64{nan, inf, ninf}},
		{name: "huge values do not overflow", points: []float64{huge, -huge}, center: 0, sd: huge, n: 2},
		{name: "huge equal values", points: []float64{huge, huge, huge}, center: huge, n: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := anomaly.WindowBaseline(tt.points)
			require.Equal(t, tt.n, b.N)
			require.InDelta(t, tt.center, b.Center, math.Abs(tt.center)*1e-12+1e-12)
			require.InDelta(t, tt.sd, b.Spread, math.Abs(tt.sd)*1e-12+1e-12)
			require.False(t, math.IsNaN(b.Center) || math.IsInf(b.Center, 0))
			require.False(t, math.IsNaN(b.Spread) || math.IsInf(b.Spread, 0))
		})
	}
}

func TestBaselineFromMomentsMatchesWindow(t *testing.T) {
	t.Parallel()
	pts := []float64{1, 2, 3, 10, 11, 12}
	w := anomaly.WindowBaseline(pts)
	m := anomaly.BaselineFromMoments(w.Center, w.Spread, w.N)
	require.Equal(t, w, m)

	tests := []struct {
		name       string
		mean, sd   float64
		n          int
		wantPoints int
	}{
		{name: "valid", mean: 1, sd: 2, n: 3, wantPoints: 3},
		{name: "NaN mean", mean: nan, sd: 1, n: 3},
		{name: "Inf sd", mean: 1, sd: inf, n: 3},
		{name: "negative sd", mean: 1, sd: -1, n: 3},
		{name: "negative n", mean: 1, sd: 1, n: -3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.wantPoints, anomaly.BaselineFromMoments(tt.mean, tt.sd, tt.n).N)
		})
	}
}

func TestRobustBaseline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		points      []float64
		center, mad float64
		n           int
	}{
		{name: "empty"},
		{name: "one point", points: []float64{7}, center: 7, n: 1},
		{name: "two points", points: []float64{1, 3}, center: 2, mad: 1, n: 2},
		{name: "odd", points: []float64{1, 1, 2, 2, 4, 6, 9}, center: 2, mad: 1, n: 7},
		{name: "even", points: []float64{1, 2, 3, 4, 100, 200}, center: 3.5, mad: 2, n: 6},
		{name: "outlier does not move it", points: []float64{10, 10, 10, 11, 9, 1e9}, center: 10, mad: 0.5, n: 6},
		{name: "constant", points: []float64{4, 4, 4}, center: 4, n: 3},
		{name: "NaN and Inf ignored", points: []float64{nan, 1, inf, 1, 2, 2, ninf, 4, 6, 9}, center: 2, mad: 1, n: 7},
		{name: "huge", points: []float64{-huge, 0, huge}, center: 0, mad: huge, n: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := anomaly.RobustBaseline(tt.points)
			require.Equal(t, tt.n, b.N)
			require.InDelta(t, tt.center, b.Center, 1e-12)
			want := 1.4826 * tt.mad
			if math.IsInf(want, 0) {
				want = huge
			}
			require.InEpsilon(t, want+1e-300, b.Spread+1e-300, 1e-3)
			require.False(t, math.IsInf(b.Spread, 0) || math.IsNaN(b.Spread))
		})
	}
}

// TestRobustFromSortedMatchesBruteForce checks the O(log n) MAD selection
// against sorting the deviations, over many random windows.
func TestRobustFromSortedMatchesBruteForce(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		n := 1 + r.IntN(40)
		pts := make([]float64, n)
		for j := range pts {
			pts[j] = float64(r.IntN(10)) // many ties
			if i%2 == 0 {
				pts[j] = r.NormFloat64() * 100
			}
		}
		slices.Sort(pts)
		med := median(pts)
		dev := make([]float64, n)
		for j, v := range pts {
			dev[j] = math.Abs(v - med)
		}
		slices.Sort(dev)
		got := anomaly.RobustFromSorted(pts)
		require.InDelta(t, med, got.Center, 1e-9, "points %v", pts)
		require.InDelta(t, 1.4826*median(dev), got.Spread, 1e-9, "points %v", pts)
	}
}

func median(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func TestSeasonalBaseline(t *testing.T) {
	t.Parallel()
	// Raw points of three weeks pool exactly like one window over all of them.
	weeks := [][]float64{{10, 12, 11}, {20, 22}, {15, nan, 16, 14}}
	var all []float64
	for _, w := range weeks {
		all = append(all, w...)
	}
	want := anomaly.WindowBaseline(all)
	got := anomaly.SeasonalFromPoints(weeks)
	require.Equal(t, 3, got.Seasons)
	require.Equal(t, want.N, got.N)
	require.InDelta(t, want.Center, got.Center, 1e-12)
	require.InDelta(t, want.Spread, got.Spread, 1e-12)

	tests := []struct {
		name    string
		seasons []anomaly.Baseline
		center  float64
		spread  float64
		used    int
	}{
		{name: "none"},
		{name: "empty seasons skipped", seasons: []anomaly.Baseline{{}, {Center: 5, Spread: 1, N: 4}}, center: 5, spread: 1, used: 1},
		{name: "level shift widens", seasons: []anomaly.Baseline{{Center: 10, N: 2}, {Center: 20, N: 2}}, center: 15, spread: 5, used: 2},
		{name: "NaN season skipped", seasons: []anomaly.Baseline{{Center: nan, Spread: 1, N: 3}, {Center: 2, Spread: 1, N: 3}}, center: 2, spread: 1, used: 1},
		{name: "huge", seasons: []anomaly.Baseline{{Center: huge, N: 1}, {Center: -huge, N: 1}}, center: 0, spread: huge, used: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := anomaly.SeasonalBaseline(tt.seasons)
			require.Equal(t, tt.used, b.Seasons)
			require.InDelta(t, tt.center, b.Center, 1e-9)
			require.InEpsilon(t, tt.spread+1e-300, b.Spread+1e-300, 1e-9)
		})
	}
}

func TestScore(t *testing.T) {
	t.Parallel()
	p := anomaly.DefaultParamsFor(anomaly.MethodWindow)
	p.Method = anomaly.MethodWindow
	p.MinPoints = 3
	p.MinStdDev = 0.5
	p.MinRelativeStdDev = 0.1
	seasonal := p
	seasonal.Method = anomaly.MethodSeasonal
	seasonal.MinSeasons = 2

	tests := []struct {
		name   string
		p      anomaly.Params
		cur    float64
		b      anomaly.Baseline
		status anomaly.Status
		z      float64
		spread float64
	}{
		{name: "plain", p: p, cur: 14, b: anomaly.Baseline{Center: 10, Spread: 2, N: 10}, z: 2, spread: 2},
		{name: "negative z", p: p, cur: 6, b: anomaly.Baseline{Center: 10, Spread: 2, N: 10}, z: -2, spread: 2},
		{name: "absolute floor on a flat series", p: p, cur: 1, b: anomaly.Baseline{Center: 0, Spread: 0, N: 10}, z: 2, spread: 0.5},
		{name: "relative floor", p: p, cur: 120, b: anomaly.Baseline{Center: 100, Spread: 0.01, N: 10}, z: 2, spread: 10},
		{name: "too few points", p: p, cur: 100, b: anomaly.Baseline{Center: 0, Spread: 1, N: 2}, status: anomaly.StatusInsufficientData},
		{name: "empty baseline", p: p, cur: 100, b: anomaly.Baseline{}, status: anomaly.StatusInsufficientData},
		{name: "NaN current", p: p, cur: nan, b: anomaly.Baseline{Center: 0, Spread: 1, N: 10}, status: anomaly.StatusInsufficientData},
		{name: "Inf current", p: p, cur: inf, b: anomaly.Baseline{Center: 0, Spread: 1, N: 10}, status: anomaly.StatusInsufficientData},
		{name: "NaN baseline", p: p, cur: 1, b: anomaly.Baseline{Center: nan, Spread: 1, N: 10}, status: anomaly.StatusInsufficientData},
		{name: "huge values with relative floor", p: p, cur: huge, b: anomaly.Baseline{Center: -huge, Spread: 0, N: 10}, z: 20, spread: 0.1 * huge},
		{name: "huge deviation with tiny floor", p: func() anomaly.Params { q := p; q.MinRelativeStdDev = 0; q.MinStdDev = 1e-300; return q }(), cur: huge, b: anomaly.Baseline{Center: -huge, N: 10}, z: anomaly.MaxZ, spread: 1e-300},
		{name: "seasonal with one season", p: seasonal, cur: 3, b: anomaly.Baseline{Center: 0, Spread: 1, N: 10, Seasons: 1}, status: anomaly.StatusInsufficientData},
		{name: "seasonal with two seasons", p: seasonal, cur: 3, b: anomaly.Baseline{Center: 0, Spread: 1, N: 10, Seasons: 2}, z: 3, spread: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.p.Score(tt.cur, tt.b)
			require.Equal(t, tt.status, r.Status, "status %s", r.Status)
			require.InDelta(t, tt.z, r.Z, 1e-9)
			if r.OK() {
				require.InEpsilon(t, tt.spread, r.Spread, 1e-12)
			}
		})
	}
}

func TestAnomalous(t *testing.T) {
	t.Parallel()
	mk := func(d anomaly.Direction) anomaly.Params {
		p := anomaly.DefaultParamsFor(anomaly.MethodWindow)
		p.Direction = d
		p.Threshold = 4
		p.ResolveThreshold = 3
		return p
	}
	tests := []struct {
		name      string
		p         anomaly.Params
		z         float64
		wasActive bool
		want      bool
	}{
		{name: "both above", p: mk(anomaly.DirectionBoth), z: 4, want: true},
		{name: "both below", p: mk(anomaly.DirectionBoth), z: -4.5, want: true},
		{name: "both under threshold", p: mk(anomaly.DirectionBoth), z: 3.9},
		{name: "hysteresis keeps active", p: mk(anomaly.DirectionBoth), z: 3.5, wasActive: true, want: true},
		{name: "hysteresis releases", p: mk(anomaly.DirectionBoth), z: 2.9, wasActive: true},
		{name: "up ignores dips", p: mk(anomaly.DirectionUp), z: -10},
		{name: "up fires", p: mk(anomaly.DirectionUp), z: 10, want: true},
		{name: "down fires on dips", p: mk(anomaly.DirectionDown), z: -10, want: true},
		{name: "down ignores spikes", p: mk(anomaly.DirectionDown), z: 10},
		{name: "down hysteresis", p: mk(anomaly.DirectionDown), z: -3.2, wasActive: true, want: true},
		{name: "NaN never", p: mk(anomaly.DirectionBoth), z: nan, wasActive: true},
		{name: "default resolve ratio", p: func() anomaly.Params { q := mk(anomaly.DirectionBoth); q.ResolveThreshold = 0; return q }(), z: 3.0, wasActive: true, want: true},
		{name: "default resolve ratio releases", p: func() anomaly.Params { q := mk(anomaly.DirectionBoth); q.ResolveThreshold = 0; return q }(), z: 2.9, wasActive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.p.Anomalous(tt.z, tt.wasActive))
		})
	}
}

func TestCurrent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		window []float64
		how    anomaly.Smoothing
		want   float64
		ok     bool
	}{
		{name: "empty", window: nil},
		{name: "only NaN", window: []float64{nan, inf}},
		{name: "one point", window: []float64{3}, want: 3, ok: true},
		{name: "one finite point", window: []float64{nan, 2, ninf}, want: 2, ok: true},
		{name: "mean", window: []float64{1, 2, 6}, want: 3, ok: true},
		{name: "mean skips NaN and Inf", window: []float64{1, nan, 5, inf}, want: 3, ok: true},
		{name: "median", window: []float64{100, 1, 50, 2, 3}, how: anomaly.SmoothingMedian, want: 3, ok: true},
		{name: "median of an even count", window: []float64{1, 2, 4, 100}, how: anomaly.SmoothingMedian, want: 3, ok: true},
		{name: "huge mean", window: []float64{huge, huge}, want: huge, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := anomaly.Current(tt.window, tt.how)
			require.Equal(t, tt.ok, ok)
			require.InEpsilon(t, tt.want+1, got+1, 1e-12)
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, anomaly.DefaultParamsFor(anomaly.MethodWindow).Validate())
	tests := []struct {
		name   string
		mutate func(*anomaly.Params)
		want   []string
	}{
		{name: "method", mutate: func(p *anomaly.Params) { p.Method = "zscore" }, want: []string{`method: must be auto, window, robust or seasonal (got "zscore")`}},
		{name: "direction", mutate: func(p *anomaly.Params) { p.Direction = "sideways" }, want: []string{"direction:"}},
		{name: "threshold", mutate: func(p *anomaly.Params) { p.Threshold = 0 }, want: []string{"threshold: must be a positive number"}},
		{name: "threshold NaN", mutate: func(p *anomaly.Params) { p.Threshold = nan }, want: []string{"threshold:"}},
		{name: "resolve above fire", mutate: func(p *anomaly.Params) { p.ResolveThreshold = p.Threshold + 1 }, want: []string{"resolve_threshold: must not exceed threshold"}},
		{name: "no absolute floor", mutate: func(p *anomaly.Params) { p.MinStdDev = 0 }, want: []string{"min_stddev:"}},
		{name: "negative relative floor", mutate: func(p *anomaly.Params) { p.MinRelativeStdDev = -1 }, want: []string{"min_relative_stddev:"}},
		{name: "min points", mutate: func(p *anomaly.Params) { p.MinPoints = 0 }, want: []string{"min_points:"}},
		{name: "min seasons", mutate: func(p *anomaly.Params) { p.Method = anomaly.MethodSeasonal; p.MinSeasons = 0 }, want: []string{"min_seasons:"}},
		{name: "seasons", mutate: func(p *anomaly.Params) {
			p.Method = anomaly.MethodSeasonal
			p.Seasons, p.SeasonWindow = 0, 8*24*time.Hour
		}, want: []string{"seasons: must be at least 1", "season_window:"}},
		{name: "baseline", mutate: func(p *anomaly.Params) { p.Baseline = 0 }, want: []string{"baseline: must be positive"}},
		{name: "smoothing", mutate: func(p *anomaly.Params) { p.SmoothingFunc = "mode"; p.Smoothing = -time.Minute }, want: []string{"smoothing_func:", "smoothing: must not be negative"}},
		{name: "negative durations", mutate: func(p *anomaly.Params) { p.Gap, p.MinHistory, p.Sustained = -1, -1, -1 }, want: []string{"exclude_recent:", "min_history:", "sustained:"}},
		{name: "several at once", mutate: func(p *anomaly.Params) { p.Threshold = -1; p.MinPoints = 0 }, want: []string{"threshold:", "min_points:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := anomaly.DefaultParamsFor(anomaly.MethodWindow)
			tt.mutate(&p)
			err := p.Validate()
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ok", anomaly.StatusOK.String())
	require.Equal(t, "insufficient data", anomaly.StatusInsufficientData.String())
}
