package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/detector"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Bounds of the incremental evaluation of auto rules.
const (
	// DefaultHistoryBudget is how many samples of history one auto rule
	// reads per run, about: the raw points a cold start replays (History,
	// five weeks) and the hour summaries an hour's preparation reads (the
	// look-back, four weeks of hours). Each read is charged the samples it
	// returned, and a chunk is read only while its estimate fits what is
	// left (see chunks). A series beyond it stays insufficient data (or,
	// if it was prepared, missing for the run) until a later run reaches
	// it: never a decision from a partial history. With five weeks of
	// 1-minute points (50,400 a series), 2M samples cold-start about 40
	// series a run: 10,000 such series are all decided after about four
	// hours of one-minute runs.
	DefaultHistoryBudget = 2_000_000
	// historyChunk bounds the samples of one history query, which bounds
	// the memory a run holds at once.
	historyChunk = 250_000
	// stateWindow is how far back checkpoints are read. A series writes one
	// when its data enters a new hour (and another when the next hour is
	// prepared), so a live series always has one within RecentStateWindow,
	// which every run reads; only the series without one there (after
	// missed runs, or a gap in their data) are read back stateWindow, and
	// a series whose last checkpoint is older starts cold.
	stateWindow = 3 * time.Hour
	// RecentStateWindow is how far back every run reads checkpoints (the
	// cost model of alert -plan reads it, see AutoSizing).
	RecentStateWindow = 80 * time.Minute
)

// Evaluator evaluates the rules of one run of one deployment. Threshold
// rules are evaluated from the data alone (Evaluate); window and seasonal
// rules from the data and, with a Store, the hour summaries kept there
// (moments.go), robust rules from the checkpoints of their hourly
// baselines (robust.go). An auto rule is evaluated incrementally: each series' detector state is
// persisted in the store (Store.DetectorSeries) with the alert state, and
// each run reads the state and the raw points stored since, instead of the
// five weeks of points the detector's decision depends on.
//
// # What is persisted
//
// Per series, in the store, under the deployment, the rule and a
// fingerprint of what the state was built under (the detector's settings,
// the expression, the step: a rule whose settings change starts cold
// rather than resume a state built under others):
//
//   - a checkpoint (DetectorStateMetric): the compact detector state after
//     the first point of the series' newest hour (detector.Compact), with
//     the decision at that point. It holds the baseline of its hour and,
//     once prepared, what the next hour's baseline needs of the hours
//     before it. Written when the series' data enters a new hour, and when
//     the next hour is prepared: about twice an hour.
//   - hour summaries (DetectorHoursMetric): each hour's, once it closes.
//
// # One run
//
// At DataAt (the newest data within lookback_delta) the run reads the
// rule's checkpoints of the last RecentStateWindow (in 16 queries, by the
// fingerprint's first digit, to bound memory), and the points of the
// expression since the oldest of them, at the step grid the backtest reads
// (a subquery of SeriesQuery). A series without a checkpoint there (missed
// runs, a gap in its data) has its checkpoint looked up back stateWindow,
// and its points since read. Each series then is, by what its checkpoint
// covers:
//
//   - current: the points after its checkpoint are replayed through the
//     compact state (at most an hour of points); when they enter a new
//     hour, the closed hour's summary and a new checkpoint are persisted;
//   - turning an hour it is not prepared for (after a gap or missed runs):
//     its hour summaries are read, the state made full again
//     (detector.Restore), and the points replayed;
//   - cold (no checkpoint under this configuration): History of its points
//     is read and replayed from the first, and its summaries and a
//     checkpoint persisted.
//
// Then series whose checkpoint is not prepared for the next hour are
// prepared: their summaries read, the state restored and compacted. The
// history reads of a run (cold starts, then hour turns, then preparations,
// each in fingerprint order) are bounded by HistoryBudget; what does not
// fit waits for a later run: a cold series stays insufficient data and one
// that cannot turn its hour is missing for the run (its alert state kept),
// never decided on a partial history. Preparation is spread over the hour
// that way: the one read of four weeks of summaries per series and hour.
//
// A run costs O(series × (points since the checkpoint + checkpoint))
// samples, and O(series × look-back hours) once per hour per series,
// independently of the baseline's length in points. Every step runs the
// detector's own code on the same points in the same order, so its
// decisions are a replay's from the series' first point, to the bit
// (TestIncrementalEqualsFullReplay).
type Evaluator struct {
	Query Querier
	// Store holds the detector states; nil evaluates auto rules by a full
	// replay of History at every run (Evaluate).
	Store *Store
	// Step is the resolution of expressions that are not a plain selector
	// (the schedule interval).
	Step time.Duration
	// Scheduled is the run's scheduled time: records are read from before
	// it, and persisted at it.
	Scheduled time.Time
	// HistoryBudget bounds the history samples one auto rule reads per
	// run (and one robust rule: the points of the baselines it computes,
	// robust.go); 0 means DefaultHistoryBudget.
	HistoryBudget int
}

