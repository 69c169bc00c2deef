package nab

import (
	"math"
	"slices"
)

// Result is one configuration's counts, per category and per profile
// (keyed by Profile.Short), as a sweep records it.
type Result struct {
	Name   string            `json:"name"`
	Params map[string]string `json:"params"`
	// Eligible: the configuration meets the constraints that do not come
	// from NAB's labels (zero pages on the healthy suite); only eligible
	// configurations are chosen.
	Eligible bool                        `json:"eligible"`
	Counts   map[string]map[string]Count `json:"counts"`
	// Notes carries other measurements (pages on the healthy suite).
	Notes map[string]float64 `json:"notes,omitempty"`
}

// Pooled is the configuration's count over the categories for which keep
// returns true.
func (r Result) Pooled(p Profile, keep func(category string) bool) Count {
	cats := make([]string, 0, len(r.Counts))
	for cat := range r.Counts {
		cats = append(cats, cat)
	}
	slices.Sort(cats)
	var total Count
	for _, cat := range cats {
		if keep == nil || keep(cat) {
			total = total.Add(r.Counts[cat][p.Short])
		}
	}
	return total
}

// Fold is one held-out category of a cross-validation: the configuration
// chosen on the other categories and its counts on the held-out one.
type Fold struct {
	Category string
	Chosen   int // index into the results
	Counts   map[string]Count
}

// CV is a leave-one-category-out cross-validation.
type CV struct {
	Folds []Fold
	// Total pools the held-out counts of every fold: each category scored
	// by a configuration that never saw it; normalised over the whole
	// corpus like a whole-corpus score.
	Total map[string]Count
}

// CrossValidate holds out each category in turn, chooses among the
// eligible results the one with the best objective on the other
// categories (ties: the earlier result), and pools the held-out counts.
// The objective is the mean of the standard and low-FP normalised scores:
// a sweep that chose on the standard profile alone would buy windows with
// false positives the low-FP profile, and a person paged at 3 am, would
// not accept.
func CrossValidate(results []Result, categories []string) CV {
	cv := CV{Total: map[string]Count{}}
	for _, held := range categories {
		others := func(cat string) bool { return cat != held }
		best, bestScore := -1, math.Inf(-1)
		for i, r := range results {
			if !r.Eligible {
				continue
			}
			if s := Objective(r, others); s > bestScore {
				best, bestScore = i, s
			}
		}
		f := Fold{Category: held, Chosen: best, Counts: map[string]Count{}}
		if best >= 0 {
			for _, p := range Profiles {
				f.Counts[p.Short] = results[best].Counts[held][p.Short]
				cv.Total[p.Short] = cv.Total[p.Short].Add(f.Counts[p.Short])
			}
		}
		cv.Folds = append(cv.Folds, f)
	}
	return cv
}

// Objective is what a sweep maximises: the mean of the standard and low-FP
// normalised scores over the categories keep accepts.
func Objective(r Result, keep func(string) bool) float64 {
	return (r.Pooled(Standard, keep).Normalized(Standard) + r.Pooled(LowFP, keep).Normalized(LowFP)) / 2
}
