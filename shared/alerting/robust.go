package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
// naive cost. The baseline's window ends on a whole hour, one to two hours
// back (anomaly.Params.RobustEnd), so it changes once an hour. With a
// Store (the deployed Evaluator), each series' baseline is computed once
// per hour and kept in the store as a checkpoint (DetectorStateMetric,
// under the rule and RobustConfig: the hour's end, the median, the spread,
// the count), written with the run's alert state; a run reads the
// checkpoints (16 queries, about five samples per series and hour) instead
// of the points. The next hour's baseline ends at the start of the hour in
// progress, so it is computed ahead, during the hour before it is used:
// once that hour end lies lookback_delta behind the newest data (every
// series scored has a point since, so its points up to it are stored), each
// run computes the next hour's checkpoints of the series that lack them,
// in fingerprint order, within its HistoryBudget, and the hour's work is
// spread over its runs. A series whose checkpoint for the hour in use is
// missing (a cold start, a rule whose expression or baseline changed,
// runs that could not prepare it) is computed at once, before any
// preparation; past the budget it is read as missing for the run (its
// alert state kept), never scored on part of a baseline.
//
// Without a Store (alerting.Evaluate: -dry-run's full path, tests) every
// run computes every series' baseline from its points.

// RobustChunk bounds the samples of one read of baseline points (about
// 60 MB of this process's heap while it is decoded, measured).
const RobustChunk = historyChunk

// RobustWidth is the numbers of one robust checkpoint: the end of the
// baseline's window (Unix seconds), the median, the spread (1.4826·MAD)
// and the count of points. A record holds one or two (the hour's and the
// next hour's, when one run computes both).
const RobustWidth = 4

// RobustConfig is the fingerprint a rule's robust checkpoints are kept
// under: what they are computed from (the expression, the step its
// subqueries are read at) and the baseline's length. A rule whose
// expression or baseline changes computes its checkpoints afresh.
func RobustConfig(expr string, step, baseline time.Duration) string {
	sum := sha256.Sum256([]byte("robust\x00" + strings.TrimSpace(expr) + "\x00" + step.String() + "\x00" + baseline.String()))
	return hex.EncodeToString(sum[:8])
}

// robustTarget is a series whose robust baseline is wanted.
type robustTarget struct {
	fp     string
	labels map[string]string
}