// Progress is what the incremental evaluation of one auto rule did, per
// series.
type Progress struct {
	// Current series were advanced from their checkpoint; Restored read
	// their hour summaries to turn an hour; Cold replayed their history;
	// Prepared read their hour summaries to prepare the next hour.
	Current  int `json:"current"`
	Restored int `json:"restored"`
	Cold     int `json:"cold"`
	Prepared int `json:"prepared"`
	// Behind series were not evaluated: the history budget ran out.
	Behind int `json:"behind"`
	// Unprepared series still wait for their next hour's preparation.
	Unprepared int `json:"unprepared"`
	// Window rules (moments.go): Summaries series were scored from their
	// hour summaries, Full series by the full path while their summaries
	// were incomplete; Summarized series-hours were summarised by the run
	// (a cold start's backfill, the hour that closed). Robust rules
	// (robust.go): Summaries series were scored from their stored
	// checkpoint, Cold had theirs computed by the run, Behind could not
	// within the budget; Prepared series-hours were computed ahead,
	// Unprepared wait for a later run.
	Summaries  int `json:"summaries,omitempty"`
	Full       int `json:"full_path,omitempty"`
	Summarized int `json:"hours_summarized,omitempty"`
}

// Add adds o to p (a run's total over its rules).
func (p *Progress) Add(o Progress) {
	p.Current += o.Current
	p.Restored += o.Restored
	p.Cold += o.Cold
	p.Prepared += o.Prepared
	p.Behind += o.Behind
	p.Unprepared += o.Unprepared
	p.Summaries += o.Summaries
	p.Full += o.Full
	p.Summarized += o.Summarized
}

// Evaluate evaluates r at at (the scheduled time less any evaluation
// delay).
func (e *Evaluator) Evaluate(ctx context.Context, r rules.Rule, at time.Time) (Evaluation, error) {
	spec := SpecOf(r)
	if e.Store == nil || spec.Detector == nil {
		return Evaluate(ctx, e.Query, r, at, e.Step)
	}
	ev := Evaluation{Rule: r, At: at, Params: *spec.Detector}
	if e.Scheduled.IsZero() {
		// Records are read from before it and persisted at it: without
		// it a run would read its own records, or none.
		return ev, errors.New("alerting: Evaluator.Scheduled is required with a Store")
	}
	switch spec.Detector.Method {
	case anomaly.MethodWindow, anomaly.MethodSeasonal, anomaly.MethodRobust:
		// Hour summaries (moments.go); robust checkpoints (robust.go).
		hs := &hourSummaries{ev: e, rule: RefOf(r), config: MomentsConfig(r.Expr, max(e.Step, time.Second))}
		out, err := evaluate(ctx, e.Query, r, at, e.Step, hs)
		out.Progress.Add(hs.progress)
		out.Persist = hs.persist
		return out, err
	case anomaly.MethodAuto:
	default:
		return Evaluate(ctx, e.Query, r, at, e.Step)
	}
	b, err := newBuilder(r.Expr, e.Step)
	if err != nil {
		return ev, err
	}
	ev2 := &evaluator{q: e.Query, at: at, ev: &ev}
	dataAt, ok := ev2.newest(ctx, b, spec.Lookback)
	if ev2.err != nil || !ok {
		return ev, ev2.err
	}
	ev.DataAt = dataAt
	d, err := detector.New(detector.FromParams(*spec.Detector))
	if err != nil {
		return ev, fmt.Errorf("anomaly: %w", err)
	}
	in := incremental{Evaluator: e, ev: &ev, b: b, d: d, rule: RefOf(r), lookback: spec.Lookback,
		config: StateConfig(d.Config(), b.expr, b.step)}
	err = in.run(ctx)
	sortObserved(ev.Series)
	return ev, err
}

