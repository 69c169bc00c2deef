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

// Incremental baselines of the window method (and the seasonal method's
// history check), issue 14.
//
// A window rule's baseline is the mean, σ and count of its points over
// (at−gap−length, at−gap], and its history check asks for a point in
// (at−reach, at−min_history]. Read from the raw points, every run reads the
// whole baseline four times (three aggregates and the check): 40,000
// samples per one-minute series and run for seven days. Those moments
// combine exactly (Chan et al.'s parallel update of count, mean and the
// sum of squared deviations), so the Evaluator keeps each series' hour
// moments in the store and a run reads:
//
//   - the hour summaries of the full hours inside the baseline: a stored
//     record per series and hour (DetectorHoursMetric, under the rule and
//     MomentsConfig), about five samples an hour; once warm, a checkpoint
//     of them combined instead, and the hours closed since (checkpoint.go);
//   - the moments of the two partial hours at the baseline's edges, and
//     of the hours still open for a series that reports late (those
//     ending within lookback_delta of the newest data), aggregated by the
//     store (count, avg and stddev_over_time: three numbers a series and
//     edge, where reading their points moved about 90 a series);
//
// and combines them, in time order, into the baseline the full path reads
// from PromQL's aggregates, to about 1e-15 relative (TestWindowIncrementalEqualsFull
// holds them to 1e-9 against Prometheus). The history check is answered by
// the same summaries' and edges' counts; only a series without a point
// there has the rest of the range counted (at most an hour).
//
// # Which hours are summarised, and when
//
// An hour (h, h+1h] is summarised once it ends lookback_delta before the
// newest data: every series the run scores has a point after that (it has
// one within lookback_delta), and a series' points are written in time
// order, so the hour is final for it. Only the series the run reads a
// current value of are summarised (an hour without a point is a count of
// 0); a series that stopped reporting may still be written late. Missing
// summaries (a cold start, a rule whose expression changed, a run whose
// state write was refused) are read from Prometheus's own aggregates,
// count/avg/stddev_over_time over [1h] at hour steps (one subquery each),
// newest hours first, within the run's HistoryBudget, and persisted with
// the run's alert state (DetectorSeries). Until every series the run
// scores has every hour of its baseline, the rule is evaluated by the
// full path: correct, only costlier — never a decision from part of a
// baseline.
//
// # Where the full path stays
//
// A baseline shorter than a full hour inside its settled part; a plain
// selector with a NaN or ±Inf sample in the baseline (the full path then
// reads the finite points on the step grid; so does the incremental path,
// by falling back); min_history at or beyond the baseline's reach (the
// check reads a millisecond). The robust method's median and MAD have no
// exact combination from hour summaries: its baseline is held for the
// hour and kept as a checkpoint of its own (robust.go). The seasonal method reads its season windows (an
// hour each) as before; its history check, which read the whole reach
// (three weeks), is answered by the season windows that lie inside it
// when they hold a point, and read in full only for series they don't.

// MomentsConfig is the fingerprint a rule's hour summaries are persisted
// under: what they are computed from, the expression and the step its
// subqueries are read at. The baseline's length, gap and thresholds are
// not in it: the summaries of an hour serve any of them.
func MomentsConfig(expr string, step time.Duration) string {
	sum := sha256.Sum256([]byte("moments\x00" + strings.TrimSpace(expr) + "\x00" + step.String()))
	return hex.EncodeToString(sum[:8])
}

// HourMomentsWidth is the numbers one hour summary takes in a record: the
// hour's start (Unix seconds), the count, the mean and the (population)
// standard deviation of its points.
const HourMomentsWidth = 4

// nonFiniteHour is the count recorded for an hour whose points hold NaN or
// ±Inf (a plain selector read raw; its mean is not a number a store
// takes): the full path reads such a baseline.
const nonFiniteHour = -1

// HourRecordSamples is what one series-hour of summaries takes in the
// store once warm: a burst of one hour (its count, and the hour).
const HourRecordSamples = HourMomentsWidth + 1

// WindowSplit is how an Evaluator with a Store reads a window baseline
// (Lo, Hi] at a time: the raw points of the edges (Lo, First] and
// (Settled, Hi], and the summaries of the whole hours in (First,
// Settled]; when OK is false, the full path reads it.
type WindowSplit struct {
	Lo, First, Settled, Hi time.Time
	OK                     bool
}

