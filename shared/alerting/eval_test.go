package alerting_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/stretchr/testify/require"
)

// fakeQuerier answers known queries only, so a test pins the PromQL the
// evaluation sends; anything else is an error.
type fakeQuerier struct {
	instant map[string][]promql.Sample
	series  map[string][]promql.Series
	asked   []string
	at      []time.Time
}

func (f *fakeQuerier) Query(_ context.Context, q string, at time.Time) ([]promql.Sample, error) {
	f.asked, f.at = append(f.asked, q), append(f.at, at)
	s, ok := f.instant[q]
	if !ok {
		return nil, fmt.Errorf("unexpected query %q", q)
	}
	return s, nil
}

func (f *fakeQuerier) QuerySeries(_ context.Context, q string, at time.Time) ([]promql.Series, error) {
	f.asked, f.at = append(f.asked, q), append(f.at, at)
	s, ok := f.series[q]
	if !ok {
		return nil, fmt.Errorf("unexpected range query %q", q)
	}
	return s, nil
}

func lbl(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func anomalyRule(expr string, a rules.Anomaly) rules.Rule {
	return rules.Rule{Alert: "A", Expr: expr, Anomaly: &a}
}

// baseAnomaly sets every field of the block (smoothing and the sustained
// check off), so tests do not depend on the shipped defaults.
func baseAnomaly() rules.Anomaly {
	return rules.Anomaly{
		Method: anomaly.MethodWindow, Baseline: config.Duration(24 * time.Hour), Threshold: 4, ResolveThreshold: 2,
		Direction: anomaly.DirectionBoth, MinHistory: config.Duration(12 * time.Hour), MinStddev: 0.1,
		MinRelativeStddev: 0.05, ExcludeRecent: config.Duration(2 * time.Hour),
	}
}

var evalAt = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

// detector is the anomaly maths SpecOf maps r to (zero for a threshold rule).
func detector(r rules.Rule) anomaly.Params {
	if d := alerting.SpecOf(r).Detector; d != nil {
		return *d
	}
	return anomaly.Params{}
}

// newest answers the evaluation's first query, the time of the newest data
// of expr (a plain selector, default lookback, step 5m), with at.
func newest(f *fakeQuerier, expr string, at time.Time) {
	f.instant[fmt.Sprintf("max(max_over_time(timestamp(%s)[29m59s999ms:5m]))", expr)] = []promql.Sample{{V: float64(at.UnixMilli()) / 1000}}
}

func TestEvaluateWindow(t *testing.T) {
	t.Parallel()
	a, b, c := lbl("__name__", "cpu", "instance", "a"), lbl("instance", "b"), lbl("instance", "c")
	dataAt := evalAt.Add(-17 * time.Minute)
	f := &fakeQuerier{instant: map[string][]promql.Sample{
		"last_over_time(cpu[29m59s999ms])":                {{Labels: a, V: 90}, {Labels: lbl("__name__", "cpu", "instance", "b"), V: 50.5}, {Labels: lbl("__name__", "cpu", "instance", "c"), V: 51}},
		"avg_over_time(cpu[23h59m59s999ms] offset 2h)":    {{Labels: lbl("instance", "a"), V: 50}, {Labels: b, V: 50}, {Labels: c, V: 50}},
		"stddev_over_time(cpu[23h59m59s999ms] offset 2h)": {{Labels: lbl("instance", "a"), V: 2}, {Labels: b, V: 2}, {Labels: c, V: 2}},
		"count_over_time(cpu[23h59m59s999ms] offset 2h)":  {{Labels: lbl("instance", "a"), V: 288}, {Labels: b, V: 288}, {Labels: c, V: 5}},
		// c is too sparse, and only a and c are old enough.
		"count_over_time(cpu[13h59m59s999ms] offset 12h)": {{Labels: lbl("instance", "a"), V: 100}, {Labels: c, V: 5}},
	}}
	newest(f, "cpu", dataAt)
	ev, err := alerting.Evaluate(context.Background(), f, anomalyRule("cpu", baseAnomaly()), evalAt, 5*time.Minute)
	require.NoError(t, err)
	require.True(t, dataAt.Equal(ev.DataAt), "the windows end at the newest stored point, not at the scheduled time")
	require.Len(t, ev.Series, 3)
	byInstance := map[string]alerting.Observed{}
	for _, s := range ev.Series {
		require.NotContains(t, s.Labels, "__name__")
		require.Equal(t, alerting.Fingerprint(s.Labels), s.Fingerprint)
		byInstance[s.Labels["instance"]] = s
	}
	require.True(t, byInstance["a"].Result.OK())
	require.InDelta(t, 16, byInstance["a"].Result.Z, 1e-9, "(90-50)/max(2, 0.05×50)")
	require.False(t, byInstance["b"].Result.OK(), "no point older than min_history: insufficient data")
	require.False(t, byInstance["c"].Result.OK(), "5 points are fewer than the maths' minimum")
	require.Equal(t, 2, ev.Insufficient())
	require.True(t, evalAt.Equal(f.at[0]), "the newest data is looked for at the scheduled time")
	for _, at := range f.at[1:] {
		require.True(t, dataAt.Equal(at), "every window ends at the newest data")
	}
}

// TestEvaluateNoRecentData: with nothing stored within the lookback, an
// anomaly rule returns no series (Advance treats the stored ones as
// missing) and asks nothing else.
func TestEvaluateNoRecentData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer []promql.Sample
	}{
		{"nothing", nil},
		{"older than the lookback", []promql.Sample{{V: float64(evalAt.Add(-31 * time.Minute).Unix())}}},
		{"in the future", []promql.Sample{{V: float64(evalAt.Add(time.Minute).Unix())}}},
		{"NaN", []promql.Sample{{V: math.NaN()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeQuerier{instant: map[string][]promql.Sample{"max(max_over_time(timestamp(cpu)[29m59s999ms:5m]))": tc.answer}}
			ev, err := alerting.Evaluate(context.Background(), f, anomalyRule("cpu", baseAnomaly()), evalAt, 5*time.Minute)
			require.NoError(t, err)
			require.Empty(t, ev.Series)
			require.True(t, ev.DataAt.IsZero())
			require.Len(t, f.asked, 1)
		})
	}
}

