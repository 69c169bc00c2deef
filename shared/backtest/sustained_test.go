package backtest_test

import (
	"testing"
	"time"

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
		window    time.Duration
		threshold float64
		wantFired []int
	}{
		{name: "off", wantFired: nil},
		{name: "1h (12 points) at 1.5", window: time.Hour, threshold: 1.5, wantFired: []int{160}},
		{name: "30m (6 points) at 1.5", window: 30 * time.Minute, threshold: 1.5, wantFired: []int{153}},
		{name: "2h (24 points): the baseline absorbs the shift first", window: 2 * time.Hour, threshold: 1.5, wantFired: nil},
		{name: "too high a threshold", window: time.Hour, threshold: 3, wantFired: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rule(anomaly.MethodWindow, 0)
			r.Params.MinStdDev = 1e-9
			r.Params.Smoothing = 15 * time.Minute // the shipped window: its median holds the alert through a noisy point
			r.Params.Sustained, r.Params.SustainedThreshold = tt.window, tt.threshold
			ticks, _, err := backtest.Run(pts, r)
			require.NoError(t, err)
			require.Equal(t, tt.wantFired, firedAt(ticks))
		})
	}
}