// SplitWindow is the split of p's baseline at at (a window rule's DataAt)
// for a rule whose lookback_delta is lookback: the hours that end
// lookback before at are settled (every series scored has a point since).
func SplitWindow(p anomaly.Params, lookback time.Duration, at time.Time) WindowSplit {
	s := WindowSplit{Lo: at.Add(-p.Gap - p.Baseline), Hi: at.Add(-p.Gap)}
	s.First = s.Lo.Truncate(time.Hour)
	if s.First.Before(s.Lo) {
		s.First = s.First.Add(time.Hour)
	}
	s.Settled = minTime(s.Hi, at.Add(-lookback)).Truncate(time.Hour)
	s.OK = s.First.Before(s.Settled)
	return s
}

// Covered is the end of the part (Lo, covered] of a window rule's history
// check, (at−reach, at−min_history], that the baseline's edges and whole
// hours answer: min_history's end, or the end of the last whole hour
// before it when it falls among them.
func (s WindowSplit) Covered(p anomaly.Params, at time.Time) time.Time {
	end := at.Add(-p.MinHistory)
	if end.After(s.First) && end.Before(s.Settled) {
		return s.First.Add(end.Sub(s.First).Truncate(time.Hour))
	}
	return minTime(end, s.Hi)
}

// Cut is the start of the edge that covered (Covered) falls inside, whose
// points up to covered the history check counts by a read of their own;
// zero when it falls inside none.
func (s WindowSplit) Cut(covered time.Time) time.Time {
	switch {
	case covered.After(s.Lo) && covered.Before(s.First):
		return s.Lo
	case covered.After(s.Settled) && covered.Before(s.Hi):
		return s.Settled
	}
	return time.Time{}
}

// summariesFrom is the oldest time a record with an hour that starts at
// first (or later) can have been written at (less a burst's span): a run
// at W summarises hours that end at most max(gap, lookback) before W.
func summariesFrom(p anomaly.Params, lookback time.Duration, first time.Time) time.Time {
	return first.Add(time.Hour + max(p.Gap, lookback) - burstSpan)
}

// moments are a count, a mean and the sum of squared deviations from it.
type moments struct{ n, mean, m2 float64 }

// combine is Chan et al.'s parallel combination of a and b: the moments of
// both sets of points together.
func (a moments) combine(b moments) moments {
	switch {
	case b.n == 0:
		return a
	case a.n == 0:
		return b
	}
	n := a.n + b.n
	d := b.mean - a.mean
	return moments{n: n, mean: a.mean + d*(b.n/n), m2: a.m2 + b.m2 + d*d*(a.n*b.n/n)}
}

// hourOf is a stored hour summary as moments.
func hourOf(n, mean, sd float64) moments {
	if n == 0 {
		return moments{}
	}
	return moments{n: n, mean: mean, m2: sd * sd * n}
}

// hourSummaries evaluates window rules from hour summaries (see above).
type hourSummaries struct {
	ev     *Evaluator
	rule   RuleRef
	config string
	// progress and persist are what the run did and summarised.
	progress Progress
	persist  *DetectorRecords
	// states are the checkpoints kept for persist, per series.
	states map[string][]float64
}

// hourStat is one stored or read hour of one series.
type hourStat struct{ n, mean, sd float64 }

// hoursOf folds the hour summaries of the whole hours of one baseline,
// series by series, as they are read: a rule of 10,000 series never holds
// its 1.7 million hour summaries at once.
type hoursOf struct {
	first int64 // Unix seconds
	hours int
	// covered: an hour that ends at or before it counts towards the
	// history check.
	covered time.Time
	// series are the series scored; a series' accumulator is made when
	// its first hour is folded (nil until then): the next hour's fold of
	// a warm run holds nothing for the series it does not read.
	series map[string]*hoursAcc
}

// hoursAcc is what one series' hours fold into.
type hoursAcc struct {
	// seen marks the hours folded (a retried run's record repeats them),
	// and those a checkpoint holds.
	seen    []uint64
	present int
	m       moments
	// old counts the points of the hours that end by covered (of the
	// hours a checkpoint holds, those of its oldest hour with a point: the
	// history check only asks whether there is one).
	old       float64
	nonFinite bool
	// oldest is the start (Unix seconds) of the oldest hour with a point,
	// and oldestN its count; oldest is -1 until there is one.
	oldest  int64
	oldestN float64
	// from is the checkpoint the series was seeded with, if any;
	// nextStored says the store holds one of the next hour's (prepared).
	from       *checkpoint
	nextStored bool
}

