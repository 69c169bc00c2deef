package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
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
	// MaxRobustPoints caps the steps per series of a robust baseline's
	// subqueries (step = baseline/MaxRobustPoints): 7d at 5-minute data is
	// read point for point, finer data is downsampled. The median and MAD
	// are computed by the query engine, so this bounds Prometheus's work;
	// what this process receives is three numbers per series.
	MaxRobustPoints = 2016
	// RobustSampleBudget bounds series × steps of one robust subquery. The
	// MAD query holds about twice that many samples at once, and Prometheus
	// refuses a query over --query.max-samples (50M by default), so a rule
	// with more than RobustSampleBudget/MaxRobustPoints (about 5,000) series
	// is downsampled further: 10,000 series over 7d are read every 10 minutes
	// (1,000 steps), which estimates the median and MAD from 1,000 points.
	RobustSampleBudget = 10_000_000
	// SeasonalWindow is the width of the window taken around the same time
	// in each earlier week: long enough to hold several 5-minute points,
	// short enough that a daily ramp is compared with the same ramp.
	SeasonalWindow = time.Hour
	// SmoothingResolution is the assumed spacing of points when the current
	// value is smoothed over the last K points (CloudWatch's usual 5-minute
	// period): the last K finite points within K × this are averaged, so
	// coarser data is smoothed over fewer points.
	SmoothingResolution = 5 * time.Minute
	// minRange is the shortest range selector evaluation builds, so that a
	// computed range never collapses to zero.
	minRange = time.Minute
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
	// Sustained is the score of the longer average (the mean of the last
	// sustained_points points) against the same baseline. It is scored only
	// when the check is on and Result is OK, as in the backtest; otherwise it
	// is nil (a pointer, because the zero anomaly.Result reads as OK).
	Sustained *anomaly.Result
	// Active: a threshold rule returned the series (its condition holds).
	Active bool
}

