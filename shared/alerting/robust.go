package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// Robust baselines (issue 14): the median and MAD of every point of the
// baseline, held for the hour.
//
// The median and the MAD have no exact form in PromQL (the MAD's
// deviations need each series' median at every step of a subquery) and no
// exact combination from summaries, and computing them in the query engine
// is what made a robust rule over 10,000 series take 105 s (measured: the
// MAD's subquery with its pinned median is most of it). So the evaluation
// reads the baseline's points and computes the median and MAD here, with
// anomaly.RobustBaseline — the backtest's own maths, on the points it
// reads, exact — a chunk of series at a time (RobustChunk samples), which
// bounds this process's memory whatever the rule's size.
//
// Reading seven days of every series at every run would still be the
// naive cost. The baseline's window ends on a whole hour, two to three
// hours back (anomaly.Params.RobustEnd), so it changes once an hour. With
// a Store (the deployed Evaluator), each series' baseline is computed once
// per hour and kept in the store as a checkpoint (DetectorStateMetric,
// under the rule and RobustConfig: the hour's end, the median, the spread,
// the count, and the count of the points old enough for the history
// check), written with the run's alert state; a run reads the checkpoints
// written since the baseline's end (16 queries, a burst of six samples per
// series and hour) instead of the points, and its history check from them.
// The next hours' windows end before the hour in progress, so they are
// computed ahead, during the 90 minutes before they are used: once a
// window's end lies lookback_delta behind the newest data (every series
// scored has a point since, so its points up to it are stored), each run
// computes the checkpoints of the series that lack them, in fingerprint
// order, within its HistoryBudget, and an hour's work (20 million points
// for 10,000 series of 5-minute data over seven days) is spread over about
// ten runs. While series are behind or unprepared, EvaluateAtCadence
// evaluates the rule at the next run whatever its data's cadence, as it
// does for auto rules. A series whose checkpoint for the hour in
// use is missing (a cold start, a rule whose expression or baseline
// changed, runs that could not prepare it) is computed at once, before any
// preparation; past the budget it is read as missing for the run (its
// alert state kept), never scored on part of a baseline.
//
// Without a Store (alerting.Evaluate: -dry-run's full path, tests) every
// run computes every series' baseline from its points.

// RobustChunk bounds the samples of one read of baseline points (about
// 60 MB of this process's heap while it is decoded, measured).
const RobustChunk = historyChunk

// RobustWidth is the numbers of one robust checkpoint: the end of the
// baseline's window (Unix seconds), the median, the spread (1.4826·MAD),
// the count of points, and the count of those at least min_history old
// at every evaluation that uses it (the history check). A record holds a
// series' checkpoints computed by one run (the hour's and the next ones').
const RobustWidth = 5

// RobustConfig is the fingerprint a rule's robust checkpoints are kept
// under: what they are computed from (the expression, the step its
// subqueries are read at), the baseline's length, and the gap and
// min_history their history counts depend on. A rule whose expression or
// baseline changes computes its checkpoints afresh.
func RobustConfig(expr string, step time.Duration, p anomaly.Params) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("robust\x00%s\x00%s\x00%s\x00%s\x00%s", strings.TrimSpace(expr), step, p.Baseline, p.Gap, p.MinHistory)))
	return hex.EncodeToString(sum[:8])
}

// robustTarget is a series whose robust baseline is wanted.
type robustTarget struct {
	fp     string
	labels map[string]string
}

// robustCheckpoint is one series' baseline for one hour: the baseline, and
// how many of its points are at least min_history old at every evaluation
// that uses it (old > 0 answers the history check).
type robustCheckpoint struct {
	bl  anomaly.Baseline
	old float64
}