func newHoursOf(first time.Time, hours int, covered time.Time, scored []string) *hoursOf {
	h := &hoursOf{first: first.Unix(), hours: hours, covered: covered, series: make(map[string]*hoursAcc, len(scored))}
	for _, fp := range scored {
		h.series[fp] = nil
	}
	return h
}

// acc is series fp's accumulator, made on first use; nil when fp is not
// scored.
func (h *hoursOf) acc(fp string) *hoursAcc {
	a, ok := h.series[fp]
	if ok && a == nil {
		a = &hoursAcc{seen: make([]uint64, (h.hours+63)/64), oldest: -1}
		h.series[fp] = a
	}
	return a
}

// unread is the accumulator of a series with no hour folded.
var unread = hoursAcc{oldest: -1}

// peek is series fp's accumulator to read (unread when none was made).
func (h *hoursOf) peek(fp string) *hoursAcc {
	if a := h.series[fp]; a != nil {
		return a
	}
	return &unread
}

// seed starts series fp from checkpoint c, the combined hours of (first,
// c.End]: those hours are folded, and only the ones after are read.
func (h *hoursOf) seed(fp string, c *checkpoint) {
	if _, scored := h.series[fp]; !scored || c.Start != h.first {
		return
	}
	a := h.acc(fp)
	k := int((c.End - h.first) / 3600)
	for i := range min(k, h.hours) {
		a.seen[i/64] |= 1 << (i % 64)
	}
	a.present = min(k, h.hours)
	a.m = c.m
	a.oldest, a.oldestN = c.Oldest, c.OldestN
	if c.Oldest >= 0 && !time.Unix(c.Oldest+3600, 0).After(h.covered) {
		a.old = c.OldestN
	}
	from := *c // a copy: the checkpoints read with it are not kept
	a.from = &from
}

// add folds the hour starting at start (Unix seconds) of series fp, once.
func (h *hoursOf) add(fp string, start int64, s hourStat) {
	k := (start - h.first) / 3600
	if _, scored := h.series[fp]; !scored || (start-h.first)%3600 != 0 || k < 0 || k >= int64(h.hours) {
		return
	}
	a := h.acc(fp)
	if a.seen[k/64]&(1<<(k%64)) != 0 {
		return
	}
	a.seen[k/64] |= 1 << (k % 64)
	a.present++
	if s.n == nonFiniteHour || !finite(s.mean) || !finite(s.sd) {
		a.nonFinite = true
		return
	}
	a.m = a.m.combine(hourOf(s.n, s.mean, s.sd))
	if !time.Unix(start+3600, 0).After(h.covered) {
		a.old += s.n
	}
	if s.n > 0 && (a.oldest < 0 || start < a.oldest) {
		a.oldest, a.oldestN = start, s.n
	}
}

// complete: every hour of series fp is folded, and finite.
func (h *hoursOf) complete(fp string) bool {
	if _, scored := h.series[fp]; !scored {
		return false
	}
	a := h.peek(fp)
	return a.present == h.hours && !a.nonFinite
}

// checkpoint is series fp's combined hours, as a record.
func (h *hoursOf) checkpoint(fp string) checkpoint {
	a := h.peek(fp)
	return checkpoint{Start: h.first, End: h.first + int64(h.hours)*3600, m: a.m, Oldest: a.oldest, OldestN: a.oldestN}
}

// missing are the hour starts of the baseline some series lacks.
func (h *hoursOf) missing() []time.Time {
	var out []time.Time
	for k := range h.hours {
		for _, a := range h.series {
			if a == nil || a.seen[k/64]&(1<<(k%64)) == 0 {
				out = append(out, time.Unix(h.first+int64(k)*3600, 0).UTC())
				break
			}
		}
	}
	return out
}