func TestEvaluateQueries(t *testing.T) {
	t.Parallel()
	robust := baseAnomaly()
	robust.Method, robust.Baseline, robust.ExcludeRecent, robust.MinHistory = anomaly.MethodRobust, config.Duration(7*24*time.Hour), 0, config.Duration(24*time.Hour)
	seasonal := baseAnomaly()
	seasonal.Method, seasonal.Seasons, seasonal.Baseline, seasonal.MinHistory, seasonal.ExcludeRecent = anomaly.MethodSeasonal, 2, config.Duration(14*24*time.Hour), config.Duration(7*24*time.Hour), 0
	smooth := baseAnomaly()
	smooth.Smoothing = rules.Window(15 * time.Minute)
	sustained := smooth
	sustained.Sustained, sustained.SustainedThreshold = rules.Window(time.Hour), 1.5
	const agg = `(sum by (job) (rate(x[5m])) / sum by (job) (last_over_time(y[4m59s999ms]))) > -Inf < +Inf`
	for _, tc := range []struct {
		name    string
		rule    rules.Rule
		instant []string
	}{
		{
			name: "window over an aggregation: subqueries at the step, each sample once, finite only",
			rule: anomalyRule(`sum by (job) (rate(x[5m])) / sum by (job) (y)`, baseAnomaly()),
			instant: []string{
				`max(max_over_time(timestamp(` + agg + `)[29m59s999ms:5m]))`,
				`last_over_time((` + agg + `)[29m59s999ms:5m])`,
				`avg_over_time((` + agg + `)[23h59m59s999ms:5m] offset 2h)`,
				`stddev_over_time((` + agg + `)[23h59m59s999ms:5m] offset 2h)`,
				`count_over_time((` + agg + `)[23h59m59s999ms:5m] offset 2h)`,
				`count_over_time((` + agg + `)[13h59m59s999ms:5m] offset 12h)`,
			},
		},
		{
			name: "robust: the points of the hour-aligned window, read per series (robust.go)",
			rule: anomalyRule("cpu", robust),
			instant: []string{
				"max(max_over_time(timestamp(cpu)[29m59s999ms:5m]))",
				"last_over_time(cpu[29m59s999ms])", "count_over_time(cpu[6d2h59m59s999ms] offset 1d)",
			},
		},
		{
			name: "seasonal: the same hour 1w and 2w back",
			rule: anomalyRule("cpu", seasonal),
			instant: []string{
				"max(max_over_time(timestamp(cpu)[29m59s999ms:5m]))",
				"last_over_time(cpu[29m59s999ms])",
				"avg_over_time(cpu[59m59s999ms] offset 6d23h30m)", "stddev_over_time(cpu[59m59s999ms] offset 6d23h30m)", "count_over_time(cpu[59m59s999ms] offset 6d23h30m)",
				"avg_over_time(cpu[59m59s999ms] offset 13d23h30m)", "stddev_over_time(cpu[59m59s999ms] offset 13d23h30m)", "count_over_time(cpu[59m59s999ms] offset 13d23h30m)",
				"count_over_time(cpu[7d29m59s999ms] offset 1w)",
			},
		},
		{
			name: "smoothing: the mean of the points of the last 15 minutes",
			rule: anomalyRule("cpu", smooth),
			instant: []string{
				"max(max_over_time(timestamp(cpu)[29m59s999ms:5m]))",
				"avg_over_time(cpu[14m59s999ms])", "last_over_time(cpu[14m59s999ms])", "quantile_over_time(0.5, cpu[14m59s999ms])",
				"avg_over_time(cpu[23h59m59s999ms] offset 2h)", "stddev_over_time(cpu[23h59m59s999ms] offset 2h)", "count_over_time(cpu[23h59m59s999ms] offset 2h)",
				"count_over_time(cpu[13h59m59s999ms] offset 12h)",
			},
		},
		{
			name: "sustained: the mean of the last hour too",
			rule: anomalyRule("cpu", sustained),
			instant: []string{
				"max(max_over_time(timestamp(cpu)[29m59s999ms:5m]))",
				"avg_over_time(cpu[14m59s999ms])", "last_over_time(cpu[14m59s999ms])", "quantile_over_time(0.5, cpu[14m59s999ms])", "avg_over_time(cpu[59m59s999ms])",
				"avg_over_time(cpu[23h59m59s999ms] offset 2h)", "stddev_over_time(cpu[23h59m59s999ms] offset 2h)", "count_over_time(cpu[23h59m59s999ms] offset 2h)",
				"count_over_time(cpu[13h59m59s999ms] offset 12h)",
			},
		},
		{
			name: "sustained over an aggregation: subqueries at the step",
			rule: anomalyRule(`sum by (job) (rate(x[5m])) / sum by (job) (y)`, sustained),
			instant: []string{
				`max(max_over_time(timestamp(` + agg + `)[29m59s999ms:5m]))`,
				`avg_over_time((` + agg + `)[14m59s999ms:5m])`, `last_over_time((` + agg + `)[14m59s999ms:5m])`, `quantile_over_time(0.5, (` + agg + `)[14m59s999ms:5m])`, `avg_over_time((` + agg + `)[59m59s999ms:5m])`,
				`avg_over_time((` + agg + `)[23h59m59s999ms:5m] offset 2h)`,
				`stddev_over_time((` + agg + `)[23h59m59s999ms:5m] offset 2h)`,
				`count_over_time((` + agg + `)[23h59m59s999ms:5m] offset 2h)`,
				`count_over_time((` + agg + `)[13h59m59s999ms:5m] offset 12h)`,
			},
		},
		{
			name: "threshold rule: one query, every selector read over the lookback",
			rule: rules.Rule{Alert: "T", Expr: "errors > 10 or rate(x[5m]) > 1", LookbackDelta: config.Duration(20 * time.Minute)},
			instant: []string{
				"last_over_time(errors[19m59s999ms]) > 10 or rate(x[5m]) > 1",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeQuerier{instant: map[string][]promql.Sample{}}
			for _, q := range tc.instant {
				f.instant[q] = nil
			}
			if tc.rule.IsAnomaly() {
				f.instant[tc.instant[0]] = []promql.Sample{{V: float64(evalAt.Unix())}}
			}
			ev, err := alerting.Evaluate(context.Background(), f, tc.rule, evalAt, 5*time.Minute)
			require.NoError(t, err)
			require.ElementsMatch(t, tc.instant, f.asked)
			require.Equal(t, f.asked, ev.Queries)
		})
	}
}

