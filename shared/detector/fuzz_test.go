package detector_test

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// FuzzObserve feeds arbitrary values (NaN, ±Inf, huge, constant) and
// spacings: the detector never panics, z stays finite, and the same input
// always gives the same decisions.
func FuzzObserve(f *testing.F) {
	f.Add([]byte{})
	f.Add(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())))
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Inf(1))), math.Float64bits(math.MaxFloat64)))
	f.Add(make([]byte, 9*400))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := detector.New(detector.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		var pts []detector.Point
		at := t0
		for len(data) >= 9 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(data))
			at = at.Add(time.Duration(data[8]) * time.Minute)
			pts = append(pts, detector.Point{Time: at, Value: v})
			data = data[9:]
		}
		// Long enough to get past the minimum history.
		for i := range 2 * 288 {
			pts = append(pts, detector.Point{Time: at.Add(time.Duration(i+1) * 5 * time.Minute), Value: float64(i % 7)})
		}
		run := func() []detector.Decision {
			var s detector.State
			out := make([]detector.Decision, len(pts))
			for i, p := range pts {
				out[i] = d.Observe(&s, p)
				if z := out[i].Z; math.IsNaN(z) || math.IsInf(z, 0) {
					t.Fatalf("point %d: z = %v", i, z)
				}
			}
			return out
		}
		a, b := run(), run()
		for i := range a {
			if a[i].Z != b[i].Z || a[i].Holds != b[i].Holds {
				t.Fatalf("point %d: not deterministic", i)
			}
		}
	})
}