// StateConfig is the fingerprint detector states are persisted under: the
// detector's settings, the expression and the step it is read at.
func StateConfig(c detector.Config, expr string, step time.Duration) string {
	sum := sha256.Sum256([]byte(c.Fingerprint() + "\x00" + strings.TrimSpace(expr) + "\x00" + step.String()))
	return hex.EncodeToString(sum[:8])
}

// need is how a series is advanced this run.
type need int

const (
	needCurrent need = iota // from its checkpoint
	needHours               // its summaries too: an hour it is not prepared for
	needCold                // its history: no checkpoint
)

// track is one series of an incremental evaluation.
type track struct {
	fp     string
	labels map[string]string
	// points are the points read since the oldest checkpoint (or, cold,
	// its history), in time order.
	points []promql.Point
	need   need
	// state and decision are the checkpoint's (when found).
	state    detector.State
	decision detector.Decision
	found    bool
	// prepare: the checkpoint this run leaves will need preparing.
	prepare bool
	// hours are the summaries read for it; read says they were.
	hours []detector.Hour
	read  bool
}

// incremental is one auto rule's incremental evaluation.
type incremental struct {
	*Evaluator
	ev       *Evaluation
	b        builder
	d        *detector.Detector
	rule     RuleRef
	config   string
	lookback time.Duration
	// budget is what is left of initial, the run's history budget.
	budget, initial int
}

func (in *incremental) run(ctx context.Context) error {
	in.budget = orDefault(in.HistoryBudget, DefaultHistoryBudget)
	in.initial = in.budget
	ev := in.ev
	states, err := in.Store.bursts(ctx, DetectorStateMetric, in.rule, in.config, nil, in.Scheduled, RecentStateWindow)
	if err != nil {
		return err
	}
	tracks, err := in.recent(ctx, states)
	if err != nil {
		return err
	}
	in.ev.Persist = &DetectorRecords{Config: in.config}

	// History reads, within the budget: cold starts, then hour turns,
	// then preparations.
	var cold, restore []*track
	for _, t := range tracks {
		switch t.need {
		case needCold:
			cold = append(cold, t)
		case needHours:
			restore = append(restore, t)
		}
	}
	for _, t := range tracks {
		if t.need == needCurrent && t.prepare {
			restore = append(restore, t)
		}
	}
	if err := in.readCold(ctx, cold); err != nil {
		return err
	}
	if err := in.readHours(ctx, restore); err != nil {
		return err
	}
	for _, t := range tracks {
		o := in.advance(t)
		ev.Series = append(ev.Series, o)
	}
	return nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// recent reads the points since the oldest checkpoint and classifies
// every series.
func (in *incremental) recent(ctx context.Context, states map[string][][]float64) ([]*track, error) {
	dataAt := in.ev.DataAt
	oldest := dataAt.Add(-in.lookback)
	decoded := make(map[string]*track, len(states))
	for fp, bursts := range states {
		t := &track{fp: fp}
		if in.decode(t, bursts[len(bursts)-1]) && !t.state.Last.After(dataAt) && t.state.Last.After(dataAt.Add(-stateWindow-time.Hour)) {
			t.found = true
			decoded[fp] = t
			if t.state.Last.Before(oldest) {
				oldest = t.state.Last
			}
		}
	}
	query := in.b.rangeOf(dataAt.Sub(oldest), 0, in.b.step)
	in.ev.Queries = append(in.ev.Queries, query)
	series, err := in.Query.QuerySeries(ctx, query, dataAt)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	var out []*track
	seen := map[string]bool{}
	for _, s := range series {
		ls := SeriesLabels(s.Labels)
		fp := Fingerprint(ls)
		if seen[fp] || len(s.Points) == 0 {
			continue
		}
		seen[fp] = true
		t := decoded[fp]
		if t == nil {
			t = &track{fp: fp, need: needCold}
		}
		t.labels = ls
		t.points = slices.SortedFunc(slices.Values(s.Points), func(a, b promql.Point) int { return a.T.Compare(b.T) })
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *track) int { return strings.Compare(a.fp, b.fp) })
	if err := in.older(ctx, out, oldest); err != nil {
		return nil, err
	}
	for _, t := range out {
		if t.found {
			in.classify(t)
		}
	}
	return out, nil
}

// classify says how a series with a checkpoint is advanced.
func (in *incremental) classify(t *track) {
	after := t.after()
	switch {
	case len(after) > 0 && !in.d.Covers(&t.state, after[len(after)-1].T):
		t.need = needHours
	case len(after) > 0 && in.d.HourOf(after[len(after)-1].T).After(t.state.Open.Start):
		// It turns an hour on its prepared baseline: the new checkpoint
		// needs the hour after prepared.
		t.prepare = true
	default:
		t.prepare = !in.d.Prepared(&t.state)
	}
}

