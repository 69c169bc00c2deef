package anomaly

import (
	"math"
	"slices"
)

// madToSigma turns a median absolute deviation into an estimate of σ for
// normally distributed data (1/Φ⁻¹(3/4)).
const madToSigma = 1.4826

// Baseline is what a current value is compared with: a centre (mean or
// median), a spread (σ or 1.4826·MAD, before any floor) and how many finite
// points (and, for seasonal baselines, how many seasons) stand behind them.
type Baseline struct {
	Center  float64
	Spread  float64
	N       int
	Seasons int
}

// WindowBaseline is the mean and population standard deviation of the finite
// points (the same definitions as avg_over_time and stddev_over_time).
func WindowBaseline(points []float64) Baseline {
	var (
		n     int
		scale float64
	)
	for _, v := range points {
		if finite(v) {
			n++
			scale = max(scale, math.Abs(v))
		}
	}
	if n == 0 {
		return Baseline{}
	}
	if scale == 0 {
		return Baseline{N: n}
	}
	// Scaling keeps every intermediate within [-1, 1], so values near
	// MaxFloat64 cannot overflow the sum or the squares.
	var sum float64
	for _, v := range points {
		if finite(v) {
			sum += v / scale
		}
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range points {
		if finite(v) {
			d := v/scale - mean
			ss += d * d
		}
	}
	return Baseline{
		Center: mean * scale,
		Spread: math.Sqrt(ss/float64(n)) * scale,
		N:      n,
	}
}

// BaselineFromMoments builds a window baseline from aggregates computed
// elsewhere: mean = avg_over_time, stddev = stddev_over_time, n =
// count_over_time over the same range. Aggregates that are not finite (a
// query engine returns NaN for an empty or poisoned range) or a negative σ
// give a baseline with N = 0, which scores as insufficient data.
func BaselineFromMoments(mean, stddev float64, n int) Baseline {
	if !finite(mean) || !finite(stddev) || stddev < 0 || n < 0 {
		return Baseline{}
	}
	return Baseline{Center: mean, Spread: stddev, N: n}
}

// RobustBaseline is the median and 1.4826·MAD of the finite points.
func RobustBaseline(points []float64) Baseline {
	sorted := make([]float64, 0, len(points))
	for _, v := range points {
		if finite(v) {
			sorted = append(sorted, v)
		}
	}
	slices.Sort(sorted)
	return RobustFromSorted(sorted)
}

// RobustFromSorted is RobustBaseline for points that are already finite and
// sorted ascending; it does not allocate and runs in O(log n), which is what
// lets a sliding window keep its points sorted instead of re-sorting them at
// every step. Unsorted or non-finite input gives an unspecified baseline.
func RobustFromSorted(sorted []float64) Baseline {
	n := len(sorted)
	if n == 0 {
		return Baseline{}
	}
	scale := max(math.Abs(sorted[0]), math.Abs(sorted[n-1]))
	if scale == 0 {
		return Baseline{N: n}
	}
	medVal := medianSorted(sorted)
	med := medVal / scale
	// The absolute deviations left of the median, read outwards, and those
	// right of it are two ascending sequences; the MAD is the median of
	// their union, found by selection instead of by sorting.
	p, _ := slices.BinarySearch(sorted, medVal)
	left := func(i int) float64 { return med - sorted[p-1-i]/scale }
	right := func(j int) float64 { return sorted[p+j]/scale - med }
	lenL, lenR := p, n-p
	var mad float64
	if n%2 == 1 {
		mad = kthOfTwo(left, lenL, right, lenR, n/2)
	} else {
		mad = kthOfTwo(left, lenL, right, lenR, n/2-1)/2 + kthOfTwo(left, lenL, right, lenR, n/2)/2
	}
	// 1.4826·MAD can exceed MaxFloat64 when the MAD is near it; saturate
	// rather than return Inf.
	spread := min(madToSigma*mad*scale, math.MaxFloat64)
	return Baseline{Center: medVal, Spread: spread, N: n}
}

func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	// Halving first avoids overflow for values near MaxFloat64.
	return s[n/2-1]/2 + s[n/2]/2
}

// kthOfTwo returns the k-th smallest (0-based) element of the union of two
// ascending sequences a (length la) and b (length lb), k < la+lb.
func kthOfTwo(a func(int) float64, la int, b func(int) float64, lb int, k int) float64 {
	// i is how many of the k+1 smallest come from a; taking one more from a
	// pays while a's next element is below the last one taken from b, which
	// is monotone in i.
	lo, hi := max(0, k+1-lb), min(k+1, la)
	for lo < hi {
		i := (lo + hi) / 2
		if a(i) < b(k-i) {
			lo = i + 1
		} else {
			hi = i
		}
	}
	// lo elements come from a, k+1-lo from b; the answer is the larger of the
	// last taken from each.
	i, j := lo, k+1-lo
	best := math.Inf(-1)
	if i > 0 {
		best = a(i - 1)
	}
	if j > 0 {
		best = max(best, b(j-1))
	}
	return best
}

// SeasonalBaseline pools per-season baselines (for example the same hour of
// the week 1, 2 and 3 weeks back) into one. The pooled variance is the law of
// total variance: the mean within-season variance plus the variance of the
// season means, each weighted by its number of points, so a level that
// changes from week to week widens the band. Seasons with no points or with
// non-finite moments are left out; Seasons counts the ones used.
func SeasonalBaseline(seasons []Baseline) Baseline {
	var (
		n, used int
		scale   float64
	)
	for _, s := range seasons {
		if s.N > 0 && finite(s.Center) && finite(s.Spread) && s.Spread >= 0 {
			n += s.N
			used++
			scale = max(scale, math.Abs(s.Center), s.Spread)
		}
	}
	if used == 0 {
		return Baseline{}
	}
	if scale == 0 {
		return Baseline{N: n, Seasons: used}
	}
	var sum float64
	for _, s := range seasons {
		if s.N > 0 && finite(s.Center) && finite(s.Spread) && s.Spread >= 0 {
			sum += float64(s.N) / float64(n) * (s.Center / scale)
		}
	}
	var v float64
	for _, s := range seasons {
		if s.N > 0 && finite(s.Center) && finite(s.Spread) && s.Spread >= 0 {
			d := s.Center/scale - sum
			sd := s.Spread / scale
			v += float64(s.N) / float64(n) * (sd*sd + d*d)
		}
	}
	return Baseline{Center: sum * scale, Spread: math.Sqrt(v) * scale, N: n, Seasons: used}
}

// SeasonalFromPoints is SeasonalBaseline over raw points, one slice per
// season.
func SeasonalFromPoints(seasons [][]float64) Baseline {
	bs := make([]Baseline, len(seasons))
	for i, s := range seasons {
		bs[i] = WindowBaseline(s)
	}
	return SeasonalBaseline(bs)
}
