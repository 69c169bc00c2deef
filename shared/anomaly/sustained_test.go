package anomaly_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

func TestSustained(t *testing.T) {
	t.Parallel()
	mk := func(d anomaly.Direction, points int, threshold float64) anomaly.Params {
		p := anomaly.DefaultParams()
		p.Direction = d
		p.Threshold = 5
		p.ResolveThreshold = 2.5 // ratio 0.5
		p.SustainedPoints = points
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
		{name: "off without points", p: mk(anomaly.DirectionBoth, 0, 2), z: 100},
		{name: "off without threshold", p: mk(anomaly.DirectionBoth, 12, 0), z: 100},
		{name: "fires at its own threshold", p: mk(anomaly.DirectionBoth, 12, 2), z: 2, want: true},
		{name: "below its threshold", p: mk(anomaly.DirectionBoth, 12, 2), z: 1.99},
		{name: "both directions", p: mk(anomaly.DirectionBoth, 12, 2), z: -2.5, want: true},
		{name: "up ignores a sustained drop", p: mk(anomaly.DirectionUp, 12, 2), z: -3},
		{name: "down fires on a sustained drop", p: mk(anomaly.DirectionDown, 12, 2), z: -3, want: true},
		{name: "hysteresis: the main resolve ratio applies", p: mk(anomaly.DirectionBoth, 12, 2), z: 1.0, wasActive: true, want: true},
		{name: "hysteresis releases", p: mk(anomaly.DirectionBoth, 12, 2), z: 0.99, wasActive: true},
		{name: "NaN never", p: mk(anomaly.DirectionBoth, 12, 2), z: nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.p.Sustained(tt.z, tt.wasActive))
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
		{name: "on is valid", mutate: func(p *anomaly.Params) { p.SustainedPoints, p.SustainedThreshold = 12, 2 }},
		{name: "negative points", mutate: func(p *anomaly.Params) { p.SustainedPoints = -1 }, wantErr: "sustained_points: must not be negative"},
		{name: "negative threshold", mutate: func(p *anomaly.Params) { p.SustainedThreshold = -1 }, wantErr: "sustained_threshold: must be a non-negative number"},
		{name: "NaN threshold", mutate: func(p *anomaly.Params) { p.SustainedThreshold = nan }, wantErr: "sustained_threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := anomaly.DefaultParams()
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