// window returns the baselines and history counts of the series of
// current, or nil baselines when the full path must read them (and nil
// old when the history check must). What the run summarised goes to the
// evaluation's Persist.
func (hs *hourSummaries) window(ctx context.Context, e *evaluator, b builder, p anomaly.Params, lookback time.Duration, current map[string]currentValue) (map[string]anomaly.Baseline, map[string]float64) {
	at := e.at
	split := SplitWindow(p, lookback, at)
	if !split.OK {
		return nil, nil
	}
	lo, first, settled, hi := split.Lo, split.First, split.Settled, split.Hi
	scored := make([]string, 0, len(current))
	for fp, c := range current {
		if c.ok {
			scored = append(scored, fp)
		}
	}
	slices.Sort(scored)

	// The edges, (lo, first] and (settled, hi], aggregated by the store.
	left, okL := hs.edge(ctx, e, b, first.Sub(lo), at.Sub(first))
	right, okR := hs.edge(ctx, e, b, hi.Sub(settled), at.Sub(hi))
	if e.err != nil || !okL || !okR {
		return nil, nil
	}

	// The history check's range is (lo, end]; (lo, covered] of it is
	// answered by the edges and the whole hours.
	end := at.Add(-p.MinHistory)
	covered := split.Covered(p, at)

	// The hours: from each series' checkpoint and the hours closed since,
	// or, for the shards with a series without one, from all their stored
	// summaries; then those missing, newest first.
	k := int(settled.Sub(first) / time.Hour)
	hours := newHoursOf(first, k, covered, scored)
	next := first.Add(time.Hour)
	// The checkpoints are folded as they are read, a shard at a time: a
	// series' checkpoint of (first, …] seeds its hours, and whether the
	// next hour's is stored is all the run keeps of the others.
	since := settled.Unix()
	err := hs.checkpoints(ctx, func(fp string, cs []checkpoint) {
		if _, ok := hours.series[fp]; !ok {
			return // not scored this run
		}
		if c := best(cs, first.Unix(), settled.Unix()); c != nil {
			hours.seed(fp, c)
			since = min(since, c.End)
		}
		if best(cs, next.Unix(), settled.Unix()) != nil {
			hours.acc(fp).nextStored = true
		}
	})
	if err != nil {
		e.err = err
		return nil, nil
	}
	prep := newHoursOf(next, k-1, covered, scored)
	from := make([]time.Time, len(stateShards))
	for _, fp := range scored {
		if hours.peek(fp).from != nil {
			continue
		}
		if i := shardOf(fp); i >= 0 {
			from[i] = summariesFrom(p, lookback, first)
		}
	}
	for i := range from {
		if from[i].IsZero() && since < settled.Unix() {
			from[i] = summariesFrom(p, lookback, time.Unix(since, 0))
		}
	}
	// A shard read in full prepares the next hour's checkpoints too.
	if err := hs.storedShards(ctx, from, hours, prep); err != nil {
		e.err = err
		return nil, nil
	}
	if missing := hours.missing(); len(missing) > 0 {
		perHour := hs.perHourEstimate(b, left, right, first.Sub(lo)+hi.Sub(settled), len(current))
		hs.progress.Summarized += hs.backfill(ctx, e, b, missing, perHour, current, hours, prep)
		if e.err != nil {
			return nil, nil
		}
	}

	baselines := make(map[string]anomaly.Baseline, len(scored))
	for _, fp := range scored {
		a := hours.peek(fp)
		if !hours.complete(fp) {
			// Not yet summarised, or a NaN or ±Inf sample (the full path
			// reads the finite points instead, see values): the full
			// path reads this run.
			hs.progress.Full += len(scored)
			return nil, nil
		}
		m := left[fp].combine(a.m).combine(right[fp])
		if m.n == 0 {
			continue // no point: as avg_over_time, no baseline
		}
		baselines[fp] = anomaly.BaselineFromMoments(m.mean, math.Sqrt(m.m2/m.n), int(m.n))
	}
	for _, fp := range scored {
		a := hours.peek(fp)
		if a.from != nil {
			hs.progress.Checkpoints++
		}
		if a.from == nil || a.from.End != settled.Unix() {
			hs.keep(fp, hours.checkpoint(fp))
		}
	}
	if err := hs.prepare(ctx, p, lookback, at, next, settled, scored, hours, prep); err != nil {
		e.err = err
		return nil, nil
	}
	hs.flush()
	hs.progress.Summaries += len(scored)
	if p.MinHistory >= p.Reach() {
		return baselines, nil // the check reads a millisecond
	}

	// History: the edges' and the hours' counts by covered (an edge counts
	// whole when it ends by covered; the part of one that covered cuts is
	// counted); the rest of the range only for the series without a point
	// there.
	var partial map[string]float64
	if cut := split.Cut(covered); !cut.IsZero() {
		partial = hs.count(ctx, e, b, cut, covered)
	}
	if e.err != nil {
		return nil, nil
	}
	old := make(map[string]float64, len(scored))
	var unknown []string
	for _, fp := range scored {
		n := hours.peek(fp).old + partial[fp]
		if !covered.Before(first) {
			n += left[fp].n
		}
		if !covered.Before(hi) {
			n += right[fp].n
		}
		old[fp] = n
		if n == 0 {
			unknown = append(unknown, fp)
		}
	}
	if len(unknown) > 0 && covered.Before(end) && !e.restOfHistory(ctx, b, current, unknown, end.Sub(covered), at.Sub(end), old) {
		rest, _ := e.values(ctx, b, func(b builder) string {
			return b.rangeExpr(end.Sub(covered), at.Sub(end), "count_over_time")
		})
		for _, fp := range unknown {
			old[fp] += rest[fp]
		}
	}
	return baselines, old
}

