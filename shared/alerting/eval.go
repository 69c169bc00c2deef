package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/detector"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Querier is the part of a PromQL API that evaluation and the state store
// need; *promql.Client implements it.
type Querier interface {
	Query(ctx context.Context, query string, at time.Time) ([]promql.Sample, error)
	QuerySeries(ctx context.Context, query string, at time.Time) ([]promql.Series, error)
}

// Bounds of what one rule asks of the query engine.
const (
	// minRange is the shortest range selector evaluation builds, so that a
	// computed range never collapses to zero.
	minRange = time.Millisecond
)

// Observed is one series of one rule at one evaluation.
type Observed struct {
	// Labels are the series labels without __name__ (and without alertname,
	// which the alert sets), as PromQL aggregations return them.
	Labels      map[string]string
	Fingerprint string
	// Missing: no finite current value at this tick.
	Missing bool
	// Result is the anomaly score; for threshold rules only Value is set and
	// Status is OK.
	Result anomaly.Result
	// Latest and Median are the scores of the smoothing window's latest
	// point and median, Sustained the score of the longer average (the mean
	// of the sustained window), all against the same baseline: what
	// anomaly.Params.Holds decides on besides Result. Each is scored only
	// when Result is OK and it applies (a window longer than the latest
	// point; the check on), as in the backtest; otherwise it is nil (a
	// pointer, because the zero anomaly.Result reads as OK).
	Latest    *anomaly.Result
	Median    *anomaly.Result
	Sustained *anomaly.Result
	// Auto is the online detector's decision at the series' newest point
	// (method auto; nil otherwise): its own hysteresis is already applied.
	Auto *detector.Decision
	// Active: a threshold rule returned the series (its condition holds).
	Active bool
}

// Evaluation is one rule evaluated at one time.
type Evaluation struct {
	Rule rules.Rule
	// Params is the anomaly maths of an anomaly rule (zero for threshold rules).
	Params anomaly.Params
	// At is the time the rule was evaluated for (the scheduled time, less
	// any evaluation delay).
	At time.Time
	// DataAt is the time of the newest data an anomaly rule found within
	// its lookback, which its windows end at; zero when it found none (and
	// for threshold rules).
	DataAt time.Time
	Series []Observed
	// Queries are the PromQL expressions run, in order (for logs and tests).
	Queries []string
	// Persist is what an incremental evaluation (an auto rule evaluated by
	// an Evaluator with a Store) persists with the run's alert state, and
	// Progress how it advanced the rule's series; nil and zero otherwise.
	Persist  *DetectorRecords
	Progress Progress
}

// Insufficient counts the series scored as insufficient data.
func (e Evaluation) Insufficient() int {
	n := 0
	for _, s := range e.Series {
		if !s.Missing && !s.Active && e.Rule.IsAnomaly() && !s.Result.OK() {
			n++
		}
	}
	return n
}

// Spec is what evaluating one rule runs, deployed or replayed. SpecOf is
// the one mapping from a rule of rules.yaml to it: the deployed evaluation
// (Evaluate, Advance) and the backtest (backtest.RuleFromConfig) both take
// the detector and the timing from here, so the tuned defaults cannot drift
// between them.
//
// Where the next pieces plug in: a new detector is a field of Spec set by
// SpecOf from the rule's anomaly block (rules.Anomaly.Detector is the one
// place that reads the block), which Evaluate and the backtest dispatch on;
// an incremental evaluation (baselines kept as summaries in the store) is
// another way for Evaluate to fill the same Observed scores at the same
// DataAt, so Advance, the decision (anomaly.Params.Holds) and the
// deployed = backtest tests stay as they are.
type Spec struct {
	// Key names the rule in notification ids (RuleKey).
	Key  string
	Expr string
	// Detector is the anomaly detector; nil for a threshold rule.
	Detector *anomaly.Params
	Timing   Timing
	// Lookback is how old the newest sample of a series may be and still
	// be read as current (rules' lookback_delta).
	Lookback time.Duration
}

