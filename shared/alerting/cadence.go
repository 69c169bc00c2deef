package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Evaluating at the data's cadence (issue 14). An anomaly rule is
// evaluated at DataAt, the time of its newest data, and every window it
// reads ends there: at a tick where no series of the rule has a new point,
// a full evaluation gives the previous one's scores again. Of a rule over
// 5-minute data evaluated every minute, four ticks of five are such
// re-reads of the whole baseline. A run skips them:
//
//   - the probe every anomaly evaluation starts with (the newest data
//     within lookback_delta) is asked per series, and the newest time of
//     each series, with the rule's expression and detector settings, is
//     hashed into the rule's data mark ([Mark]). It changes when any series
//     gets a point (late data for one series among others included), when
//     one enters or leaves the lookback, or when the rule is edited;
//   - each run persists each rule's mark (RuleDataMetric) in the request
//     that persists its alert state; a run whose probe gives the mark the
//     previous persisted run left skips the rule's evaluation, and on
//     evaluated runs the probe's answer is reused, so it costs nothing
//     extra;
//   - the skipped rule's state machine still runs, at the run's own
//     scheduled time, on the observations the previous run had, which
//     its persisted states give ([Replay]): `for`, keep_firing_for,
//     repeat_interval and the missing-data timeout keep their timing. A
//     run where the replay would send a message evaluates the rule
//     (alertengine), so that the message gives each series' baseline and
//     z, which the states do not keep.
//
// Threshold rules are never skipped: their one query reads the lookback,
// about what the probe itself reads, so there is nothing to save.
const (
	// RuleDataMetric is a rule's data mark (field "data") and the scheduled
	// time of the run that wrote it (field "run", Unix seconds), under the
	// rule's alertname and group.
	RuleDataMetric = "sigmawatch_alert_rule_data"
	fieldData      = "data"
	fieldRun       = "run"
)

// Mark identifies the data an anomaly rule's evaluation reads: a hash of
// the rule's evaluation settings and of the newest time of each of its
// series within lookback_delta. Zero is no mark: the rule is evaluated.
type Mark float64

// EvaluateAtCadence is Evaluate, except that an anomaly rule whose data
// mark is prev (the previous run's) is not evaluated: skipped is true and
// the Evaluation has only the probe. The returned mark is the rule's now;
// it is zero, so that the next run evaluates the rule, for a threshold
// rule, a rule without data within its lookback, a failed evaluation, and
// an auto or robust rule whose series are not all decided and prepared (a
// cold start or an hour's preparation spread over several runs must go
// on).
func (e *Evaluator) EvaluateAtCadence(ctx context.Context, r rules.Rule, at time.Time, prev Mark) (ev Evaluation, mark Mark, skipped bool, err error) {
	spec := SpecOf(r)
	if spec.Detector == nil {
		ev, err = e.Evaluate(ctx, r, at)
		return ev, 0, false, err
	}
	b, err := newBuilder(r.Expr, e.Step)
	if err != nil {
		return Evaluation{Rule: r, At: at}, 0, false, err
	}
	probe := b.newestSeries(spec.Lookback)
	samples, err := e.Query.Query(ctx, probe, at)
	if err != nil {
		return Evaluation{Rule: r, At: at}, 0, false, fmt.Errorf("query %q: %w", probe, err)
	}
	mark, newest := dataMark(r, *spec.Detector, b, spec.Lookback, at, samples)
	if mark != 0 && mark == prev {
		return Evaluation{Rule: r, At: at, Params: *spec.Detector, DataAt: newest, Queries: []string{probe}}, mark, true, nil
	}
	// The evaluation's own probe is this one's maximum: answered here.
	var answer []promql.Sample
	if !newest.IsZero() {
		answer = []promql.Sample{{Labels: map[string]string{}, T: at, V: float64(newest.UnixMilli()) / 1000}}
	}
	ee := *e
	ee.Query = probed{Querier: e.Query, query: "max(" + probe + ")", at: at, answer: answer}
	ev, err = ee.Evaluate(ctx, r, at)
	if err != nil || ev.Progress.Behind > 0 || ev.Progress.Unprepared > 0 {
		mark = 0
	}
	return ev, mark, false, err
}

// probed answers one query, the probe, from what was already read.
type probed struct {
	Querier
	query  string
	at     time.Time
	answer []promql.Sample
}

func (p probed) Query(ctx context.Context, query string, at time.Time) ([]promql.Sample, error) {
	if query == p.query && at.Equal(p.at) {
		return p.answer, nil
	}
	return p.Querier.Query(ctx, query, at)
}

// QueryEach is Query's answer, or the querier's own QueryEach (queryEach):
// the probe must not cost the reads after it their sample by sample read.
func (p probed) QueryEach(ctx context.Context, query string, at time.Time, fn func(labels map[string]string, t time.Time, v float64)) error {
	if query == p.query && at.Equal(p.at) {
		for _, s := range p.answer {
			fn(s.Labels, s.T, s.V)
		}
		return nil
	}
	return queryEach(ctx, p.Querier, query, at, fn)
}

// newestSeries is the time of the newest sample of b's expression within
// (at−lookback, at], per series: a plain selector's own sample time, or
// the subquery step at which another expression last had a (finite)
// value. Its max is the evaluation's DataAt (evaluator.newest).
func (b builder) newestSeries(lookback time.Duration) string {
	inner := b.expr
	if !b.raw {
		inner = b.seriesAt(b.step)
	}
	r := dur(max(lookback-time.Millisecond, time.Millisecond))
	return fmt.Sprintf("max_over_time(timestamp(%s)[%s:%s])", inner, r, dur(b.step))
}

