package anomaly_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

func TestSustained(t *testing.T) {
	t.Parallel()
	mk := func(d anomaly.Direction, window time.Duration, threshold float64) anomaly.Params {
		p := anomaly.DefaultParamsFor(anomaly.MethodWindow)
		p.Direction = d
		p.Threshold = 5
		p.ResolveThreshold = 2.5 // ratio 0.5
		p.Sustained = window
		p.SustainedThreshold = threshold
		return p
	}
	tests := []struct {
		name      string
		p         anomaly.Params
		z         float64
		wasActive bool
		want      bool
	}{
		{name: "off without a window", p: mk(anomaly.DirectionBoth, 0, 2), z: 100},
		{name: "off without threshold", p: mk(anomaly.DirectionBoth, time.Hour, 0), z: 100},
		{name: "fires at its own threshold", p: mk(anomaly.DirectionBoth, time.Hour, 2), z: 2, want: true},
		{name: "below its threshold", p: mk(anomaly.DirectionBoth, time.Hour, 2), z: 1.99},
		{name: "both directions", p: mk(anomaly.DirectionBoth, time.Hour, 2), z: -2.5, want: true},
		{name: "up ignores a sustained drop", p: mk(anomaly.DirectionUp, time.Hour, 2), z: -3},
		{name: "down fires on a sustained drop", p: mk(anomaly.DirectionDown, time.Hour, 2), z: -3, want: true},
		{name: "hysteresis: the main resolve ratio applies", p: mk(anomaly.DirectionBoth, time.Hour, 2), z: 1.0, wasActive: true, want: true},
		{name: "hysteresis releases", p: mk(anomaly.DirectionBoth, time.Hour, 2), z: 0.99, wasActive: true},
		{name: "NaN never", p: mk(anomaly.DirectionBoth, time.Hour, 2), z: nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.p.SustainedAnomalous(tt.z, tt.wasActive))
		})
	}
}

func TestValidateSustained(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(*anomaly.Params)
		wantErr string
	}{
		{name: "off is valid", mutate: func(*anomaly.Params) {}},
		{name: "on is valid", mutate: func(p *anomaly.Params) { p.Sustained, p.SustainedThreshold = time.Hour, 2 }},
		{name: "negative window", mutate: func(p *anomaly.Params) { p.Sustained = -time.Minute }, wantErr: "sustained: must not be negative"},
		{name: "negative threshold", mutate: func(p *anomaly.Params) { p.SustainedThreshold = -1 }, wantErr: "sustained_threshold: must be a non-negative number"},
		{name: "NaN threshold", mutate: func(p *anomaly.Params) { p.SustainedThreshold = nan }, wantErr: "sustained_threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := anomaly.DefaultParamsFor(anomaly.MethodWindow)
			tt.mutate(&p)
			err := p.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestHolds: the decision the deployed function and the backtest share.
// Threshold 6 (resolve 4.5), sustained 1.5 (resolve 1.125).
func TestHolds(t *testing.T) {
	t.Parallel()
	p := anomaly.DefaultParamsFor(anomaly.MethodWindow)
	z := func(v float64) *anomaly.Result { return &anomaly.Result{Status: anomaly.StatusOK, Z: v} }
	sc := func(current, latest, median, sustained float64) anomaly.Scores {
		s := anomaly.Scores{Current: *z(current), Latest: z(latest), Median: z(median)}
		if !math.IsNaN(sustained) {
			s.Sustained = z(sustained)
		}
		return s
	}
	tests := []struct {
		name      string
		s         anomaly.Scores
		wasActive bool
		want      bool
	}{
		{name: "a burst going on fires", s: sc(8, 9, 8, nan), want: true},
		{name: "below the threshold", s: sc(5.9, 9, 8, nan)},
		{name: "a burst already over does not fire", s: sc(7, 1, 2, nan)},
		{name: "the latest point back: still held by the median", s: sc(7, 1, 8, nan), wasActive: true, want: true},
		{name: "the median back: still held by the latest point", s: sc(7, 5, 1, nan), wasActive: true, want: true},
		{name: "both back: resolves although the mean still carries the burst", s: sc(7, 1, 2, nan), wasActive: true},
		{name: "a lasting shift fires through the sustained average", s: sc(2, 2, 2, 1.6), want: true},
		{name: "a shift needs the current value too", s: sc(1.4, 2, 2, 1.6)},
		{name: "a shift held by the median at the sustained resolve threshold", s: sc(1.2, 0.5, 1.2, 1.2), wasActive: true, want: true},
		{name: "not by the latest point alone", s: sc(1.2, 1.2, 0.5, 1.2), wasActive: true},
		{name: "not by a median on the other side", s: sc(0, 0, -1.2, 1.2), wasActive: true},
		{name: "a shift down fires", s: sc(-2, -2, -2, -1.6), want: true},
		{name: "a shift does not fire with the current value on the other side", s: sc(-2, -2, -2, 1.6)},
		{name: "a past burst in the sustained average does not hold it", s: sc(3, 0.2, 0.5, 4), wasActive: true},
		{name: "a past burst in the sustained average does not fire it", s: sc(3, 0.2, 0.5, 4)},
		{name: "direction both: dips count", s: sc(-8, -9, -8, nan), want: true},
		{name: "a single point: the current value stands for the latest and the median", s: anomaly.Scores{Current: *z(6.5)}, want: true},
		{name: "not scored: never", s: anomaly.Scores{Current: anomaly.Result{Status: anomaly.StatusInsufficientData, Z: 100}}, wasActive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := p.Holds(tt.s, tt.wasActive)
			require.Equal(t, tt.want, got)
			if got && !tt.wasActive {
				require.True(t, p.Holds(tt.s, true), "whatever fires also holds: the same data never flaps")
			}
		})
	}
	up := p
	up.Direction = anomaly.DirectionUp
	require.False(t, up.Holds(sc(-8, -9, -8, -3), false), "up ignores dips")
}