// SpecOf maps r (as rules.File.Rules returns it, defaults applied) to what
// evaluating it runs.
func SpecOf(r rules.Rule) Spec {
	s := Spec{Key: RuleKey(r), Expr: r.Expr, Timing: TimingFor(r), Lookback: time.Duration(r.LookbackDelta)}
	if s.Lookback <= 0 {
		s.Lookback = time.Duration(rules.DefaultLookbackDelta)
	}
	if r.Anomaly != nil {
		d := r.Anomaly.Detector()
		s.Detector = &d
	}
	return s
}

// TimingFor is the state machine's timing of a rule (its effective
// repeat_interval and missing_data_timeout, as rules.File.Rules returns
// them): the one place a rule's timing is read, so the deployed run
// (Advance) and the backtest resolve a series that stopped reporting at
// the same tick.
func TimingFor(r rules.Rule) Timing {
	md := MissingDataKeep
	if r.MissingData == rules.MissingResolve {
		md = MissingDataResolve
	}
	return Timing{
		For:                time.Duration(r.For),
		KeepFiringFor:      time.Duration(r.KeepFiringFor),
		RepeatInterval:     time.Duration(r.RepeatInterval),
		MissingData:        md,
		MissingDataTimeout: r.Timeout(),
	}
}

// Evaluate evaluates r at time at (the scheduled time minus any evaluation
// delay). step is the resolution at which expressions that are not a plain
// selector are read (the schedule interval is the right choice: the
// backtest reads them the same way).
//
// Both kinds of rule read the newest data stored, however late it landed
// and whatever the schedules' phases, instead of PromQL's 5-minute
// lookback (which, for CloudWatch data collected 15 minutes late, returns
// nothing at some phases; and which Prometheus 2 and 3 bound differently):
//
//   - a threshold rule is one instant query of its expr with every instant
//     selector read as last_over_time(selector[lookback_delta]);
//   - an anomaly rule is evaluated at DataAt, the newest time within
//     lookback_delta at which its expression has data, so its windows end
//     at the newest stored point — the very tick the backtest evaluates at
//     that point.
//
// Anomaly rules push the aggregation to the query engine: window and
// seasonal baselines are avg/stddev/count_over_time, so the answer is three
// numbers per series whatever the baseline length; robust baselines are
// the median and MAD of the points, computed here (see robust.go).
func Evaluate(ctx context.Context, q Querier, r rules.Rule, at time.Time, step time.Duration) (Evaluation, error) {
	return evaluate(ctx, q, r, at, step, nil)
}