// dataMark hashes what an evaluation at at reads: the rule's expression,
// step, lookback and detector settings, and each series' newest time. It
// returns zero (and no time) when no series has data within the lookback,
// which the evaluation finds as cheaply as the probe does.
func dataMark(r rules.Rule, p anomaly.Params, b builder, lookback time.Duration, at time.Time, samples []promql.Sample) (Mark, time.Time) {
	type seen struct {
		fp string
		ms int64
	}
	var all []seen
	var newest time.Time
	for _, s := range samples {
		if !finite(s.V) {
			continue
		}
		t := time.UnixMilli(int64(math.Round(s.V * 1000))).UTC()
		if !t.After(at.Add(-lookback)) || t.After(at) {
			continue
		}
		all = append(all, seen{Fingerprint(SeriesLabels(s.Labels)), t.UnixMilli()})
		if t.After(newest) {
			newest = t
		}
	}
	if len(all) == 0 {
		return 0, time.Time{}
	}
	slices.SortFunc(all, func(a, b seen) int { return strings.Compare(a.fp, b.fp) })
	h := sha256.New()
	for _, f := range []string{strings.TrimSpace(r.Expr), b.step.String(), lookback.String(), fmt.Sprintf("%#v", p)} {
		_, _ = fmt.Fprintf(h, "%d:%s;", len(f), f) // a hash never fails to write
	}
	for _, s := range all {
		_, _ = fmt.Fprintf(h, "%s=%d;", s.fp, s.ms)
	}
	// 52 bits, so the mark survives the store's float64 exactly; never 0.
	v := binary.BigEndian.Uint64(h.Sum(nil)[:8])>>12 | 1
	return Mark(v), newest
}

// Replay is Advance for a rule whose evaluation the run at at skipped
// because its data did not change since the run at last: each stored
// series is stepped at at with what the evaluation at last observed, as
// its state recorded it. A series whose state has data at last (LastDataAt)
// held its condition if it is pending, or firing and not only kept firing
// by keep_firing_for; its value and z are the recorded ones. Any other
// stored series was missing. A series without a stored state was inactive
// and did not hold, and with the same scores stays so.
//
// This is what Advance gives on the full evaluation, because an anomaly
// evaluation at an unchanged DataAt gives the same scores, and
// hysteresis only eases holding for an active alert (the resolve
// threshold is at most the threshold): a condition that held for an
// alert that was inactive holds for it pending, one that did not hold for
// an active alert does not hold once it is inactive. Outcomes have no
// Observed (nothing was evaluated); they are sorted by fingerprint.
func Replay(r rules.Rule, prev map[string]Stored, last, at time.Time) []Outcome {
	tm := TimingFor(r)
	out := make([]Outcome, 0, len(prev))
	for _, fp := range slices.Sorted(maps.Keys(prev)) {
		st := prev[fp]
		key := Key{Rule: RuleKey(r), Fingerprint: fp}
		obs := Observation{Missing: true}
		if st.State.LastDataAt.Equal(last) {
			held := st.State.State == StatePending || (st.State.State == StateFiring && st.State.KeepFiringSince.IsZero())
			obs = Observation{Holds: held, Value: st.State.LastValue, Z: st.State.LastZ}
		}
		next, n := Step(key, st.State, obs, at, tm)
		next = withSeverity(r, st.Labels, st.State, next)
		out = append(out, Outcome{Key: key, Labels: st.Labels, Prev: st.State, Next: next, Notification: n})
	}
	return out
}

// MarkSeries are rule's data mark, stamped at the run's scheduled time at.
func (s *Store) MarkSeries(at time.Time, rule RuleRef, m Mark) []remotewrite.Series {
	if m == 0 {
		return nil
	}
	one := func(field string, v float64) remotewrite.Series {
		return remotewrite.Series{Labels: []remotewrite.Label{
			{Name: model.MetricNameLabel, Value: RuleDataMetric},
			{Name: model.AlertNameLabel, Value: rule.Alert},
			{Name: FieldLabel, Value: field},
			{Name: GroupLabel, Value: rule.Group},
			{Name: config.DeploymentLabel, Value: s.deployment},
		}, Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: v}}}
	}
	return []remotewrite.Series{one(fieldData, float64(m)), one(fieldRun, seconds(at))}
}

// Marks are the data marks the run at last persisted, read before at: a
// rule is in it only if that run wrote its mark (a rule it failed to
// evaluate, or one since moved to another part's runs, is not).
func (s *Store) Marks(ctx context.Context, at, last time.Time) (map[RuleRef]Mark, error) {
	// One millisecond short on the right, as Restore reads: a retry of at
	// sees what the first attempt saw. The range reaches last on
	// Prometheus 2 (closed) and 3 (left-open) alike.
	window := max(at.Sub(last), time.Millisecond)
	query := fmt.Sprintf("last_over_time(%s[%s])", s.selector(RuleDataMetric), dur(window))
	samples, err := s.q.Query(ctx, query, at.Add(-time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("data marks: %w", err)
	}
	type pair struct {
		data Mark
		run  time.Time
	}
	byRule := map[RuleRef]pair{}
	for _, smp := range samples {
		ref := RuleRef{Group: smp.Labels[GroupLabel], Alert: smp.Labels[model.AlertNameLabel]}
		p := byRule[ref]
		switch smp.Labels[FieldLabel] {
		case fieldData:
			p.data = Mark(smp.V)
		case fieldRun:
			p.run = fromSeconds(smp.V)
		}
		byRule[ref] = p
	}
	out := make(map[RuleRef]Mark, len(byRule))
	for ref, p := range byRule {
		if p.data != 0 && p.run.Equal(last) {
			out[ref] = p.data
		}
	}
	return out, nil
}

// String is m in hex, for logs.
func (m Mark) String() string { return strconv.FormatUint(uint64(m), 16) }
