package anomaly_test

import (
	"math/rand/v2"
	"testing"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// week5m is 7 days at 5-minute resolution, the default robust baseline.
func week5m() []float64 {
	r := rand.New(rand.NewPCG(3, 4))
	pts := make([]float64, 2016)
	for i := range pts {
		pts[i] = 50 + 5*r.NormFloat64()
	}
	return pts
}

func BenchmarkRobustBaseline2016(b *testing.B) {
	pts := week5m()
	b.ReportAllocs()
	for b.Loop() {
		_ = anomaly.RobustBaseline(pts)
	}
}

func BenchmarkWindowBaseline2016(b *testing.B) {
	pts := week5m()
	b.ReportAllocs()
	for b.Loop() {
		_ = anomaly.WindowBaseline(pts)
	}
}