// evaluate is Evaluate; with hs, a window rule's baseline and history
// check come from hour summaries (moments.go) where they are complete, and
// a seasonal rule's history check from its season windows first.
func evaluate(ctx context.Context, q Querier, r rules.Rule, at time.Time, step time.Duration, hs *hourSummaries) (Evaluation, error) {
	ev := Evaluation{Rule: r, At: at}
	spec := SpecOf(r)
	if spec.Detector == nil {
		query, err := ThresholdQuery(r.Expr, spec.Lookback)
		if err != nil {
			return ev, err
		}
		ev.Queries = append(ev.Queries, query)
		samples, err := q.Query(ctx, query, at)
		if err != nil {
			return ev, fmt.Errorf("query %q: %w", query, err)
		}
		seen := map[string]bool{}
		for _, s := range samples {
			labels := SeriesLabels(s.Labels)
			fp := Fingerprint(labels)
			if seen[fp] {
				continue
			}
			seen[fp] = true
			ev.Series = append(ev.Series, Observed{Labels: labels, Fingerprint: fp, Active: true,
				Result: anomaly.Result{Status: anomaly.StatusOK, Value: s.V}})
		}
		sortObserved(ev.Series)
		return ev, nil
	}
	p := *spec.Detector
	ev.Params = p
	b, err := newBuilder(r.Expr, step)
	if err != nil {
		return ev, err
	}
	e := &evaluator{q: q, at: at, ev: &ev}
	dataAt, ok := e.newest(ctx, b, spec.Lookback)
	if e.err != nil || !ok {
		// No data within the lookback: every stored series is missing.
		return ev, e.err
	}
	ev.DataAt, e.at = dataAt, dataAt
	if p.Method == anomaly.MethodAuto {
		e.auto(ctx, b, p, spec.Lookback)
		sortObserved(ev.Series)
		return ev, e.err
	}

	current := e.current(ctx, b, p.Smoothing, p.SmoothingFunc, spec.Lookback)
	var latest, median, sustained map[string]currentValue
	if p.Smoothing > 0 {
		latest = e.current(ctx, b, p.Smoothing, smoothingLatest, spec.Lookback)
		median = e.current(ctx, b, p.Smoothing, anomaly.SmoothingMedian, spec.Lookback)
	}
	if p.SustainedOn() {
		sustained = e.current(ctx, b, p.Sustained, anomaly.SmoothingMean, spec.Lookback)
	}
	var (
		baselines map[string]anomaly.Baseline
		// old counts, per series, points at least min_history old within
		// the baseline's reach; nil until known.
		old map[string]float64
	)
	switch p.Method {
	case anomaly.MethodRobust:
		// Held for the hour, from the store's checkpoints (robust.go).
		baselines, old = e.robust(ctx, b, p, spec.Lookback, current, hs)
	case anomaly.MethodSeasonal:
		seasons := make([]map[string]anomaly.Baseline, 0, p.Seasons)
		var counted []map[string]anomaly.Baseline
		for k := 1; k <= p.Seasons; k++ {
			offset := time.Duration(k)*p.Season - p.SeasonWindow/2
			m, read := e.moments(ctx, b, p.SeasonWindow, offset)
			seasons = append(seasons, m)
			if offset >= p.MinHistory && read.raw == b.raw {
				// The window lies wholly within the history check's range
				// and was read as the check reads: a point in it is one.
				counted = append(counted, m)
			}
		}
		baselines = pool(seasons)
		if hs != nil {
			old = e.seasonsOld(ctx, b, p, current, counted)
		}
	default:
		if hs != nil {
			baselines, old = hs.window(ctx, e, b, p, spec.Lookback, current)
		}
		if baselines == nil {
			baselines, _ = e.moments(ctx, b, p.Baseline, p.Gap)
		}
	}
	if old == nil {
		// History: a point at least min_history old, within the baseline's reach.
		old, _ = e.values(ctx, b, func(b builder) string {
			return b.rangeExpr(max(p.Reach()-p.MinHistory, minRange), p.MinHistory, "count_over_time")
		})
	}
	if e.err != nil {
		return ev, e.err
	}

	ev.Series = make([]Observed, 0, len(current))
	for fp, cur := range current {
		o := Observed{Labels: e.tab.labelsOf(cur.id), Fingerprint: fp}
		if !cur.ok {
			o.Missing = true
			o.Result = anomaly.Result{Status: anomaly.StatusInsufficientData, Value: cur.value}
			ev.Series = append(ev.Series, o)
			continue
		}
		bl := baselines[fp]
		if old[fp] <= 0 {
			// Too young: insufficient data whatever the point count, as the
			// backtest does.
			bl = anomaly.Baseline{}
		}
		o.Result = p.Score(cur.value, bl)
		o.Latest = scoreAlso(p, latest, fp, bl, o.Result)
		o.Median = scoreAlso(p, median, fp, bl, o.Result)
		o.Sustained = scoreAlso(p, sustained, fp, bl, o.Result)
		ev.Series = append(ev.Series, o)
	}
	sortObserved(ev.Series)
	return ev, nil
}

// scoreAlso scores a second value of series fp (the median, the sustained
// average) against the same baseline, when the current value was scored
// and the second one exists; nil otherwise.
func scoreAlso(p anomaly.Params, values map[string]currentValue, fp string, bl anomaly.Baseline, current anomaly.Result) *anomaly.Result {
	v, ok := values[fp]
	if !ok || !v.ok || !current.OK() {
		return nil
	}
	r := p.Score(v.value, bl)
	if !r.OK() {
		return nil
	}
	return &r
}

