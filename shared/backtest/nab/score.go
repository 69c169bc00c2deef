package nab

import "math"

// Profile is one of NAB's scoring profiles: the weight of a detected window,
// of a false positive and of a missed window.
type Profile struct {
	Name string
	// Short is the name score.py prints on its last line.
	Short      string
	TP, FP, FN float64
}

// NAB's three profiles (config/profiles.json).
var (
	Standard = Profile{Name: "standard", Short: "standard", TP: 1, FP: 0.11, FN: 1}
	LowFP    = Profile{Name: "reward_low_FP_rate", Short: "low_fp", TP: 1, FP: 0.22, FN: 1}
	LowFN    = Profile{Name: "reward_low_FN_rate", Short: "low_fn", TP: 1, FP: 0.11, FN: 2}
	Profiles = []Profile{Standard, LowFP, LowFN}
)

// Probation: the first ProbationFraction of a file's rows, at most
// ProbationMaxRows, are ignored.
const (
	ProbationFraction = 0.15
	ProbationMaxRows  = 750
)

// sigma is NAB's scaled sigmoid, −1 beyond three window widths.
func sigma(p float64) float64 {
	if p > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*p)) - 1
}

var maxTP = sigma(-1)

// Count is the outcome of scoring some files under one profile.
type Count struct {
	// Raw is NAB's raw score, the exactly rounded sum of every detection's
	// and every missed window's value.
	Raw float64
	// TP and FN count scorable windows detected and missed; FP counts
	// detections outside every window.
	TP, FN, FP int
	// Windows counts the labelled windows, Scorable those with a row after
	// the probationary period: the normalisation's perfect and null.
	Windows, Scorable int
}

// Add pools another count (another set of files) into c.
func (c Count) Add(o Count) Count {
	return Count{
		Raw:      fsum([]float64{c.Raw, o.Raw}),
		TP:       c.TP + o.TP,
		FN:       c.FN + o.FN,
		FP:       c.FP + o.FP,
		Windows:  c.Windows + o.Windows,
		Scorable: c.Scorable + o.Scorable,
	}
}

// Normalized is 100·(raw − null)/(perfect − null) under p: 0 for a detector
// that never fires, 100 for one that detects every window at its left edge
// and nothing else. NaN when there is no window (a set of files without
// labels cannot be normalised on its own).
func (c Count) Normalized(p Profile) float64 {
	null := -p.FN * float64(c.Scorable)
	perfect := p.TP * float64(c.Windows)
	if perfect == null {
		return math.NaN()
	}
	return 100 * (c.Raw - null) / (perfect - null)
}

// Score scores one file's detections under p. detections are the row
// indices where the detector fired (anomaly_score 1), in any order;
// indices outside the file are ignored.
func (f *File) Score(detections []int, p Profile) Count {
	best := make([]float64, f.windows)
	hit := make([]bool, f.windows)
	var fp []float64
	for _, i := range detections {
		if i < f.probation || i >= len(f.window) {
			continue
		}
		v := f.value[i]
		if w := f.window[i]; w < 0 {
			fp = append(fp, v*p.FP)
		} else if weighted := v * p.TP / maxTP; !hit[w] || weighted > best[w] {
			best[w], hit[w] = weighted, true
		}
	}
	c := Count{FP: len(fp), Windows: f.windows}
	parts := fp
	for w := range f.windows {
		if !f.scorable[w] {
			continue
		}
		c.Scorable++
		if hit[w] {
			c.TP++
			parts = append(parts, best[w])
		} else {
			c.FN++
			parts = append(parts, -p.FN)
		}
	}
	c.Raw = fsum(parts)
	return c
}

// fsum is the correctly rounded sum of xs (Shewchuk's algorithm, as
// Python's math.fsum), so a raw score does not depend on the order of its
// parts.
func fsum(xs []float64) float64 {
	var partials []float64
	for _, x := range xs {
		i := 0
		for _, y := range partials {
			if math.Abs(x) < math.Abs(y) {
				x, y = y, x
			}
			hi := x + y
			lo := y - (hi - x)
			if lo != 0 {
				partials[i] = lo
				i++
			}
			x = hi
		}
		partials = append(partials[:i], x)
	}
	if len(partials) == 0 {
		return 0
	}
	// Sum the partials from the top, then correct the rounding of the last
	// addition, as msum does.
	n := len(partials) - 1
	hi := partials[n]
	lo := 0.0
	for n > 0 {
		x := hi
		y := partials[n-1]
		n--
		hi = x + y
		yr := hi - x
		lo = y - yr
		if lo != 0 {
			break
		}
	}
	if n > 0 && ((lo < 0 && partials[n-1] < 0) || (lo > 0 && partials[n-1] > 0)) {
		y := lo * 2
		x := hi + y
		if yr := x - hi; y == yr {
			hi = x
		}
	}
	return hi
}