// Evaluation is one rule evaluated at one time.
type Evaluation struct {
	Rule rules.Rule
	// Params is the anomaly maths of an anomaly rule (zero for threshold rules).
	Params anomaly.Params
	At     time.Time
	Series []Observed
	// Queries are the PromQL expressions run, in order (for logs and tests).
	Queries []string
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

// ParamsFor turns a rule's anomaly block into the maths' parameters.
// min_stddev 0 (the rules' default) becomes a tiny positive floor, which the
// maths needs to keep z finite; the relative floor does the real work.
// MinPoints is the maths' default (12 points): min_history, a duration, is
// checked separately against the age of the series.
func ParamsFor(r rules.Rule) anomaly.Params {
	a := r.Anomaly
	if a == nil {
		return anomaly.Params{}
	}
	return anomaly.Params{
		Method:             anomaly.Method(a.Method),
		Direction:          anomaly.Direction(a.Direction),
		Threshold:          a.Threshold,
		ResolveThreshold:   a.ResolveThreshold,
		MinStdDev:          max(a.MinStddev, anomaly.DefaultMinStdDev),
		MinRelativeStdDev:  a.MinRelativeStddev,
		MinPoints:          anomaly.DefaultMinPoints,
		MinSeasons:         anomaly.DefaultMinSeasons,
		SmoothingPoints:    a.Smoothing,
		Smoothing:          anomaly.SmoothingMean,
		SustainedPoints:    a.SustainedPoints,
		SustainedThreshold: a.SustainedThreshold,
	}
}

// TimingFor is the state machine's timing of a rule (its effective
// repeat_interval, as rules.File.Rules returns it).
func TimingFor(r rules.Rule) Timing {
	md := MissingDataKeep
	if r.MissingData == rules.MissingResolve {
		md = MissingDataResolve
	}
	return Timing{
		For:            time.Duration(r.For),
		KeepFiringFor:  time.Duration(r.KeepFiringFor),
		RepeatInterval: time.Duration(r.RepeatInterval),
		MissingData:    md,
	}
}

// Evaluate evaluates r at time at (the scheduled time minus any evaluation
// delay). step is the resolution of subqueries for expressions that are not
// a plain selector (the schedule interval is a good choice).
//
// Anomaly rules push the aggregation to the query engine: window and
// seasonal baselines are avg/stddev/count_over_time, so the answer is three
// numbers per series whatever the baseline length; robust baselines are
// quantile_over_time of the points and of their deviations (see robust).
func Evaluate(ctx context.Context, q Querier, r rules.Rule, at time.Time, step time.Duration) (Evaluation, error) {
	ev := Evaluation{Rule: r, At: at}
	if !r.IsAnomaly() {
		ev.Queries = append(ev.Queries, r.Expr)
		samples, err := q.Query(ctx, r.Expr, at)
		if err != nil {
			return ev, fmt.Errorf("query %q: %w", r.Expr, err)
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
	ev.Params = ParamsFor(r)
	b, err := newBuilder(r.Expr, step)
	if err != nil {
		return ev, err
	}
	e := &evaluator{q: q, at: at, ev: &ev}
	a := r.Anomaly
	gap := time.Duration(a.ExcludeRecent)
	baseline := time.Duration(a.Baseline)

	current := e.current(ctx, b, max(a.Smoothing, 1), ev.Params.Smoothing)
	var sustained map[string]currentValue
	if ev.Params.SustainedOn() {
		// The same window semantics as the smoothed value, so that a regular
		// 5-minute series averages exactly the backtest's last N points.
		sustained = e.current(ctx, b, ev.Params.SustainedPoints, anomaly.SmoothingMean)
	}
	var baselines map[string]anomaly.Baseline
	switch a.Method {
	case rules.MethodRobust:
		baselines = e.robust(ctx, b, baseline, gap, len(current))
	case rules.MethodSeasonal:
		seasons := make([]map[string]anomaly.Baseline, 0, a.Seasons)
		for k := 1; k <= a.Seasons; k++ {
			offset := time.Duration(k)*time.Duration(rules.Season) - SeasonalWindow/2
			seasons = append(seasons, e.moments(ctx, b, SeasonalWindow, offset))
		}
		baselines = pool(seasons)
	default:
		baselines = e.moments(ctx, b, baseline, gap)
	}
	// History: a point at least min_history old, within the baseline's reach.
	minHistory := time.Duration(a.MinHistory)
	reach := baseline + gap
	if a.Method == rules.MethodSeasonal {
		reach = baseline + SeasonalWindow/2
	}
	old := e.values(ctx, b.rangeExpr(max(reach-minHistory, minRange), minHistory, "count_over_time"))
	if e.err != nil {
		return ev, e.err
	}

	for fp, cur := range current {
		o := Observed{Labels: cur.labels, Fingerprint: fp}
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
		o.Result = ev.Params.Score(cur.value, bl)
		if s, ok := sustained[fp]; ok && s.ok && o.Result.OK() {
			if sr := ev.Params.Score(s.value, bl); sr.OK() {
				o.Sustained = &sr
			}
		}
		ev.Series = append(ev.Series, o)
	}
	sortObserved(ev.Series)
	return ev, nil
}

func sortObserved(s []Observed) {
	slices.SortFunc(s, func(a, b Observed) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
}

// builder writes the PromQL of one expression.
type builder struct {
	expr     string
	selector bool // a plain vector selector: ranges apply directly
	step     time.Duration
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
	selector := ok && vs.OriginalOffset == 0 && vs.Timestamp == nil && vs.StartOrEnd == 0
	return builder{expr: strings.TrimSpace(expr), selector: selector, step: max(step, time.Second)}, nil
}

// rangeOf is expr over (at-offset-length, at-offset]: a range selector for a
// plain selector, a subquery at the builder's step otherwise.
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
		s = fmt.Sprintf("(%s)[%s:%s]", b.expr, r, dur(step))
	case b.selector:
		s = fmt.Sprintf("%s[%s]", b.expr, r)
	default:
		s = fmt.Sprintf("(%s)[%s:%s]", b.expr, r, dur(b.step))
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

type currentValue struct {
	labels map[string]string
	value  float64
	ok     bool
}

// evaluator runs the queries of one rule, keeping the first error.
type evaluator struct {
	q   Querier
	at  time.Time
	ev  *Evaluation
	err error
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

func (e *evaluator) series(ctx context.Context, query string) []promql.Series {
	if e.err != nil {
		return nil
	}
	e.ev.Queries = append(e.ev.Queries, query)
	s, err := e.q.QuerySeries(ctx, query, e.at)
	if err != nil {
		e.err = fmt.Errorf("query %q: %w", query, err)
	}
	return s
}

func (e *evaluator) current(ctx context.Context, b builder, k int, how anomaly.Smoothing) map[string]currentValue {
	out := map[string]currentValue{}
	if k <= 1 {
		for _, s := range e.query(ctx, b.expr) {
			labels := SeriesLabels(s.Labels)
			out[Fingerprint(labels)] = currentValue{labels: labels, value: s.V, ok: finite(s.V)}
		}
		return out
	}
	window := time.Duration(k) * SmoothingResolution
	step := time.Duration(0)
	if !b.selector {
		step = min(b.step, SmoothingResolution)
	}
	for _, s := range e.series(ctx, b.rangeOf(window, 0, step)) {
		labels := SeriesLabels(s.Labels)
		vals := make([]float64, len(s.Points))
		for i, p := range s.Points {
			vals[i] = p.V
		}
		v, ok := anomaly.Current(vals, k, how)
		out[Fingerprint(labels)] = currentValue{labels: labels, value: v, ok: ok}
	}
	return out
}

// moments is the window baseline over (at-offset-length, at-offset] from
// PromQL's own aggregates.
func (e *evaluator) moments(ctx context.Context, b builder, length, offset time.Duration) map[string]anomaly.Baseline {
	mean := e.values(ctx, b.rangeExpr(length, offset, "avg_over_time"))
	sd := e.values(ctx, b.rangeExpr(length, offset, "stddev_over_time"))
	n := e.values(ctx, b.rangeExpr(length, offset, "count_over_time"))
	out := make(map[string]anomaly.Baseline, len(mean))
	for fp, m := range mean {
		s, okS := sd[fp]
		c, okC := n[fp]
		if !okS || !okC {
			continue
		}
		out[fp] = anomaly.BaselineFromMoments(m, s, int(c))
	}
	return out
}

func (e *evaluator) values(ctx context.Context, query string) map[string]float64 {
	samples := e.query(ctx, query)
	out := make(map[string]float64, len(samples))
	for _, s := range samples {
		out[Fingerprint(SeriesLabels(s.Labels))] = s.V
	}
	return out
}

// robust computes the median and the MAD in the query engine, so that
// only three numbers per series travel, whatever the baseline: the median
// is quantile_over_time(0.5, …) of the baseline, and the MAD the same
// quantile of |x − median| over the same steps, with the inner median pinned
// to the evaluation time by the @ modifier (a step-invariant expression the
// engine evaluates once). Both read expr through a subquery whose step keeps
// every series at or under MaxRobustPoints steps, which bounds the engine's
// work: 7d of 5-minute data is read point for point, finer data is
// downsampled. PromQL's quantile interpolates, so the median of an even
// count is the mean of the middle two, as anomaly.RobustBaseline's is.
func (e *evaluator) robust(ctx context.Context, b builder, length, offset time.Duration, series int) map[string]anomaly.Baseline {
	step := robustStep(length, series)
	window := b.rangeOf(length, offset, step)
	median := e.values(ctx, "quantile_over_time(0.5, "+window+")")
	pinned := fmt.Sprintf("quantile_over_time(0.5, %s @ %s)", b.rangeOf(length, 0, step), atSeconds(e.at.Add(-offset)))
	deviation := builder{expr: fmt.Sprintf("abs((%s) - %s)", b.expr, pinned), step: step}
	mad := e.values(ctx, "quantile_over_time(0.5, "+deviation.rangeOf(length, offset, step)+")")
	n := e.values(ctx, "count_over_time("+window+")")
	out := make(map[string]anomaly.Baseline, len(median))
	for fp, m := range median {
		d, okD := mad[fp]
		c, okC := n[fp]
		if !okD || !okC || !finite(m) || !finite(d) {
			continue
		}
		out[fp] = anomaly.Baseline{Center: m, Spread: min(madToSigma*d, math.MaxFloat64), N: int(c)}
	}
	return out
}

// madToSigma is anomaly's factor from the MAD to σ for Gaussian data; the
// tests check this evaluation against anomaly.RobustBaseline via the
// backtest, so the two cannot drift apart unnoticed.
const madToSigma = 1.4826

// robustStep is the subquery step, in whole seconds, that keeps a baseline
// of length at or under MaxRobustPoints steps per series and the rule's
// series × steps at or under RobustSampleBudget.
func robustStep(length time.Duration, series int) time.Duration {
	steps := max(min(MaxRobustPoints, RobustSampleBudget/max(series, 1)), 1)
	step := max((length+time.Duration(steps)-1)/time.Duration(steps), time.Second).Round(time.Second)
	if step*time.Duration(steps) < length {
		step += time.Second
	}
	return step
}

// atSeconds formats t for PromQL's @ modifier.
func atSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
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
		if k == model.MetricNameLabel || k == model.AlertNameLabel || k == FieldLabel || k == GroupLabel || v == "" {
			continue
		}
		out[k] = v
	}
	return out
}

// Fingerprint is a stable id of a label set, independent of map order.
func Fingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s;%d:%s;", len(k), k, len(labels[k]), labels[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Recent returns the points of expr over (at-length, at], oldest first, per
// series fingerprint: the sparkline of a notification. A plain selector
// gives its raw points, another expression is sampled every step.
func Recent(ctx context.Context, q Querier, expr string, at time.Time, length, step time.Duration) (map[string][]float64, error) {
	b, err := newBuilder(expr, step)
	if err != nil {
		return nil, err
	}
	query := b.rangeOf(length, 0, 0)
	series, err := q.QuerySeries(ctx, query, at)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	out := make(map[string][]float64, len(series))
	for _, s := range series {
		vals := make([]float64, len(s.Points))
		for i, p := range s.Points {
			vals[i] = p.V
		}
		out[Fingerprint(SeriesLabels(s.Labels))] = vals
	}
	return out, nil
}