// Holds is the decision on o for an alert that was active (pending or
// firing) or not: anomaly.Params.Holds over its scores, the same call the
// backtest makes.
func (o *Observed) Holds(p anomaly.Params, wasActive bool) bool {
	if o.Auto != nil {
		// The detector replayed the series and decided, hysteresis included.
		return o.Auto.Holds
	}
	return p.Holds(anomaly.Scores{Current: o.Result, Latest: o.Latest, Median: o.Median, Sustained: o.Sustained}, wasActive)
}

func sortObserved(s []Observed) {
	slices.SortFunc(s, func(a, b Observed) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
}

// ThresholdQuery is the instant query a threshold rule runs: expr with
// every instant vector selector read as last_over_time(selector[lookback]),
// the newest sample within lookback instead of within PromQL's 5-minute
// lookback. Selectors inside range selectors and subqueries (rate(x[5m]),
// last_over_time(x[1h])) are the rule's own ranges and stay as written.
func ThresholdQuery(expr string, lookback time.Duration) (string, error) {
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return "", fmt.Errorf("expr: %w", err)
	}
	return readNewest(parsed, lookback).String(), nil
}

// SeriesQuery is what a range query (the backtest) or a subquery (the
// deployed evaluation) of a rule's expression at step reads: every instant
// selector as last_over_time(selector[step]), so each stored sample is
// read once, at the first step at or after it, instead of being repeated
// by PromQL's lookback at every step for 5 minutes; and NaN and ±Inf
// dropped (a ratio's 0/0 must not poison the aggregates). A range query of
// it at the schedule interval returns a series' points at the data's own
// resolution.
func SeriesQuery(expr string, step time.Duration) (string, error) {
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return "", fmt.Errorf("expr: %w", err)
	}
	return finiteOnly(readNewest(parsed, step).String()), nil
}

// finiteOnly drops NaN and ±Inf samples of a vector expression: NaN fails
// every comparison, and the two bounds drop the infinities.
func finiteOnly(expr string) string { return "(" + expr + ") > -Inf < +Inf" }

// readNewest rewrites every instant vector selector of e (not those of
// range selectors or subqueries) into last_over_time(selector[window]),
// the range one millisecond short (as in rangeOf) so that it is left-open
// on Prometheus 2 as on 3: a sample exactly one step old belongs to the
// previous step only. It changes e in place and returns it.
func readNewest(e parser.Expr, window time.Duration) parser.Expr {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return &parser.Call{
			Func: parser.Functions["last_over_time"],
			Args: parser.Expressions{&parser.MatrixSelector{VectorSelector: n, Range: max(window-time.Millisecond, time.Millisecond)}},
		}
	case *parser.ParenExpr:
		n.Expr = readNewest(n.Expr, window)
	case *parser.UnaryExpr:
		n.Expr = readNewest(n.Expr, window)
	case *parser.BinaryExpr:
		n.LHS, n.RHS = readNewest(n.LHS, window), readNewest(n.RHS, window)
	case *parser.AggregateExpr:
		n.Expr = readNewest(n.Expr, window)
		if n.Param != nil {
			n.Param = readNewest(n.Param, window)
		}
	case *parser.Call:
		for i := range n.Args {
			n.Args[i] = readNewest(n.Args[i], window)
		}
	case *parser.StepInvariantExpr:
		n.Expr = readNewest(n.Expr, window)
	}
	// Range selectors, subqueries and literals are read as written.
	return e
}

// builder writes the PromQL of one anomaly expression.
type builder struct {
	expr   string
	parsed parser.Expr
	// raw: a plain vector selector, whose ranges read its raw samples.
	// Otherwise ranges are subqueries of SeriesQuery at step.
	raw  bool
	step time.Duration
}

func newBuilder(expr string, step time.Duration) (builder, error) {
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return builder{}, fmt.Errorf("expr: %w", err)
	}
	inner := parsed
	for {
		p, ok := inner.(*parser.ParenExpr)
		if !ok {
			break
		}
		inner = p.Expr
	}
	vs, ok := inner.(*parser.VectorSelector)
	// A selector that already has an offset or @ cannot take another one.
	raw := ok && vs.OriginalOffset == 0 && vs.Timestamp == nil && vs.StartOrEnd == 0
	return builder{expr: strings.TrimSpace(expr), parsed: parsed, raw: raw, step: max(step, time.Second)}, nil
}

