package alerting

import (
	"math"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// AutoSizing is what the incremental evaluation of an auto rule (Evaluator)
// reads and writes per series, in stored samples: the constants of the
// evaluation and the record widths of its bursts, for the cost model of
// alert -plan (package alertplan), which must not copy them.
type AutoSizing struct {
	// StateWindow is how far back every run reads checkpoints, in
	// StateQueries queries (one per first hex digit of the fingerprint).
	StateWindow  time.Duration
	StateQueries int
	// Checkpoint is one checkpoint burst (its count included) of a state
	// not prepared for its next hour; Prepared one that is, holding the
	// prepared baseline (at most PeakRank peaks: the widest it gets).
	Checkpoint, Prepared int
	// Hour is one hour summary burst as written when an hour closes.
	Hour int
	// HoursWindow is how far back a preparation (or an hour turn) reads
	// the series' hour summaries.
	HoursWindow time.Duration
	// History is what a cold start replays; HistoryBudget bounds the
	// history samples one rule reads per run (so a cold start of many
	// series takes several runs).
	History       time.Duration
	HistoryBudget int
}

// SizeAuto is the sizing of an auto rule with detector c over data at
// resolution (the spacing of its points).
func SizeAuto(c detector.Config, resolution time.Duration) AutoSizing {
	// The residuals of the smoothing window (detector.State.Recent): the
	// points of (t−Smoothing, t], one at least.
	recent := 1
	if resolution > 0 && c.Smoothing > 0 {
		recent = max(1, int(math.Ceil(float64(c.Smoothing)/float64(resolution))))
	}
	// detector.AppendState's layout: version, flags, first, last, up,
	// down; the hour in progress; the cached baseline (its hour and ten
	// numbers); the residuals' count and (time, z) pairs. Prepared, the
	// target, points, beyond, hours and the peaks' count, the peaks, and
	// four parts of ten moments' numbers and 2·Tolerance+1 keys of three.
	// Then the decision (detector.AppendDecision) and the burst's count.
	head := 6 + detector.HourWidth + 11 + 1
	checkpoint := head + 2*recent + detector.DecisionWidth + 1
	prep := 5 + min(c.PeakRank, maxPeakRank) + 4*(10+3*(2*c.Tolerance+1))
	return AutoSizing{
		StateWindow:   RecentStateWindow,
		StateQueries:  len(stateShards),
		Checkpoint:    checkpoint,
		Prepared:      checkpoint + prep,
		Hour:          detector.HourWidth + 1,
		HoursWindow:   hoursWindow(c),
		History:       c.History(),
		HistoryBudget: DefaultHistoryBudget,
	}
}

// maxPeakRank is the detector's bound on the peaks a prepared baseline
// keeps (detector.Config.Validate refuses a larger PeakRank).
const maxPeakRank = 8
