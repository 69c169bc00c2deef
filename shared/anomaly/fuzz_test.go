package anomaly_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// floats decodes 8 bytes per float64 so the fuzzer can reach every bit
// pattern: NaN payloads, ±Inf, subnormals, MaxFloat64.
func floats(data []byte) []float64 {
	out := make([]float64, 0, len(data)/8)
	for len(data) >= 8 {
		out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(data)))
		data = data[8:]
	}
	return out
}

func fuzzParams() anomaly.Params {
	p := anomaly.DefaultParamsFor(anomaly.MethodWindow)
	p.MinPoints = 1
	p.MinRelativeStdDev = 0
	p.MinStdDev = 1e-300
	return p
}

func checkBaseline(t *testing.T, b anomaly.Baseline) {
	t.Helper()
	if math.IsNaN(b.Center) || math.IsInf(b.Center, 0) || math.IsNaN(b.Spread) || math.IsInf(b.Spread, 0) || b.Spread < 0 {
		t.Fatalf("baseline not finite: %+v", b)
	}
}

func checkScore(t *testing.T, p anomaly.Params, pts []float64, b anomaly.Baseline) {
	t.Helper()
	if len(pts) == 0 {
		return
	}
	cur := pts[len(pts)-1]
	r := p.Score(cur, b)
	if !r.OK() {
		if r.Z != 0 {
			t.Fatalf("insufficient result with z %v", r.Z)
		}
		return
	}
	if math.IsNaN(r.Z) || math.Abs(r.Z) > anomaly.MaxZ {
		t.Fatalf("z %v out of range for %v against %+v", r.Z, cur, b)
	}
	if b.N == 0 {
		t.Fatalf("scored against an empty baseline")
	}
	_ = p.Anomalous(r.Z, false)
}

func finiteRange(pts []float64) (lo, hi float64, n int) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range pts {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi, n = min(lo, v), max(hi, v), n+1
		}
	}
	return lo, hi, n
}

func FuzzWindow(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pts := floats(data)
		b := anomaly.WindowBaseline(pts)
		checkBaseline(t, b)
		lo, hi, n := finiteRange(pts)
		if b.N != n {
			t.Fatalf("N %d, want %d", b.N, n)
		}
		if n > 0 && (b.Center < lo-1e-9*math.Abs(lo) || b.Center > hi+1e-9*math.Abs(hi)) {
			t.Fatalf("mean %v outside [%v, %v]", b.Center, lo, hi)
		}
		checkScore(t, fuzzParams(), pts, b)
	})
}

func FuzzRobust(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pts := floats(data)
		b := anomaly.RobustBaseline(pts)
		checkBaseline(t, b)
		lo, hi, n := finiteRange(pts)
		if b.N != n {
			t.Fatalf("N %d, want %d", b.N, n)
		}
		if n > 0 && (b.Center < lo || b.Center > hi) {
			t.Fatalf("median %v outside [%v, %v]", b.Center, lo, hi)
		}
		p := fuzzParams()
		p.Method = anomaly.MethodRobust
		checkScore(t, p, pts, b)
	})
}

func FuzzSeasonal(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pts := floats(data)
		// Three seasons of interleaved points, as three weeks would be.
		seasons := make([][]float64, 3)
		for i, v := range pts {
			seasons[i%3] = append(seasons[i%3], v)
		}
		b := anomaly.SeasonalFromPoints(seasons)
		checkBaseline(t, b)
		if b.Seasons > 3 {
			t.Fatalf("seasons %d", b.Seasons)
		}
		p := fuzzParams()
		p.Method = anomaly.MethodSeasonal
		p.MinSeasons = 1
		checkScore(t, p, pts, b)
	})
}

func FuzzCurrent(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, median bool) {
		pts := floats(data)
		how := anomaly.SmoothingMean
		if median {
			how = anomaly.SmoothingMedian
		}
		v, ok := anomaly.Current(pts, how)
		if ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("current %v not finite", v)
		}
		_, _, n := finiteRange(pts)
		if ok != (n > 0) {
			t.Fatalf("ok %v with %d finite points", ok, n)
		}
	})
}

// FuzzHolds checks the property that keeps the deployed function from
// flapping when it evaluates the same data at several ticks: whatever
// fires also holds.
func FuzzHolds(f *testing.F) {
	f.Add(7.0, 9.0, 8.0, 2.0, uint8(0))
	f.Add(2.0, 1.5, 1.3, 1.6, uint8(1))
	f.Add(-6.5, -5.0, 0.0, -1.7, uint8(2))
	f.Fuzz(func(t *testing.T, cur, latest, median, sustained float64, dir uint8) {
		p := anomaly.DefaultParams()
		p.Direction = []anomaly.Direction{anomaly.DirectionBoth, anomaly.DirectionUp, anomaly.DirectionDown}[int(dir)%3]
		ok := func(z float64) *anomaly.Result { return &anomaly.Result{Status: anomaly.StatusOK, Z: z} }
		s := anomaly.Scores{Current: *ok(cur), Latest: ok(latest), Median: ok(median), Sustained: ok(sustained)}
		if p.Holds(s, false) && !p.Holds(s, true) {
			t.Fatalf("fires but does not hold: %+v", s)
		}
	})
}