// subqueries is b reading its expression through subqueries even when it
// is a plain selector: how the evaluator drops NaN and ±Inf from a
// selector whose raw samples hold them.
func (b builder) subqueries() builder {
	b.raw = false
	return b
}

// seriesAt is SeriesQuery of b's expression at step.
func (b builder) seriesAt(step time.Duration) string {
	// The parse tree is rewritten in place: work on a fresh one.
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(b.expr)
	if err != nil {
		parsed = b.parsed // unreachable: b.expr parsed in newBuilder
	}
	return finiteOnly(readNewest(parsed, step).String())
}

// rangeOf is expr over (at-offset-length, at-offset]: a range selector over
// the raw samples of a plain selector, a subquery of SeriesQuery at step
// (b.step when step is 0) otherwise.
//
// The range is one millisecond short: Prometheus 2 includes a sample exactly
// at the left edge and Prometheus 3 does not, and with millisecond
// timestamps [at-length+1ms, at] is the left-open range on both, which is
// also what the backtest computes.
func (b builder) rangeOf(length, offset, step time.Duration) string {
	var s string
	r := dur(max(length-time.Millisecond, time.Millisecond))
	switch {
	case step > 0:
		s = fmt.Sprintf("(%s)[%s:%s]", b.seriesAt(step), r, dur(step))
	case b.raw:
		s = fmt.Sprintf("%s[%s]", b.expr, r)
	default:
		s = fmt.Sprintf("(%s)[%s:%s]", b.seriesAt(b.step), r, dur(b.step))
	}
	if offset > 0 {
		s += " offset " + dur(offset)
	}
	return s
}

func (b builder) rangeExpr(length, offset time.Duration, fn string) string {
	return fmt.Sprintf("%s(%s)", fn, b.rangeOf(length, offset, 0))
}

func dur(d time.Duration) string { return model.Duration(d).String() }

// currentValue is a series' current value; id is the series in the
// evaluator's table (labelsOf).
type currentValue struct {
	id    int32
	value float64
	ok    bool
}

// evaluator runs the queries of one rule, keeping the first error.
type evaluator struct {
	q   Querier
	at  time.Time
	ev  *Evaluation
	err error
	// tab holds the series the rule's reads answered (each).
	tab *seriesTable
}

func (e *evaluator) query(ctx context.Context, query string) []promql.Sample {
	if e.err != nil {
		return nil
	}
	e.ev.Queries = append(e.ev.Queries, query)
	s, err := e.q.Query(ctx, query, e.at)
	if err != nil {
		e.err = fmt.Errorf("query %q: %w", query, err)
	}
	return s
}

// each runs an instant query and gives fn each sample's series, interned
// in the run's table, and its value, as they are decoded: no read holds a
// label set of its own.
func (e *evaluator) each(ctx context.Context, query string, fn func(id int32, v float64)) {
	if e.err != nil {
		return
	}
	if e.tab == nil {
		e.tab = newSeriesTable()
	}
	e.ev.Queries = append(e.ev.Queries, query)
	err := queryEach(ctx, e.q, query, e.at, func(labels map[string]string, _ time.Time, v float64) {
		fn(e.tab.intern(labels), v)
	})
	if err != nil {
		e.err = fmt.Errorf("query %q: %w", query, err)
	}
}

// newest is the time of the newest sample of b's expression within
// (at−lookback, at]: a plain selector's own sample time, or the subquery
// step at which another expression last had a (finite) value.
func (e *evaluator) newest(ctx context.Context, b builder, lookback time.Duration) (time.Time, bool) {
	samples := e.query(ctx, "max("+b.newestSeries(lookback)+")")
	if len(samples) == 0 || !finite(samples[0].V) {
		return time.Time{}, false
	}
	t := time.UnixMilli(int64(math.Round(samples[0].V * 1000))).UTC()
	if !t.After(e.at.Add(-lookback)) || t.After(e.at) {
		return time.Time{}, false
	}
	return t, true
}