// robust returns the robust baselines of the series of current that have
// a current value, at e.at, and, with hs (an Evaluator with a Store), the
// history check of those whose checkpoint answers it (nil: the check
// reads). With hs they come from the store's checkpoints where there are
// some, and what the run computes is persisted; a series whose baseline
// the run could not compute within its budget is marked not current in
// current (missing for the run: its state is kept).
func (e *evaluator) robust(ctx context.Context, b builder, p anomaly.Params, lookback time.Duration, current map[string]currentValue, hs *hourSummaries) (map[string]anomaly.Baseline, map[string]float64) {
	end := p.RobustEnd(e.at)
	targets := make([]robustTarget, 0, len(current))
	for fp, c := range current {
		if c.ok {
			targets = append(targets, robustTarget{fp: fp, labels: e.tab.labelsOf(c.id)})
		}
	}
	slices.SortFunc(targets, func(a, b robustTarget) int { return strings.Compare(a.fp, b.fp) })
	out := make(map[string]anomaly.Baseline, len(targets))
	if hs == nil || hs.ev.Store == nil {
		got := map[string]robustCheckpoint{}
		e.robustRead(ctx, b, p, end, targets, 0, got)
		for fp, c := range got {
			out[fp] = c.bl
		}
		return out, nil
	}

	ev := hs.ev
	cfg := RobustConfig(b.expr, b.step, p)
	// Checkpoints of end and after are written at or after end (a run
	// stamps what it writes at its scheduled time, never before its data).
	window := ev.Scheduled.Sub(end)
	stored, err := ev.Store.bursts(ctx, DetectorStateMetric, hs.rule, cfg, nil, ev.Scheduled, max(window, time.Second))
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		return nil, nil
	}
	have := func(fp string, at time.Time) (robustCheckpoint, bool) {
		for _, v := range slices.Backward(stored[fp]) {
			if len(v)%RobustWidth != 0 {
				continue // not a record of robust checkpoints
			}
			for i := 0; i < len(v); i += RobustWidth {
				if c := v[i : i+RobustWidth]; c[0] == float64(at.Unix()) && c[3] >= 0 && c[3] == math.Trunc(c[3]) {
					return robustCheckpoint{bl: anomaly.Baseline{Center: c[1], Spread: c[2], N: int(c[3])}, old: c[4]}, true
				}
			}
		}
		return robustCheckpoint{}, false
	}

	// What the run computes, one record per series (the checkpoints of
	// one series travel in one burst).
	records := map[string][]float64{}
	keep := func(at time.Time, got map[string]robustCheckpoint) {
		for fp, c := range got {
			records[fp] = append(records[fp], float64(at.Unix()), c.bl.Center, c.bl.Spread, float64(c.bl.N), c.old)
		}
	}
	defer func() {
		if hs.persist == nil {
			hs.persist = &DetectorRecords{Config: cfg}
		}
		for _, t := range targets {
			if v, ok := records[t.fp]; ok {
				hs.persist.States = append(hs.persist.States, Record{Series: t.fp, Values: v})
			}
		}
	}()

	// The hour's baselines: stored, or computed now.
	checkpoints := make(map[string]robustCheckpoint, len(targets))
	var need []robustTarget
	for _, t := range targets {
		if c, ok := have(t.fp, end); ok {
			checkpoints[t.fp] = c
		} else {
			need = append(need, t)
		}
	}
	hs.progress.Summaries += len(checkpoints)
	budget := orDefault(ev.HistoryBudget, DefaultHistoryBudget)
	computed := make(map[string]robustCheckpoint, len(need))
	budget -= e.robustRead(ctx, b, p, end, need, budget, computed)
	keep(end, computed)
	hs.progress.Cold += len(computed)
	maps.Copy(checkpoints, computed)
	for _, t := range need {
		if _, ok := computed[t.fp]; !ok {
			// Not computed within the budget: missing for this run.
			hs.progress.Behind++
			c := current[t.fp]
			c.ok = false
			current[t.fp] = c
		}
	}
	old := make(map[string]float64, len(checkpoints))
	var unknown []string
	for fp, c := range checkpoints {
		out[fp], old[fp] = c.bl, c.old
		if c.old <= 0 {
			unknown = append(unknown, fp)
		}
	}
	if len(unknown) > 0 && !e.restOfHistory(ctx, b, current, unknown, max(p.Reach()-p.MinHistory, minRange), p.MinHistory, old) {
		old = nil // the whole rule's check reads
	}

	// The next hours', once their windows' points are stored (every
	// series scored has a point lookback_delta or less before e.at).
	for next := end.Add(anomaly.RobustRefresh); !next.After(e.at.Add(-lookback)) && e.err == nil; next = next.Add(anomaly.RobustRefresh) {
		var prepare []robustTarget
		for _, t := range targets {
			if _, ok := have(t.fp, next); !ok && current[t.fp].ok {
				prepare = append(prepare, t)
			}
		}
		prepared := make(map[string]robustCheckpoint, len(prepare))
		if budget > 0 && len(need) == len(computed) {
			budget -= e.robustRead(ctx, b, p, next, prepare, budget, prepared)
		}
		keep(next, prepared)
		hs.progress.Prepared += len(prepared)
		hs.progress.Unprepared += len(prepare) - len(prepared)
	}
	return out, old
}