// robust returns the robust baselines of the series of current that have
// a current value, at e.at. With hs (an Evaluator with a Store) they come
// from the store's checkpoints where there are some, and what the run
// computes is persisted; a series whose baseline the run could not compute
// within its budget is marked not current in current (missing for the
// run: its state is kept).
func (e *evaluator) robust(ctx context.Context, b builder, p anomaly.Params, lookback time.Duration, current map[string]currentValue, hs *hourSummaries) map[string]anomaly.Baseline {
	end := p.RobustEnd(e.at)
	targets := make([]robustTarget, 0, len(current))
	for fp, c := range current {
		if c.ok {
			targets = append(targets, robustTarget{fp: fp, labels: c.labels})
		}
	}
	slices.SortFunc(targets, func(a, b robustTarget) int { return strings.Compare(a.fp, b.fp) })
	out := make(map[string]anomaly.Baseline, len(targets))
	if hs == nil || hs.ev.Store == nil {
		e.robustRead(ctx, b, p.Baseline, end, targets, 0, out)
		return out
	}

	ev := hs.ev
	cfg := RobustConfig(b.expr, b.step, p.Baseline)
	next := end.Add(anomaly.RobustRefresh)
	// Checkpoints of end and next are written at or after end (a run
	// stamps what it writes at its scheduled time, never before its data).
	window := ev.Scheduled.Add(-burstSpan).Sub(end) + burstSpan
	stored, err := ev.Store.bursts(ctx, DetectorStateMetric, hs.rule, cfg, nil, ev.Scheduled, max(window, time.Second))
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		return nil
	}
	have := func(fp string, at time.Time) (anomaly.Baseline, bool) {
		for _, v := range slices.Backward(stored[fp]) {
			if len(v)%RobustWidth != 0 {
				continue // not a record of robust checkpoints
			}
			for i := 0; i < len(v); i += RobustWidth {
				if c := v[i : i+RobustWidth]; c[0] == float64(at.Unix()) && c[3] >= 0 && c[3] == math.Trunc(c[3]) {
					return anomaly.Baseline{Center: c[1], Spread: c[2], N: int(c[3])}, true
				}
			}
		}
		return anomaly.Baseline{}, false
	}
	var need, prepare []robustTarget
	for _, t := range targets {
		if bl, ok := have(t.fp, end); ok {
			out[t.fp] = bl
		} else {
			need = append(need, t)
		}
		if _, ok := have(t.fp, next); !ok {
			prepare = append(prepare, t)
		}
	}
	hs.progress.Summaries += len(targets) - len(need)
	// What the run computed, one record per series (a series' two
	// checkpoints, the hour's and the next, travel in one burst).
	records := map[string][]float64{}
	keep := func(at time.Time, got map[string]anomaly.Baseline) {
		for fp, bl := range got {
			records[fp] = append(records[fp], float64(at.Unix()), bl.Center, bl.Spread, float64(bl.N))
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

	budget := orDefault(ev.HistoryBudget, DefaultHistoryBudget)
	computed := make(map[string]anomaly.Baseline, len(need))
	budget -= e.robustRead(ctx, b, p.Baseline, end, need, budget, computed)
	keep(end, computed)
	hs.progress.Cold += len(computed)
	for _, t := range need {
		if bl, ok := computed[t.fp]; ok {
			out[t.fp] = bl
			continue
		}
		// Not computed within the budget: missing for this run.
		hs.progress.Behind++
		c := current[t.fp]
		c.ok = false
		current[t.fp] = c
	}

	// The next hour's, once its window's points are stored.
	if next.After(e.at.Add(-lookback)) || e.err != nil {
		return out
	}
	prepared := make(map[string]anomaly.Baseline, len(prepare))
	if budget > 0 && len(need) == len(computed) {
		e.robustRead(ctx, b, p.Baseline, next, prepare, budget, prepared)
	}
	keep(next, prepared)
	hs.progress.Prepared += len(prepared)
	hs.progress.Unprepared += len(prepare) - len(prepared)
	return out
}

// robustRead computes the robust baselines over (end−length, end] of
// targets, in order, a chunk at a time, into out, while budget lasts (0:
// all of them); it returns the samples read. The first chunk of a run
// takes one series (its size is not known: the raw points of a plain
// selector are at the data's resolution), the next ones as many series
// as fit RobustChunk and the budget at the samples per series read so far.
func (e *evaluator) robustRead(ctx context.Context, b builder, length time.Duration, end time.Time, targets []robustTarget, budget int, out map[string]anomaly.Baseline) int {
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
		got := e.robustChunk(ctx, b, length, end, chunk, out)
		read += got
		per = max(read/(i+n), 1)
		i += n
	}
	return read
}

// robustChunk reads the points of (end−length, end] of chunk's series and
// computes their baselines into out; it returns the samples read.
func (e *evaluator) robustChunk(ctx context.Context, b builder, length time.Duration, end time.Time, chunk []robustTarget, out map[string]anomaly.Baseline) int {
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
	for _, s := range series {
		read += len(s.Points)
		fp := Fingerprint(SeriesLabels(s.Labels))
		if !want[fp] {
			continue // matched by the chunk's matchers, not one of its series
		}
		for _, pt := range s.Points {
			values[fp] = append(values[fp], pt.V)
		}
	}
	for _, t := range chunk {
		// A series without a point there has the empty baseline:
		// insufficient data, as the backtest scores it.
		out[t.fp] = anomaly.RobustBaseline(values[t.fp])
	}
	return read
}