// values runs the aggregate build(b) and returns it per series, and the
// builder that gave it. A plain selector is read raw; when a value comes
// back NaN or ±Inf (one NaN sample poisons avg_over_time for as long as it
// is in the range), the aggregate is run again over the selector's finite
// samples (a subquery of SeriesQuery), which is what the backtest computes,
// and the returned builder reads that way from then on.
func (e *evaluator) values(ctx context.Context, b builder, build func(builder) string) (map[string]float64, builder) {
	read := func(b builder) (map[string]float64, bool) {
		out := make(map[string]float64, e.known())
		nonFinite := false
		e.each(ctx, build(b), func(id int32, v float64) {
			out[e.tab.fp(id)] = v
			nonFinite = nonFinite || !finite(v)
		})
		return out, nonFinite
	}
	out, nonFinite := read(b)
	if b.raw && nonFinite {
		b = b.subqueries()
		out, _ = read(b)
	}
	return out, b
}

// known is how many series the rule's reads answered so far: the size of
// the next read's answer, about.
func (e *evaluator) known() int {
	if e.tab == nil {
		return 0
	}
	return e.tab.len()
}

// smoothingLatest asks current for the latest point of the window.
const smoothingLatest anomaly.Smoothing = "latest"

// current is the smoothed value of every series over (at−window, at]: the
// mean, median or latest of its points there, or its latest point within
// the lookback when window is 0.
func (e *evaluator) current(ctx context.Context, b builder, window time.Duration, how anomaly.Smoothing, lookback time.Duration) map[string]currentValue {
	build := func(b builder) string {
		switch {
		case window <= 0:
			return b.rangeExpr(lookback, 0, "last_over_time")
		case how == anomaly.SmoothingMedian:
			return "quantile_over_time(0.5, " + b.rangeOf(window, 0, 0) + ")"
		case how == smoothingLatest:
			return b.rangeExpr(window, 0, "last_over_time")
		default:
			return b.rangeExpr(window, 0, "avg_over_time")
		}
	}
	read := func(b builder) (map[string]currentValue, bool) {
		out := make(map[string]currentValue, e.known())
		nonFinite := false
		e.each(ctx, build(b), func(id int32, v float64) {
			out[e.tab.fp(id)] = currentValue{id: id, value: v, ok: finite(v)}
			nonFinite = nonFinite || !finite(v)
		})
		return out, nonFinite
	}
	out, nonFinite := read(b)
	if b.raw && nonFinite {
		out, _ = read(b.subqueries())
	}
	return out
}

// moments is the window baseline over (at-offset-length, at-offset] from
// PromQL's own aggregates. The mean decides how the selector is read (see
// values): count_over_time counts NaN samples too, so all three must read
// the same samples.
//
// It returns the builder the aggregates were read with (see values).
func (e *evaluator) moments(ctx context.Context, b builder, length, offset time.Duration) (map[string]anomaly.Baseline, builder) {
	agg := func(fn string) func(builder) string {
		return func(b builder) string { return b.rangeExpr(length, offset, fn) }
	}
	mean, b := e.values(ctx, b, agg("avg_over_time"))
	sd, _ := e.values(ctx, b, agg("stddev_over_time"))
	n, _ := e.values(ctx, b, agg("count_over_time"))
	out := make(map[string]anomaly.Baseline, len(mean))
	for fp, m := range mean {
		s, okS := sd[fp]
		c, okC := n[fp]
		if !okS || !okC {
			continue
		}
		out[fp] = anomaly.BaselineFromMoments(m, s, int(c))
	}
	return out, b
}

// pool joins per-season baselines series by series.
func pool(seasons []map[string]anomaly.Baseline) map[string]anomaly.Baseline {
	byFP := map[string][]anomaly.Baseline{}
	for _, s := range seasons {
		for fp, b := range s {
			byFP[fp] = append(byFP[fp], b)
		}
	}
	out := make(map[string]anomaly.Baseline, len(byFP))
	for fp, bs := range byFP {
		out[fp] = anomaly.SeasonalBaseline(bs)
	}
	return out
}