// robustRead computes the robust baselines over (end−length, end] of
// targets, in order, a chunk at a time, into out, while budget lasts (0:
// all of them); it returns the samples read. The first chunk of a run
// takes one series (its size is not known: the raw points of a plain
// selector are at the data's resolution), the next ones as many series
// as fit RobustChunk and the budget at the samples per series read so far.
func (e *evaluator) robustRead(ctx context.Context, b builder, p anomaly.Params, end time.Time, targets []robustTarget, budget int, out map[string]robustCheckpoint) int {
	read, per := 0, 0
	for i := 0; i < len(targets) && e.err == nil; {
		n := 1
		if per > 0 {
			n = max(RobustChunk/per, 1)
			if budget > 0 {
				n = min(n, (budget-read)/per)
			}
		}
		n = min(n, len(targets)-i)
		if n <= 0 || (budget > 0 && read >= budget) {
			break
		}
		chunk := targets[i : i+n]
		got := e.robustChunk(ctx, b, p, end, chunk, out)
		read += got
		per = max(read/(i+n), 1)
		i += n
	}
	return read
}

// robustChunk reads the points of (end−baseline, end] of chunk's series and
// computes their checkpoints into out; it returns the samples read.
func (e *evaluator) robustChunk(ctx context.Context, b builder, p anomaly.Params, end time.Time, chunk []robustTarget, out map[string]robustCheckpoint) int {
	length := p.Baseline
	// A point at or before oldBy is min_history old at every evaluation
	// whose baseline ends at end (RobustEnd: at least RobustLag and gap).
	oldBy := end.Add(anomaly.RobustLag + p.Gap - p.MinHistory)
	sets := make([]map[string]string, len(chunk))
	want := make(map[string]bool, len(chunk))
	for i, t := range chunk {
		sets[i], want[t.fp] = t.labels, true
	}
	var query string
	if nb, ok := b.only(sets); ok {
		query = nb.rangeOf(length, 0, 0)
	} else {
		var parts []string
		for _, f := range seriesFilter(sets) {
			parts = append(parts, fmt.Sprintf("((%s) and on(%s) %s)", b.seriesAt(b.step), f.on, f.sel))
		}
		query = fmt.Sprintf("(%s)[%s:%s]", strings.Join(parts, " or "), dur(max(length-time.Millisecond, time.Millisecond)), dur(b.step))
	}
	e.ev.Queries = append(e.ev.Queries, query)
	series, err := e.q.QuerySeries(ctx, query, end)
	if err != nil {
		if e.err == nil {
			e.err = fmt.Errorf("query %q: %w", query, err)
		}
		return 0
	}
	read := 0
	values := map[string][]float64{}
	old := map[string]float64{}
	for _, s := range series {
		read += len(s.Points)
		fp := Fingerprint(SeriesLabels(s.Labels))
		if !want[fp] {
			continue // matched by the chunk's matchers, not one of its series
		}
		for _, pt := range s.Points {
			values[fp] = append(values[fp], pt.V)
			if !pt.T.After(oldBy) {
				old[fp]++
			}
		}
	}
	for _, t := range chunk {
		// A series without a point there has the empty baseline:
		// insufficient data, as the backtest scores it.
		out[t.fp] = robustCheckpoint{bl: anomaly.RobustBaseline(values[t.fp]), old: old[t.fp]}
	}
	return read
}