// edge reads the moments of the points of (at−offset−length, at−offset]
// per series, aggregated by the store (count, mean and σ: three numbers a
// series, not its points); false when a plain selector's samples hold NaN
// or ±Inf there (their mean or σ is not finite), which the full path reads
// its own way.
func (hs *hourSummaries) edge(ctx context.Context, e *evaluator, b builder, length, offset time.Duration) (map[string]moments, bool) {
	if length <= 0 || e.err != nil {
		return nil, true
	}
	read := func(fn string) map[string]float64 {
		out := make(map[string]float64, e.known())
		e.each(ctx, b.rangeExpr(length, offset, fn), func(id int32, v float64) { out[e.tab.fp(id)] = v })
		return out
	}
	counts, means, sds := read("count_over_time"), read("avg_over_time"), read("stddev_over_time")
	if e.err != nil {
		return nil, false
	}
	out := make(map[string]moments, len(counts))
	for fp, n := range counts {
		mean, okM := means[fp]
		sd, okS := sds[fp]
		if !okM || !okS || !finite(mean) || !finite(sd) {
			return nil, false
		}
		out[fp] = hourOf(n, mean, sd)
	}
	return out, true
}

// count is the points of (from, to] per series.
func (hs *hourSummaries) count(ctx context.Context, e *evaluator, b builder, from, to time.Time) map[string]float64 {
	out := make(map[string]float64, e.known())
	e.each(ctx, b.rangeExpr(to.Sub(from), e.at.Sub(to), "count_over_time"), func(id int32, v float64) { out[e.tab.fp(id)] = v })
	return out
}

// perHourEstimate is the samples one hour of the rule costs to summarise
// (three aggregates over its points), from the edges' counts, or a point
// per step when they have none.
func (hs *hourSummaries) perHourEstimate(b builder, left, right map[string]moments, span time.Duration, series int) int {
	n := 0.0
	for _, m := range []map[string]moments{left, right} {
		for _, s := range m {
			n += s.n
		}
	}
	perHour := float64(series) * float64(time.Hour/b.step)
	if n > 0 && span >= 30*time.Minute {
		perHour = n / span.Hours()
	}
	return max(3*int(math.Ceil(perHour)), 1)
}

// backfill summarises the missing hours, newest first, within the run's
// history budget, into stored and the run's records; it returns the
// series-hours summarised.
func (hs *hourSummaries) backfill(ctx context.Context, e *evaluator, b builder, missing []time.Time, perHour int, current map[string]currentValue, hours ...*hoursOf) int {
	slices.SortFunc(missing, func(a, b time.Time) int { return b.Compare(a) })
	budget := orDefault(hs.ev.HistoryBudget, DefaultHistoryBudget)
	initial := budget
	records := map[string][]float64{}
	summarised := 0
	for i := 0; i < len(missing) && budget > 0; {
		// A run of consecutive hours, newest first, as long as the
		// chunk and the budget allow.
		k := 1
		for i+k < len(missing) && missing[i+k].Equal(missing[i+k-1].Add(-time.Hour)) && (k+1)*perHour <= min(historyChunk, budget) {
			k++
		}
		if k*perHour > budget && budget != initial {
			break
		}
		newest := missing[i]
		got, cost := hs.summarise(ctx, e, b, newest.Add(time.Hour), k)
		if e.err != nil {
			return summarised
		}
		budget -= cost
		for fp := range current {
			for j := range k {
				h := newest.Add(-time.Duration(j) * time.Hour).Unix()
				s := got[fp][h] // an hour without a point is a count of 0
				for _, fold := range hours {
					fold.add(fp, h, s)
				}
				if !finite(s.mean) || !finite(s.sd) {
					// Not a number a store takes: recorded as such.
					records[fp] = append(records[fp], float64(h), nonFiniteHour, 0, 0)
				} else {
					records[fp] = append(records[fp], float64(h), s.n, s.mean, s.sd)
				}
				summarised++
			}
		}
		i += k
	}
	if hs.persist == nil {
		hs.persist = &DetectorRecords{Config: hs.config}
	}
	for _, fp := range slices.Sorted(maps.Keys(records)) {
		v := records[fp]
		// The newest that fit one burst (hours are newest first).
		v = v[:min(len(v), (maxBurst-1)/HourMomentsWidth*HourMomentsWidth)]
		hs.persist.Hours = append(hs.persist.Hours, Record{Series: fp, Values: v})
	}
	return summarised
}