// SeriesLabels are the labels that name a series of a rule: the result's
// labels without __name__ (PromQL's aggregations drop it, so the parts of an
// evaluation match on the rest) and without alertname, which the alert sets.
func SeriesLabels(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		if kept(k, v) {
			out[k] = v
		}
	}
	return out
}

// kept: label k=v names a rule's series (SeriesLabels).
func kept(k, v string) bool {
	return k != model.MetricNameLabel && k != model.AlertNameLabel && k != FieldLabel && k != GroupLabel && v != ""
}

// Fingerprint is a stable id of a label set, independent of map order.
func Fingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return fingerprintSorted(keys, labels)
}

// fingerprintSorted is Fingerprint of the labels named keys (sorted) of
// labels.
func fingerprintSorted(keys []string, labels map[string]string) string {
	h := sha256.New()
	var buf []byte
	for _, k := range keys {
		v := labels[k]
		buf = strconv.AppendInt(buf[:0], int64(len(k)), 10)
		buf = append(append(append(buf, ':'), k...), ';')
		buf = strconv.AppendInt(buf, int64(len(v)), 10)
		buf = append(append(append(buf, ':'), v...), ';')
		_, _ = h.Write(buf) // a hash never fails
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Recent returns the values of the given series of expr over (at-length,
// at], sampled at points evenly spaced steps, oldest first, keyed by
// fingerprint: the sparklines of a notification. Only the listed series are
// read — the query selects them by their labels — and only points of each,
// so a message listing ten series of a rule over 10,000 one-minute series
// reads ten series × points values, not 10,000 × 180.
func Recent(ctx context.Context, q Querier, expr string, at time.Time, length time.Duration, points int, series []map[string]string) (map[string][]float64, error) {
	filter := seriesFilter(series)
	if len(filter) == 0 || points <= 0 {
		return nil, nil
	}
	step := max((length / time.Duration(points)).Round(time.Second), time.Second)
	query := fmt.Sprintf("((%s) and on(%%s) %%s)", strings.TrimSpace(expr))
	var parts []string
	for _, f := range filter {
		parts = append(parts, fmt.Sprintf(query, f.on, f.sel))
	}
	q2 := fmt.Sprintf("(%s)[%s:%s]", strings.Join(parts, " or "), dur(max(length-time.Millisecond, time.Millisecond)), dur(step))
	res, err := q.QuerySeries(ctx, q2, at)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q2, err)
	}
	out := make(map[string][]float64, len(res))
	for _, s := range res {
		vals := make([]float64, len(s.Points))
		for i, p := range s.Points {
			vals[i] = p.V
		}
		out[Fingerprint(SeriesLabels(s.Labels))] = vals
	}
	return out, nil
}

// seriesMatch selects series by label set: on is the label names, sel a
// vector of those label sets (label_replace over vector(1), PromQL's only
// way to write a vector literal), for "expr and on(on) sel".
type seriesMatch struct{ on, sel string }

// seriesFilter groups series by their label names, one seriesMatch per
// group. A series with a label name PromQL cannot write unquoted is left
// out (no sparkline, not a failed message).
func seriesFilter(series []map[string]string) []seriesMatch {
	byNames := map[string][]string{}
	var order []string
	for _, ls := range series {
		names := slices.Sorted(maps.Keys(ls))
		ok := true
		for _, n := range names {
			ok = ok && model.LegacyValidation.IsValidLabelName(n)
		}
		if !ok {
			continue
		}
		sel := "vector(1)"
		for _, n := range names {
			sel = fmt.Sprintf("label_replace(%s, %q, %s, \"\", \"\")", sel, n, strconv.Quote(ls[n]))
		}
		key := strings.Join(names, ",")
		if _, seen := byNames[key]; !seen {
			order = append(order, key)
		}
		byNames[key] = append(byNames[key], sel)
	}
	out := make([]seriesMatch, 0, len(order))
	for _, key := range order {
		out = append(out, seriesMatch{on: key, sel: "(" + strings.Join(byNames[key], " or ") + ")"})
	}
	return out
}