// TestEvaluateNaNInRawSamples: a plain selector whose raw samples hold NaN
// (a recorded ratio's 0/0) poisons avg_over_time; the evaluation reads the
// selector's finite samples instead, as the backtest does, rather than
// calling the series insufficient data.
func TestEvaluateNaNInRawSamples(t *testing.T) {
	t.Parallel()
	one := func(v float64) []promql.Sample { return []promql.Sample{{Labels: lbl("i", "a"), V: v}} }
	const finiteCPU = "((last_over_time(cpu[4m59s999ms])) > -Inf < +Inf)"
	f := &fakeQuerier{instant: map[string][]promql.Sample{
		"last_over_time(cpu[29m59s999ms])":                                 one(90),
		"avg_over_time(cpu[23h59m59s999ms] offset 2h)":                     one(math.NaN()),
		"avg_over_time(" + finiteCPU + "[23h59m59s999ms:5m] offset 2h)":    one(50),
		"stddev_over_time(" + finiteCPU + "[23h59m59s999ms:5m] offset 2h)": one(2),
		"count_over_time(" + finiteCPU + "[23h59m59s999ms:5m] offset 2h)":  one(287),
		"count_over_time(cpu[13h59m59s999ms] offset 12h)":                  one(100),
	}}
	newest(f, "cpu", evalAt)
	ev, err := alerting.Evaluate(context.Background(), f, anomalyRule("cpu", baseAnomaly()), evalAt, 5*time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 1)
	r := ev.Series[0].Result
	require.True(t, r.OK(), "%+v", r)
	require.Equal(t, 287, r.N, "the finite samples, counted by the same reading")
	require.InDelta(t, 16, r.Z, 1e-9)
}