// summarise reads count, mean and σ of the k hours ending at end (an hour's
// start) and the k−1 before, per series and hour start, and the samples
// that cost (the points counted, three times).
func (hs *hourSummaries) summarise(ctx context.Context, e *evaluator, b builder, end time.Time, k int) (map[string]map[int64]hourStat, int) {
	// The subquery's range is whole hours, so that its steps fall on the
	// hours on every store: Prometheus aligns them to multiples of the
	// step, VictoriaMetrics to the query time less the range, and
	// Prometheus 2 includes the range's left end; only the steps at the
	// hours wanted are taken.
	span := dur(time.Duration(k) * time.Hour)
	oldest := end.Add(-time.Duration(k-1) * time.Hour)
	read := func(fn string) map[string]map[int64]float64 {
		query := fmt.Sprintf("%s(%s)[%s:1h]", fn, b.rangeOf(time.Hour, 0, 0), span)
		e.ev.Queries = append(e.ev.Queries, query)
		series, err := e.q.QuerySeries(ctx, query, end)
		if err != nil && e.err == nil {
			e.err = fmt.Errorf("query %q: %w", query, err)
		}
		out := make(map[string]map[int64]float64, len(series))
		for _, s := range series {
			fp := Fingerprint(SeriesLabels(s.Labels))
			if out[fp] == nil {
				out[fp] = map[int64]float64{}
			}
			for _, pt := range s.Points {
				if pt.T.UnixMilli()%time.Hour.Milliseconds() != 0 || pt.T.Before(oldest) || pt.T.After(end) {
					continue
				}
				// The value at an hour's end is that hour's.
				out[fp][pt.T.Add(-time.Hour).Unix()] = pt.V
			}
		}
		return out
	}
	counts, means, sds := read("count_over_time"), read("avg_over_time"), read("stddev_over_time")
	out := make(map[string]map[int64]hourStat, len(counts))
	cost := 0
	for fp, byHour := range counts {
		out[fp] = make(map[int64]hourStat, len(byHour))
		for h, n := range byHour {
			out[fp][h] = hourStat{n: n, mean: means[fp][h], sd: sds[fp][h]}
			cost += 3 * int(n)
		}
	}
	return out, cost
}

// seasonsOld answers a seasonal rule's history check from the season
// windows that lie within its range (counted): a series with a point in
// one has history. The series scored without one there have the check
// read in full, only them when the expression is a plain selector
// (restOfHistory); nil when the whole rule's check must be read.
func (e *evaluator) seasonsOld(ctx context.Context, b builder, p anomaly.Params, current map[string]currentValue, counted []map[string]anomaly.Baseline) map[string]float64 {
	old := make(map[string]float64, len(current))
	var unknown []string
	for fp, c := range current {
		if !c.ok {
			continue
		}
		for _, season := range counted {
			old[fp] += float64(season[fp].N)
		}
		if old[fp] == 0 {
			unknown = append(unknown, fp)
		}
	}
	if len(unknown) == 0 {
		return old
	}
	if !e.restOfHistory(ctx, b, current, unknown, max(p.Reach()-p.MinHistory, minRange), p.MinHistory, old) {
		return nil
	}
	return old
}

// restOfHistory adds to old the count of the points of the series unknown
// over (at−offset−length, at−offset], reading only those series when the
// expression is a plain selector; false (nothing read) when the whole
// rule's would be.
func (e *evaluator) restOfHistory(ctx context.Context, b builder, current map[string]currentValue, unknown []string, length, offset time.Duration, old map[string]float64) bool {
	slices.Sort(unknown)
	sets := make([]map[string]string, len(unknown))
	for i, fp := range unknown {
		sets[i] = e.tab.labelsOf(current[fp].id)
	}
	narrow, ok := b.only(sets)
	if !ok {
		return false
	}
	rest, _ := e.values(ctx, narrow, func(b builder) string {
		return b.rangeExpr(length, offset, "count_over_time")
	})
	for _, fp := range unknown {
		old[fp] += rest[fp]
	}
	return true
}