// olderChunk is how many series one read of older checkpoints selects.
const olderChunk = 500

// older looks up, back stateWindow, the checkpoints of the series that had
// none within RecentStateWindow, and reads the points since of those it
// finds (read was from queried on).
func (in *incremental) older(ctx context.Context, ts []*track, queried time.Time) error {
	var lost []*track
	for _, t := range ts {
		if !t.found {
			lost = append(lost, t)
		}
	}
	dataAt := in.ev.DataAt
	var found []*track
	since := queried
	for start := 0; start < len(lost); start += olderChunk {
		chunk := lost[start:min(start+olderChunk, len(lost))]
		fps := make([]string, len(chunk))
		for i, t := range chunk {
			fps[i] = t.fp
		}
		got, err := in.Store.bursts(ctx, DetectorStateMetric, in.rule, in.config, fps, in.Scheduled, stateWindow)
		if err != nil {
			return err
		}
		for _, t := range chunk {
			bs := got[t.fp]
			if len(bs) == 0 || !in.decode(t, bs[len(bs)-1]) || t.state.Last.After(dataAt) || !t.state.Last.After(dataAt.Add(-stateWindow-time.Hour)) {
				t.state, t.decision = detector.State{}, detector.Decision{}
				continue
			}
			t.found, t.need = true, needCurrent
			found = append(found, t)
			since = minTime(since, t.state.Last)
		}
	}
	if len(found) == 0 || !since.Before(queried) {
		return nil
	}
	// Their points since their checkpoints: the rule's own query, for
	// those series only.
	for start := 0; start < len(found); start += olderChunk {
		chunk := found[start:min(start+olderChunk, len(found))]
		query := in.historyQuery(chunk, dataAt.Sub(since))
		in.ev.Queries = append(in.ev.Queries, query)
		series, err := in.Query.QuerySeries(ctx, query, dataAt)
		if err != nil {
			return fmt.Errorf("query %q: %w", query, err)
		}
		byFP := make(map[string]*track, len(chunk))
		for _, t := range chunk {
			byFP[t.fp] = t
		}
		for _, s := range series {
			if t := byFP[Fingerprint(SeriesLabels(s.Labels))]; t != nil && len(s.Points) > 0 {
				t.points = slices.SortedFunc(slices.Values(s.Points), func(a, b promql.Point) int { return a.T.Compare(b.T) })
				delete(byFP, t.fp)
			}
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// decode reads a checkpoint burst into t.
func (in *incremental) decode(t *track, v []float64) bool {
	if len(v) < detector.DecisionWidth {
		return false
	}
	st, err := in.d.DecodeState(v[:len(v)-detector.DecisionWidth])
	if err != nil {
		return false
	}
	dec, err := detector.DecodeDecision(v[len(v)-detector.DecisionWidth:])
	if err != nil {
		return false
	}
	t.state, t.decision = st, dec
	return true
}

// after is t's points after its checkpoint.
func (t *track) after() []promql.Point {
	i, _ := slices.BinarySearchFunc(t.points, t.state.Last, func(p promql.Point, at time.Time) int {
		if p.T.After(at) {
			return 1
		}
		return -1
	})
	return t.points[i:]
}

// chunks reads ts in order, a chunk of series at a time, while the
// history budget lasts: read reads one chunk and returns the samples it
// read, which the budget is charged. A chunk holds about historyChunk
// samples: its size starts from estimate (samples per series, an upper
// bound) and follows the samples per series read so far, so that series
// with less history than the bound are not read a few at a time. The
// series not reached stay unread (behind, for this run).
func (in *incremental) chunks(ts []*track, estimate int, read func([]*track) (int, error)) error {
	per := max(estimate, 1)
	for i := 0; i < len(ts) && in.budget > 0; {
		n := min(max(historyChunk/per, 1), len(ts)-i)
		if n*per > in.budget {
			// The first read of a run takes one series whatever its
			// estimate, so that a budget below one series' bound still
			// advances.
			n = in.budget / per
			if n == 0 && in.budget == in.initial {
				n = 1
			}
			if n == 0 {
				return nil
			}
		}
		got, err := read(ts[i : i+n])
		if err != nil {
			return err
		}
		in.budget -= got
		per = max(got/n, 1)
		i += n
	}
	return nil
}

// hoursWindow is how far back an hour's preparation (or turn) reads a
// series' hour summaries: the detector's look-back and two hours, for the
// hour in progress and the one prepared.
func hoursWindow(c detector.Config) time.Duration { return c.History() - detector.Week + 2*time.Hour }

// readHours reads the hour summaries of ts.
func (in *incremental) readHours(ctx context.Context, ts []*track) error {
	window := hoursWindow(in.d.Config())
	estimate := int(window/time.Hour) * (detector.HourWidth + 1)
	return in.chunks(ts, estimate, func(chunk []*track) (int, error) {
		fps := make([]string, len(chunk))
		for i, t := range chunk {
			fps[i] = t.fp
		}
		got, err := in.Store.bursts(ctx, DetectorHoursMetric, in.rule, in.config, fps, in.Scheduled, window)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, t := range chunk {
			t.read = true
			for _, burst := range got[t.fp] {
				n += len(burst) + 1
				hs, err := detector.DecodeHours(burst)
				if err != nil {
					continue // a burst cut short: the others stand
				}
				t.hours = append(t.hours, hs...)
			}
		}
		return n, nil
	})
}

// readCold reads History of the points of ts. The first chunk is sized as
// if each series had a point every step (or at the spacing of its recent
// points) for all of History.
func (in *incremental) readCold(ctx context.Context, ts []*track) error {
	if len(ts) == 0 {
		return nil
	}
	history := in.d.Config().History()
	spacing := in.b.step
	if pts := ts[0].points; len(pts) > 1 {
		spacing = max(pts[len(pts)-1].T.Sub(pts[0].T)/time.Duration(len(pts)-1), time.Second)
	}
	return in.chunks(ts, int(history/spacing)+1, func(chunk []*track) (int, error) {
		query := in.historyQuery(chunk, history)
		in.ev.Queries = append(in.ev.Queries, query)
		series, err := in.Query.QuerySeries(ctx, query, in.ev.DataAt)
		if err != nil {
			return 0, fmt.Errorf("query %q: %w", query, err)
		}
		byFP := make(map[string]*track, len(chunk))
		for _, t := range chunk {
			byFP[t.fp] = t
		}
		n := 0
		for _, s := range series {
			n += len(s.Points)
			t := byFP[Fingerprint(SeriesLabels(s.Labels))]
			if t == nil || t.read {
				continue
			}
			t.read = true
			t.points = slices.SortedFunc(slices.Values(s.Points), func(a, b promql.Point) int { return a.T.Compare(b.T) })
		}
		return n, nil
	})
}

// historyQuery reads length of the points of the series of chunk: the
// rule's own subquery with the series selected by their labels — added to
// a plain selector's matchers, so that the store reads nothing else, or
// else by `and on(…)`.
func (in *incremental) historyQuery(chunk []*track, length time.Duration) string {
	sets := make([]map[string]string, len(chunk))
	for i, t := range chunk {
		sets[i] = t.labels
	}
	if b, ok := in.b.only(sets); ok {
		return b.rangeOf(length, 0, b.step)
	}
	var parts []string
	for _, f := range seriesFilter(sets) {
		parts = append(parts, fmt.Sprintf("((%s) and on(%s) %s)", in.b.seriesAt(in.b.step), f.on, f.sel))
	}
	return fmt.Sprintf("(%s)[%s:%s]", strings.Join(parts, " or "), dur(max(length-time.Millisecond, time.Millisecond)), dur(in.b.step))
}

// only is b reading only the series of sets, when b's expression is a
// plain selector (its matchers narrowed, so that the store reads nothing
// else); false otherwise.
func (b builder) only(sets []map[string]string) (builder, bool) {
	vs, ok := plainSelector(b.parsed)
	if !ok {
		return b, false
	}
	names := map[string]int{}
	for _, ls := range sets {
		for k := range ls {
			names[k]++
		}
	}
	sel := &parser.VectorSelector{Name: vs.Name, LabelMatchers: slices.Clone(vs.LabelMatchers)}
	for _, k := range slices.Sorted(maps.Keys(names)) {
		if names[k] != len(sets) {
			continue
		}
		values := map[string]bool{}
		for _, ls := range sets {
			values[regexp.QuoteMeta(ls[k])] = true
		}
		m, err := labels.NewMatcher(labels.MatchRegexp, k, strings.Join(slices.Sorted(maps.Keys(values)), "|"))
		if err == nil {
			sel.LabelMatchers = append(sel.LabelMatchers, m)
		}
	}
	b.expr = sel.String()
	b.parsed = sel
	return b, true
}

// plainSelector is e's vector selector when e is one (in parentheses or
// not) that can take more matchers.
func plainSelector(e parser.Expr) (*parser.VectorSelector, bool) {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	vs, ok := e.(*parser.VectorSelector)
	return vs, ok && vs.OriginalOffset == 0 && vs.Timestamp == nil && vs.StartOrEnd == 0
}

// advance replays t and returns its observation; what it persists goes to
// in.ev.Persist.
func (in *incremental) advance(t *track) Observed {
	o := Observed{Labels: t.labels, Fingerprint: t.fp}
	behind := func() Observed {
		in.ev.Progress.Behind++
		o.Missing = true
		o.Result = anomaly.Result{Status: anomaly.StatusInsufficientData}
		return o
	}
	var (
		s      detector.State
		points []promql.Point
		// from: hours from this one on were closed by this run.
		from time.Time
	)
	switch {
	case t.need == needCold:
		if !t.read || len(t.points) == 0 {
			return behind()
		}
		in.ev.Progress.Cold++
		points = t.points
	case t.need == needHours:
		if !t.read {
			return behind()
		}
		in.ev.Progress.Restored++
		s = t.state.Clone()
		in.d.Restore(&s, t.hours)
		points, from = t.after(), t.state.Open.Start
	default:
		in.ev.Progress.Current++
		s = t.state.Clone()
		points, from = t.after(), t.state.Open.Start
	}
	dec := t.decision
	var (
		snap    *detector.State
		snapDec detector.Decision
	)
	for _, p := range points {
		before := s.Open.Start
		dec = in.d.Observe(&s, detector.Point{Time: p.T, Value: p.V})
		if !s.Open.Start.Equal(before) {
			c := s.Clone()
			snap, snapDec = &c, dec
		}
	}
	if s.Stale() {
		// Covers said otherwise: unreachable, but never persist it.
		return behind()
	}
	newest := t.points[len(t.points)-1].T
	o.Result = dec.Result
	if dec.Missing || dec.Excluded || !newest.After(in.ev.DataAt.Add(-in.lookback)) {
		o.Missing = true
		o.Result = anomaly.Result{Status: anomaly.StatusInsufficientData, Value: dec.Value}
	} else {
		d := dec
		o.Auto = &d
	}

	// What this run persists: the hours it closed, and the checkpoint it
	// leaves, prepared for the next hour when the summaries are at hand.
	next, nextDec, write := t.state, t.decision, false
	if snap != nil {
		var closed []detector.Hour
		for _, h := range snap.Hours {
			if !h.Start.Before(from) {
				closed = append(closed, h)
			}
		}
		in.persistHours(t.fp, closed)
		next, nextDec, write = *snap, snapDec, true
		if next.IsCompact() {
			next.Hours = nil
		}
		if t.read && next.IsCompact() {
			in.d.Restore(&next, slices.Concat(t.hours, closed))
		}
	} else if t.read && t.found && !in.d.Prepared(&t.state) {
		next = t.state.Clone()
		in.d.Restore(&next, t.hours)
		write = true
	}
	if !next.IsCompact() {
		if err := in.d.Compact(&next); err != nil {
			return behind()
		}
		if t.need == needCurrent && t.prepare {
			in.ev.Progress.Prepared++
		}
	}
	if !in.d.Prepared(&next) {
		in.ev.Progress.Unprepared++
	}
	if write {
		v, err := in.d.AppendState(nil, &next)
		if err == nil {
			in.ev.Persist.States = append(in.ev.Persist.States, Record{Series: t.fp, Values: detector.AppendDecision(v, nextDec)})
		}
	}
	return o
}

// persistHours adds hours to the records, in one burst: the newest that
// fit in one (a cold start of a baseline over 178 days keeps the newest
// 178 days of summaries; the rest, older, are learned again from nothing
// if the series ever needs restoring).
func (in *incremental) persistHours(fp string, hours []detector.Hour) {
	if len(hours) == 0 {
		return
	}
	hours = hours[max(0, len(hours)-(maxBurst-1)/detector.HourWidth):]
	v := make([]float64, 0, len(hours)*detector.HourWidth)
	for _, h := range hours {
		v = detector.AppendHour(v, h)
	}
	in.ev.Persist.Hours = append(in.ev.Persist.Hours, Record{Series: fp, Values: v})
}