func TestEvaluateRobust(t *testing.T) {
	t.Parallel()
	a := robustRule()
	one := func(v float64) []promql.Sample { return []promql.Sample{{Labels: lbl("i", "a"), V: v}} }
	var window []promql.Point
	var values []float64
	for i := range 300 {
		v := float64(11 + i%3)
		values = append(values, v)
		window = append(window, promql.Point{T: evalAt.Add(-2*time.Hour - time.Duration(i)*time.Minute), V: v})
	}
	f := &fakeQuerier{instant: map[string][]promql.Sample{
		"avg_over_time(cpu[14m59s999ms])":                 one(110),
		"quantile_over_time(0.5, cpu[14m59s999ms])":       one(105),
		"last_over_time(cpu[14m59s999ms])":                one(120),
		"count_over_time(cpu[6d2h59m59s999ms] offset 1d)": one(10),
	}, series: map[string][]promql.Series{
		`cpu{i=~"a"}[6d23h59m59s999ms]`: {{Labels: lbl("__name__", "cpu", "i", "a"), Points: window}},
	}}
	newest(f, "cpu", evalAt)
	ev, err := alerting.Evaluate(context.Background(), f, a, evalAt, 5*time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 1)
	r := ev.Series[0].Result
	require.True(t, r.OK())
	require.InDelta(t, 110, r.Value, 1e-9)
	require.NotNil(t, ev.Series[0].Median)
	require.InDelta(t, 105, ev.Series[0].Median.Value, 1e-9, "the median, scored against the same baseline")
	want := anomaly.RobustBaseline(values)
	require.InDelta(t, want.Center, r.Center, 1e-12)
	require.InDelta(t, want.Spread, r.RawSpread, 1e-12, "1.4826 × MAD, as the maths computes it")
	require.Equal(t, 300, r.N)
}

