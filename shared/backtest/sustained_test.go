package backtest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
)

// TestSustainedCatchesALevelShift: a lasting shift of +3σ never reaches a
// threshold of 5 point by point, but the mean of the last 12 points does
// reach 1.5σ once most of them are past the shift.
func TestSustainedCatchesALevelShift(t *testing.T) {
	t.Parallel()
	shift := map[int]float64{}
	noise := series(300, 3, nil)
	for i := 150; i < 300; i++ {
		shift[i] = noise[i].Value + 3
	}
	pts := series(300, 3, shift)
	tests := []struct {
		name      string
		points    int
		threshold float64
		wantFired []int
	}{
		{name: "off", wantFired: nil},
		{name: "12 points at 1.5", points: 12, threshold: 1.5, wantFired: []int{160}},
		{name: "6 points at 1.5", points: 6, threshold: 1.5, wantFired: []int{153}},
		{name: "24 points: the baseline absorbs the shift first", points: 24, threshold: 1.5, wantFired: nil},
		{name: "too high a threshold", points: 12, threshold: 3, wantFired: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rule(anomaly.MethodWindow, 0)
			r.Params.MinStdDev = 1e-9
			r.Params.SustainedPoints, r.Params.SustainedThreshold = tt.points, tt.threshold
			ticks, _, err := backtest.Run(pts, r)
			require.NoError(t, err)
			require.Equal(t, tt.wantFired, firedAt(ticks))
		})
	}
}
