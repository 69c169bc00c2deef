package anomaly

import (
	"math"
	"slices"
)

// MaxZ bounds |z|. A deviation so large that z overflows is certainly
// anomalous; capping keeps z finite for logs, state series and messages.
const MaxZ = 1e9

// Status says whether a Result carries a usable z.
type Status int

// The statuses.
const (
	// StatusOK: z is finite and may be compared with the thresholds.
	StatusOK Status = iota
	// StatusInsufficientData: too little history, too few seasons or no
	// finite current value. Never an anomaly.
	StatusInsufficientData
)

// String returns the status as it appears in logs and messages.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusInsufficientData:
		return "insufficient data"
	default:
		return "unknown"
	}
}

// Result is the outcome of scoring one value against one baseline.
type Result struct {
	Status Status
	// Value is the (possibly smoothed) current value that was scored.
	Value float64
	// Center is the baseline centre (mean or median).
	Center float64
	// Spread is the spread after the floors, the divisor of z.
	Spread float64
	// RawSpread is the baseline's own spread, before the floors.
	RawSpread float64
	// N is the number of baseline points.
	N int
	// Z is signed: positive above the centre. Zero unless Status is OK.
	Z float64
}

// OK reports whether the result carries a usable z.
func (r Result) OK() bool { return r.Status == StatusOK }

// Floor returns the spread after the absolute and relative floors.
func (p Params) Floor(spread, center float64) float64 {
	return max(spread, p.MinStdDev, p.MinRelativeStdDev*math.Abs(center))
}

// Score computes the z of current against b. The result is
// StatusInsufficientData, with Z = 0, when the baseline has fewer than
// MinPoints points (or, for the seasonal method, fewer than MinSeasons
// seasons), when current is not finite, or when the baseline is not finite.
func (p Params) Score(current float64, b Baseline) Result {
	r := Result{Status: StatusInsufficientData, Value: current, Center: b.Center, RawSpread: b.Spread, N: b.N}
	if !finite(current) || !finite(b.Center) || !finite(b.Spread) || b.Spread < 0 {
		return r
	}
	if b.N < max(p.MinPoints, 1) {
		return r
	}
	if p.Method == MethodSeasonal && b.Seasons < max(p.MinSeasons, 1) {
		return r
	}
	s := p.Floor(b.Spread, b.Center)
	r.Spread = s
	if !(s > 0) {
		// Only reachable with invalid Params (no positive min_stddev): a zero
		// divisor has no meaningful z.
		return r
	}
	z := (current - b.Center) / s
	if math.IsInf(z, 0) || math.IsNaN(z) {
		// The difference overflowed; dividing first may still be finite.
		z = current/s - b.Center/s
	}
	switch {
	case math.IsNaN(z):
		return r
	case z > MaxZ:
		z = MaxZ
	case z < -MaxZ:
		z = -MaxZ
	}
	r.Z = z
	r.Status = StatusOK
	return r
}

// Current combines the finite points of the smoothing window (the caller
// selects the points in (t−Smoothing, t]) into the value to score: their
// mean or median. ok is false when the window holds no finite value.
func Current(window []float64, how Smoothing) (value float64, ok bool) {
	finitePoints := make([]float64, 0, len(window))
	for _, v := range window {
		if finite(v) {
			finitePoints = append(finitePoints, v)
		}
	}
	switch {
	case len(finitePoints) == 0:
		return 0, false
	case len(finitePoints) == 1:
		return finitePoints[0], true
	case how == SmoothingMedian:
		slices.Sort(finitePoints)
		return medianSorted(finitePoints), true
	default:
		return WindowBaseline(finitePoints).Center, true
	}
}