// TestEvaluateSustained scores the mean of the sustained window against the
// same baseline as the current value, and only when the current value
// itself is scored.
func TestEvaluateSustained(t *testing.T) {
	t.Parallel()
	a := baseAnomaly()
	a.Sustained, a.SustainedThreshold = rules.Window(20*time.Minute), 1.5
	la, lb, lc := lbl("i", "a"), lbl("i", "b"), lbl("i", "c")
	three := func(v float64) []promql.Sample {
		return []promql.Sample{{Labels: la, V: v}, {Labels: lb, V: v}, {Labels: lc, V: v}}
	}
	f := &fakeQuerier{
		instant: map[string][]promql.Sample{
			"last_over_time(cpu[29m59s999ms])":                {{Labels: la, V: 60}, {Labels: lc, V: 60}},
			"avg_over_time(cpu[19m59s999ms])":                 {{Labels: la, V: 57}, {Labels: lb, V: 56}},
			"avg_over_time(cpu[23h59m59s999ms] offset 2h)":    three(50),
			"stddev_over_time(cpu[23h59m59s999ms] offset 2h)": three(2),
			"count_over_time(cpu[23h59m59s999ms] offset 2h)":  three(288),
			"count_over_time(cpu[13h59m59s999ms] offset 12h)": three(100),
		},
	}
	newest(f, "cpu", evalAt)
	ev, err := alerting.Evaluate(context.Background(), f, anomalyRule("cpu", a), evalAt, 5*time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 2, "b has no current value: it is not returned (missing data)")
	by := map[string]alerting.Observed{}
	for _, s := range ev.Series {
		by[s.Labels["i"]] = s
	}
	require.True(t, by["a"].Result.OK())
	require.InDelta(t, 4, by["a"].Result.Z, 1e-9, "(60-50)/max(2, 0.05×50)")
	require.NotNil(t, by["a"].Sustained)
	require.True(t, by["a"].Sustained.OK())
	require.InDelta(t, 57, by["a"].Sustained.Value, 1e-9)
	require.InDelta(t, 2.8, by["a"].Sustained.Z, 1e-9, "(57-50)/2.5, against the same baseline")
	require.True(t, by["c"].Result.OK())
	require.Nil(t, by["c"].Sustained, "no point in the sustained window")
}

func robustRule() rules.Rule {
	a := baseAnomaly()
	a.Method, a.Baseline, a.ExcludeRecent, a.MinHistory, a.Smoothing = anomaly.MethodRobust, config.Duration(7*24*time.Hour), 0, config.Duration(24*time.Hour), rules.Window(15*time.Minute)
	return anomalyRule("cpu", a)
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	f := &fakeQuerier{}
	_, err := alerting.Evaluate(context.Background(), f, anomalyRule("cpu", baseAnomaly()), evalAt, time.Minute)
	require.ErrorContains(t, err, `query "max(max_over_time(timestamp(cpu)`)
	_, err = alerting.Evaluate(context.Background(), f, rules.Rule{Alert: "T", Expr: "x > 1"}, evalAt, time.Minute)
	require.ErrorContains(t, err, "unexpected query")
	_, err = alerting.Evaluate(context.Background(), f, anomalyRule("cpu{", baseAnomaly()), evalAt, time.Minute)
	require.ErrorContains(t, err, "expr")
	_, err = alerting.Evaluate(context.Background(), f, rules.Rule{Alert: "T", Expr: "x >"}, evalAt, time.Minute)
	require.ErrorContains(t, err, "expr")
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	require.Equal(t, alerting.Fingerprint(lbl("a", "1", "b", "2")), alerting.Fingerprint(lbl("b", "2", "a", "1")))
	require.NotEqual(t, alerting.Fingerprint(lbl("a", "1;", "b", "2")), alerting.Fingerprint(lbl("a", "1", "b", ";2")))
	require.Equal(t, lbl("a", "1"), alerting.SeriesLabels(lbl("__name__", "x", "alertname", "y", "a", "1", "e", "", alerting.FieldLabel, "state")))
}

