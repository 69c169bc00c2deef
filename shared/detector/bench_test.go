package detector_test

import (
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// BenchmarkObserve replays 35 days of 1-minute data: the cost per point of
// the backtest and of a cold-start backfill.
func BenchmarkObserve(b *testing.B) {
	d, err := detector.New(detector.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	pts := noise(35*1440, time.Minute, 1, func(_ int, _ time.Time, z float64) float64 { return 100 + 5*z })
	b.ReportAllocs()
	for b.Loop() {
		var s detector.State
		for _, p := range pts {
			d.Observe(&s, p)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
}
