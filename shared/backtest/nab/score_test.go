package nab

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/backtest"
)

// file builds a labelled file of n five-minute rows with the given windows
// as row index pairs.
func file(t *testing.T, n int, windows ...[2]int) *File {
	t.Helper()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &File{Rel: "cat/f.csv", Category: "cat"}
	for i := range n {
		f.Points = append(f.Points, backtest.Point{Time: start.Add(time.Duration(i) * 5 * time.Minute), Value: 1})
	}
	var labels [][2]string
	for _, w := range windows {
		labels = append(labels, [2]string{f.Points[w[0]].Time.Format("2006-01-02 15:04:05.000000"), f.Points[w[1]].Time.Format("2006-01-02 15:04:05")})
	}
	require.NoError(t, f.label(labels))
	return f
}

func TestScoreFollowsNABRules(t *testing.T) {
	t.Parallel()
	// 100 rows: probation 15; one window over rows 50..59 (width 10).
	f := file(t, 100, [2]int{50, 59})
	require.Equal(t, 15, f.Probation())
	fpAfter := func(i int) float64 { return sigma(math.Abs(float64(59-i)) / 9) }
	tests := []struct {
		name       string
		detections []int
		p          Profile
		raw        float64
		tp, fn, fp int
	}{
		{name: "nothing: one missed window", p: Standard, raw: -1, fn: 1},
		{name: "left edge is worth a full window", detections: []int{50}, p: Standard, raw: 1, tp: 1},
		{name: "only the earliest detection in a window counts", detections: []int{55, 50, 58}, p: Standard, raw: 1, tp: 1},
		{name: "mid-window", detections: []int{55}, p: Standard, raw: sigma(-5.0/10) / sigma(-1), tp: 1},
		{name: "probationary rows are ignored", detections: []int{3, 14}, p: Standard, raw: -1, fn: 1},
		{name: "a false positive before any window costs fp", detections: []int{20}, p: LowFP, raw: -0.22 - 1, fn: 1, fp: 1},
		{name: "a false positive after a window is discounted by distance", detections: []int{50, 62, 99}, p: Standard, raw: 1 + 0.11*fpAfter(62) + 0.11*fpAfter(99), tp: 1, fp: 2},
		{name: "low FN doubles a miss", p: LowFN, raw: -2, fn: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := f.Score(tt.detections, tt.p)
			require.InDelta(t, tt.raw, c.Raw, 1e-12)
			require.Equal(t, []int{tt.tp, tt.fn, tt.fp}, []int{c.TP, c.FN, c.FP})
			require.Equal(t, 1, c.Windows)
			require.Equal(t, 1, c.Scorable)
		})
	}
}

func TestNormalized(t *testing.T) {
	t.Parallel()
	f := file(t, 100, [2]int{50, 59})
	require.InDelta(t, 0, f.Score(nil, Standard).Normalized(Standard), 1e-12)
	require.InDelta(t, 100, f.Score([]int{50}, Standard).Normalized(Standard), 1e-12)
	noWindows := file(t, 100)
	require.True(t, math.IsNaN(noWindows.Score([]int{40}, Standard).Normalized(Standard)))
	// A window entirely inside the probation is labelled but not scorable:
	// it counts towards perfect, not towards null.
	early := file(t, 100, [2]int{2, 5}, [2]int{50, 59})
	c := early.Score([]int{50}, Standard)
	require.Equal(t, 2, c.Windows)
	require.Equal(t, 1, c.Scorable)
	require.InDelta(t, 100*(1+1)/(2+1.0), c.Normalized(Standard), 1e-12)
}

func TestWindowMustMatchARow(t *testing.T) {
	t.Parallel()
	f := file(t, 10)
	err := f.label([][2]string{{"2024-01-01 00:01:00", "2024-01-01 00:10:00"}})
	require.ErrorContains(t, err, "does not match data timestamps")
}

func TestFsumIsExact(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1.0, fsum([]float64{1e100, 1, -1e100}))
	require.Equal(t, 1.0, fsum([]float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1})) // a plain sum gives 0.9999999999999999
	require.Equal(t, 0.0, fsum(nil))
}

func TestCrossValidateChoosesWithoutTheHeldOutCategory(t *testing.T) {
	t.Parallel()
	count := func(raw float64) map[string]Count {
		m := map[string]Count{}
		for _, p := range Profiles {
			m[p.Short] = Count{Raw: raw, Windows: 1, Scorable: 1}
		}
		return m
	}
	// a is best on A alone, b on B alone; held out, each category is
	// scored by the other's choice.
	results := []Result{
		{Name: "a", Eligible: true, Counts: map[string]map[string]Count{"A": count(1), "B": count(-1)}},
		{Name: "b", Eligible: true, Counts: map[string]map[string]Count{"A": count(-1), "B": count(0.5)}},
		{Name: "best but pages", Eligible: false, Counts: map[string]map[string]Count{"A": count(1), "B": count(1)}},
	}
	cv := CrossValidate(results, []string{"A", "B"})
	require.Equal(t, 1, cv.Folds[0].Chosen) // A held out: chosen on B
	require.Equal(t, 0, cv.Folds[1].Chosen) // B held out: chosen on A
	require.InDelta(t, -2, cv.Total["standard"].Raw, 1e-12)
}
