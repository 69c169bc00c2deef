package detector

import "math"

// Moments are the weighted count, mean and sum of squared deviations of a
// set of values: what a baseline needs of an hour of data, and what two
// hours need to be pooled exactly (Chan et al.'s parallel formula). Mean and
// M2 are kept instead of a sum and a sum of squares because the variance of
// a large, nearly constant value (1e12 bytes moving by 1e3) cancels to
// nothing in sumsq − sum²/n.
type Moments struct {
	N    float64
	Mean float64
	M2   float64
}

// Add adds x with weight w (West's weighted update of Welford's; w > 0).
// The increment of M2 is written as n·w·d²/(n+w), not as w·d·(x − mean'),
// which for the first point multiplies a difference of 4e11 by the
// rounding error of the new mean instead of by zero.
func (m *Moments) Add(x, w float64) {
	if m.N <= 0 {
		*m = Moments{N: w, Mean: x}
		return
	}
	n := m.N + w
	d := x - m.Mean
	m.Mean += w * d / n
	m.M2 += m.N * w * d * d / n
	m.N = n
}

// Merge pools o into m.
func (m *Moments) Merge(o Moments) {
	if o.N <= 0 {
		return
	}
	if m.N <= 0 {
		*m = o
		return
	}
	n := m.N + o.N
	d := o.Mean - m.Mean
	m.Mean += d * o.N / n
	m.M2 += o.M2 + d*d*m.N*o.N/n
	m.N = n
}

// Var is the population variance, as stddev_over_time squares it.
func (m Moments) Var() float64 {
	if m.N <= 0 {
		return 0
	}
	return max(m.M2/m.N, 0)
}

// Std is the population standard deviation.
func (m Moments) Std() float64 { return math.Sqrt(m.Var()) }
