package alerting

import (
	"context"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// Checkpoints of a window baseline's whole hours (issue 14).
//
// Read from hour summaries, a warm run still reads every hour of the
// baseline: 168 records of a series for seven days, 6.7 million samples
// for 10,000 series, decoded at every run, for a sum that changes twice an
// hour. So a run that folded the hours (first, settled] of a series
// persists the result, a checkpoint (DetectorStateMetric, under the rule's
// MomentsConfig): the hours' bounds, count, mean and sum of squared
// deviations, and the oldest hour with a point (the history check). A
// later run whose hours are the same reads that record instead: a handful
// of numbers per series. The hours move at two instants, which the
// checkpoint follows without a subtraction (taking an hour's moments out
// of a sum is not exact; combining them in is):
//
//   - settled moves up an hour when the newest hour closes (lookback_delta
//     after the hour): the checkpoint (first, settled] and the closed
//     hour's summary (read or summarised by the run) are combined, and
//     the new checkpoint persisted;
//   - first moves up an hour when the oldest hour leaves the baseline:
//     the run reads the checkpoint of (first+1h, …] prepared during the
//     hour before, and combines the hours closed since.
//
// Preparation rebuilds (first+1h, settled] from the hour summaries, a
// shard of series (by the fingerprint's first digit, as Store reads them)
// at a time, spread over the runs before the hour turns: a sixteenth of
// the hour summaries a run, at one-minute runs. A run that reads a shard's
// hour summaries in full (a cold start, a missing checkpoint) prepares it
// from the same read.
//
// A series whose checkpoint is missing (a refused write, missed runs, a
// rule whose baseline changed) or does not start at the run's first hour
// has its shard's hour summaries read, as before checkpoints: only its
// shard, and never a baseline from part of the hours.

// CheckpointWidth is the numbers a checkpoint takes in a record: the
// start and end of its hours (Unix seconds), the count, mean and sum of
// squared deviations of their points, and the start of the oldest hour
// with a point (-1: none) and that hour's count.
const CheckpointWidth = 7

// checkpointReach bounds how many closed hours a run combines into a
// checkpoint it reads; an older checkpoint is not used.
const checkpointReach = 6 * time.Hour

// checkpoint is the combined moments of a series' hours (Start, End].
type checkpoint struct {
	Start, End int64 // Unix seconds
	m          moments
	// Oldest is the start of the oldest hour with a point (-1: none),
	// OldestN its count.
	Oldest  int64
	OldestN float64
}

func (c checkpoint) values() []float64 {
	return []float64{float64(c.Start), float64(c.End), c.m.n, c.m.mean, c.m.m2, float64(c.Oldest), c.OldestN}
}

// checkpointsOf decodes the checkpoints of a series' bursts (oldest
// first), skipping what is not one.
func checkpointsOf(bursts [][]float64) []checkpoint {
	var out []checkpoint
	for _, v := range bursts {
		if len(v)%CheckpointWidth != 0 {
			continue
		}
		for i := 0; i < len(v); i += CheckpointWidth {
			r := v[i : i+CheckpointWidth]
			whole := r[0] == math.Trunc(r[0]) && r[1] == math.Trunc(r[1]) && r[5] == math.Trunc(r[5])
			if !whole || int64(r[0])%3600 != 0 || r[1] <= r[0] || int64(r[1])%3600 != 0 || r[2] < 0 || !finite(r[3]) || !finite(r[4]) || r[4] < 0 {
				continue
			}
			out = append(out, checkpoint{Start: int64(r[0]), End: int64(r[1]), m: moments{n: r[2], mean: r[3], m2: r[4]}, Oldest: int64(r[5]), OldestN: r[6]})
		}
	}
	return out
}

// best is the checkpoint of cs that starts at start and ends latest, by
// settled and within checkpointReach of it; nil when none does.
func best(cs []checkpoint, start, settled int64) *checkpoint {
	var out *checkpoint
	for i := range cs {
		c := &cs[i]
		if c.Start != start || c.End > settled || settled-c.End > int64(checkpointReach/time.Second) {
			continue
		}
		if out == nil || c.End > out.End {
			out = c
		}
	}
	return out
}

// shardOf is the index in stateShards of the shard fingerprint fp is read
// in.
func shardOf(fp string) int {
	if fp == "" {
		return -1
	}
	return strings.IndexByte("0123456789abcdef", fp[0])
}

// checkpoints reads the rule's checkpoints written within
// RecentStateWindow and gives f each series' (a series writes one when its
// hours move, at most an hour apart while it is evaluated, and when it is
// prepared), a shard of series at a time: the caller keeps what it needs
// of them, not all of them.
func (hs *hourSummaries) checkpoints(ctx context.Context, f func(fp string, cs []checkpoint)) error {
	return hs.ev.Store.eachBursts(ctx, DetectorStateMetric, hs.rule, hs.config, hs.ev.Scheduled, RecentStateWindow, func(fp string, bursts [][]float64) {
		if cs := checkpointsOf(bursts); len(cs) > 0 {
			f(fp, cs)
		}
	})
}

// storedShards folds the hour summaries of the shards of series into
// each of folds: those recorded since from[i] for shard i (zero: the
// shard is not read).
func (hs *hourSummaries) storedShards(ctx context.Context, from []time.Time, folds ...*hoursOf) error {
	for i, shard := range stateShards {
		if from[i].IsZero() {
			continue
		}
		window := hs.ev.Scheduled.Add(-burstSpan).Sub(from[i])
		if window <= 0 {
			continue
		}
		got, err := hs.ev.Store.burstsMatching(ctx, DetectorHoursMetric, hs.rule, hs.config, SeriesLabel+"=~"+strconv.Quote(shard), hs.ev.Scheduled, window)
		if err != nil {
			return err
		}
		for fp, bursts := range got {
			for _, h := range folds {
				foldHours(h, fp, bursts)
			}
		}
	}
	return nil
}

// foldHours folds the hour summaries of a series' bursts into hours.
func foldHours(hours *hoursOf, fp string, bursts [][]float64) {
	for _, v := range bursts {
		if len(v)%HourMomentsWidth != 0 {
			continue // not a record of hour summaries
		}
		for i := 0; i < len(v); i += HourMomentsWidth {
			h := v[i]
			switch {
			case h != math.Trunc(h):
			case v[i+1] == nonFiniteHour:
				hours.add(fp, int64(h), hourStat{n: nonFiniteHour})
			case v[i+1] >= 0:
				hours.add(fp, int64(h), hourStat{n: v[i+1], mean: v[i+2], sd: v[i+3]})
			}
		}
	}
}

// keep adds checkpoint c of series fp to what the run persists.
func (hs *hourSummaries) keep(fp string, c checkpoint) {
	if hs.states == nil {
		hs.states = map[string][]float64{}
	}
	hs.states[fp] = append(hs.states[fp], c.values()...)
}

// flush moves the checkpoints kept to the run's records: one burst a
// series (two records of a run would collide on its milliseconds).
func (hs *hourSummaries) flush() {
	if len(hs.states) == 0 {
		return
	}
	if hs.persist == nil {
		hs.persist = &DetectorRecords{Config: hs.config}
	}
	for _, fp := range slices.Sorted(maps.Keys(hs.states)) {
		hs.persist.States = append(hs.persist.States, Record{Series: fp, Values: hs.states[fp]})
	}
	hs.states = nil
}

// prepare keeps the checkpoints of (next, settled] that the series scored
// lack: from prep, where this run folded them (a shard read in full),
// and otherwise from their shards' hour summaries, as many shards as
// spread what is left over the first quarter of the runs before first
// moves up to next (at the rule's step; at least one a run). What is not
// prepared when the hour turns has its shard read in full then. hours
// says which series have the next hour's stored already (nextStored).
func (hs *hourSummaries) prepare(ctx context.Context, p anomaly.Params, lookback time.Duration, at, next, settled time.Time, scored []string, hours, prep *hoursOf) error {
	if !next.Before(settled) {
		return nil
	}
	var pending [][]string
	for range stateShards {
		pending = append(pending, nil)
	}
	waiting := 0
	for _, fp := range scored {
		switch i := shardOf(fp); {
		case hours.peek(fp).nextStored:
		case prep.complete(fp):
			hs.keep(fp, prep.checkpoint(fp))
			hs.progress.Prepared++
		case i >= 0:
			if len(pending[i]) == 0 {
				waiting++
			}
			pending[i] = append(pending[i], fp)
		}
	}
	if waiting == 0 {
		return nil
	}
	// first moves up when at−gap−baseline passes it. A rule over data
	// coarser than the schedule is evaluated at a run in a few (at the
	// data's cadence): aiming at the first quarter of the runs left
	// prepares 5-minute data in time.
	left := next.Add(-time.Hour).Add(p.Gap + p.Baseline).Sub(at)
	runs := max(int(left/max(hs.ev.Step, time.Second))/4, 1)
	shards := (waiting + runs - 1) / runs
	from := make([]time.Time, len(stateShards))
	for i := range pending {
		if len(pending[i]) > 0 && shards > 0 {
			from[i] = summariesFrom(p, lookback, next)
			shards--
		}
	}
	if err := hs.storedShards(ctx, from, prep); err != nil {
		return err
	}
	for i, fps := range pending {
		for _, fp := range fps {
			// Those not prepared are not counted as Unprepared: that
			// would evaluate the rule at every run until they are, where
			// the data's cadence skips runs.
			if !from[i].IsZero() && prep.complete(fp) {
				hs.keep(fp, prep.checkpoint(fp))
				hs.progress.Prepared++
			}
		}
	}
	return nil
}