// TestSpecOf: the one mapping from a rule to what the evaluator and the
// backtest run.
func TestSpecOf(t *testing.T) {
	t.Parallel()
	a := baseAnomaly()
	a.MinStddev = 0
	r := anomalyRule("x", a)
	r.Group, r.For, r.KeepFiringFor, r.RepeatInterval = "g", config.Duration(time.Minute), config.Duration(5*time.Minute), config.Duration(time.Hour)
	s := alerting.SpecOf(r)
	require.Equal(t, "g/A", s.Key)
	require.Equal(t, "x", s.Expr)
	require.Equal(t, alerting.Timing{
		For: time.Minute, KeepFiringFor: 5 * time.Minute, RepeatInterval: time.Hour,
		MissingData: alerting.MissingDataKeep, MissingDataTimeout: time.Duration(rules.DefaultMissingDataTimeout),
	}, s.Timing, "a rule built in code gets the default missing_data_timeout")
	r.MissingDataTimeout = new(config.Duration)
	require.Zero(t, alerting.SpecOf(r).Timing.MissingDataTimeout, "0 never resolves on missing data")
	require.Equal(t, time.Duration(rules.DefaultLookbackDelta), s.Lookback, "a rule built in code gets the default lookback")
	require.NotNil(t, s.Detector)
	p := *s.Detector
	require.NoError(t, p.Validate(), "min_stddev 0 still gives valid maths")
	require.InDelta(t, anomaly.DefaultMinStdDev, p.MinStdDev, 0)
	require.Equal(t, 24*time.Hour, p.Baseline)
	require.Equal(t, 2*time.Hour, p.Gap)
	require.Equal(t, 12*time.Hour, p.MinHistory)
	require.Zero(t, p.Smoothing, "the latest point")
	require.False(t, p.SustainedOn(), "off unless the rule sets it")
	a.Sustained, a.SustainedThreshold = rules.Window(90*time.Minute), 2.5
	p = *alerting.SpecOf(anomalyRule("x", a)).Detector
	require.Equal(t, 90*time.Minute, p.Sustained)
	require.True(t, p.SustainedOn())
	require.Nil(t, alerting.SpecOf(rules.Rule{Alert: "T", Expr: "x > 1"}).Detector)
}

func TestQueryRewrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr, threshold, series string
	}{
		{expr: "x > 1", threshold: "last_over_time(x[29m59s999ms]) > 1", series: "(last_over_time(x[59s999ms]) > 1) > -Inf < +Inf"},
		{expr: `sum by (a) (x{b="c"})`, threshold: `sum by (a) (last_over_time(x{b="c"}[29m59s999ms]))`, series: `(sum by (a) (last_over_time(x{b="c"}[59s999ms]))) > -Inf < +Inf`},
		{expr: "a / b", threshold: "last_over_time(a[29m59s999ms]) / last_over_time(b[29m59s999ms])", series: "(last_over_time(a[59s999ms]) / last_over_time(b[59s999ms])) > -Inf < +Inf"},
		{expr: "rate(x[5m]) > 0", threshold: "rate(x[5m]) > 0", series: "(rate(x[5m]) > 0) > -Inf < +Inf"},
		{expr: "x offset 1h", threshold: "last_over_time(x[29m59s999ms] offset 1h)", series: "(last_over_time(x[59s999ms] offset 1h)) > -Inf < +Inf"},
		{expr: "max_over_time(x[1h:5m])", threshold: "max_over_time(x[1h:5m])", series: "(max_over_time(x[1h:5m])) > -Inf < +Inf"},
		{expr: "absent(x)", threshold: "absent(last_over_time(x[29m59s999ms]))", series: "(absent(last_over_time(x[59s999ms]))) > -Inf < +Inf"},
		{expr: "topk(scalar(k), x)", threshold: "topk(scalar(last_over_time(k[29m59s999ms])), last_over_time(x[29m59s999ms]))", series: "(topk(scalar(last_over_time(k[59s999ms])), last_over_time(x[59s999ms]))) > -Inf < +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			got, err := alerting.ThresholdQuery(tt.expr, 30*time.Minute)
			require.NoError(t, err)
			require.Equal(t, tt.threshold, got)
			got, err = alerting.SeriesQuery(tt.expr, time.Minute)
			require.NoError(t, err)
			require.Equal(t, tt.series, got)
		})
	}
	_, err := alerting.ThresholdQuery("x >", time.Minute)
	require.ErrorContains(t, err, "expr")
	_, err = alerting.SeriesQuery("x >", time.Minute)
	require.ErrorContains(t, err, "expr")
}
