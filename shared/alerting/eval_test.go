package alerting_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/rules"
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

func baseAnomaly() rules.Anomaly {
	return rules.Anomaly{
		Method: rules.MethodWindow, Baseline: config.Duration(24 * time.Hour), Threshold: 4, ResolveThreshold: 2,
		Direction: rules.DirectionBoth, MinHistory: config.Duration(12 * time.Hour), MinStddev: 0.1,
		MinRelativeStddev: 0.05, Smoothing: 1, ExcludeRecent: config.Duration(2 * time.Hour),
	}
}

var evalAt = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

func TestEvaluateWindow(t *testing.T) {
	t.Parallel()
	a, b, c := lbl("__name__", "cpu", "instance", "a"), lbl("instance", "b"), lbl("instance", "c")
	f := &fakeQuerier{instant: map[string][]promql.Sample{
		"cpu": {{Labels: a, V: 90}, {Labels: lbl("__name__", "cpu", "instance", "b"), V: 50.5}, {Labels: lbl("__name__", "cpu", "instance", "c"), V: 51}, {Labels: lbl("__name__", "cpu", "instance", "nan"), V: math.NaN()}},
		"avg_over_time(cpu[23h59m59s999ms] offset 2h)":    {{Labels: lbl("instance", "a"), V: 50}, {Labels: b, V: 50}, {Labels: c, V: 50}},
		"stddev_over_time(cpu[23h59m59s999ms] offset 2h)": {{Labels: lbl("instance", "a"), V: 2}, {Labels: b, V: 2}, {Labels: c, V: 2}},
		"count_over_time(cpu[23h59m59s999ms] offset 2h)":  {{Labels: lbl("instance", "a"), V: 288}, {Labels: b, V: 288}, {Labels: c, V: 5}},
		// c is too sparse, and only a and c are old enough.
		"count_over_time(cpu[13h59m59s999ms] offset 12h)": {{Labels: lbl("instance", "a"), V: 100}, {Labels: c, V: 5}},
	}}
	ev, err := alerting.Evaluate(context.Background(), f, anomalyRule("cpu", baseAnomaly()), evalAt, 5*time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 4)
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
	require.True(t, byInstance["nan"].Missing)
	require.Equal(t, 2, ev.Insufficient())
	for _, at := range f.at {
		require.True(t, evalAt.Equal(at))
	}
}

func TestEvaluateQueries(t *testing.T) {
	t.Parallel()
	robust := baseAnomaly()
	robust.Method, robust.Baseline, robust.ExcludeRecent, robust.MinHistory = rules.MethodRobust, config.Duration(7*24*time.Hour), 0, config.Duration(24*time.Hour)
	seasonal := baseAnomaly()
	seasonal.Method, seasonal.Seasons, seasonal.Baseline, seasonal.MinHistory = rules.MethodSeasonal, 2, config.Duration(14*24*time.Hour), config.Duration(7*24*time.Hour)
	smooth := baseAnomaly()
	smooth.Smoothing = 3
	sustained := smooth
	sustained.SustainedPoints, sustained.SustainedThreshold = 12, 1.5
	for _, tc := range []struct {
		name    string
		rule    rules.Rule
		instant []string
		series  []string
	}{
		{
			name: "window over an aggregation uses subqueries at the step",
			rule: anomalyRule(`sum by (job) (rate(x[5m]))`, baseAnomaly()),
			instant: []string{
				`sum by (job) (rate(x[5m]))`,
				`avg_over_time((sum by (job) (rate(x[5m])))[23h59m59s999ms:5m] offset 2h)`,
				`stddev_over_time((sum by (job) (rate(x[5m])))[23h59m59s999ms:5m] offset 2h)`,
				`count_over_time((sum by (job) (rate(x[5m])))[23h59m59s999ms:5m] offset 2h)`,
				`count_over_time((sum by (job) (rate(x[5m])))[13h59m59s999ms:5m] offset 12h)`,
			},
		},
		{
			name: "robust: median and MAD in the engine, at most MaxRobustPoints steps",
			rule: anomalyRule("cpu", robust),
			instant: []string{
				"cpu", "count_over_time(cpu[5d23h59m59s999ms] offset 1d)",
				"quantile_over_time(0.5, (cpu)[6d23h59m59s999ms:5m])",
				"quantile_over_time(0.5, (abs((cpu) - quantile_over_time(0.5, (cpu)[6d23h59m59s999ms:5m] @ 1793620800.000)))[6d23h59m59s999ms:5m])",
				"count_over_time((cpu)[6d23h59m59s999ms:5m])",
			},
		},
		{
			name: "seasonal: the same hour 1w and 2w back",
			rule: anomalyRule("cpu", seasonal),
			instant: []string{
				"cpu",
				"avg_over_time(cpu[59m59s999ms] offset 6d23h30m)", "stddev_over_time(cpu[59m59s999ms] offset 6d23h30m)", "count_over_time(cpu[59m59s999ms] offset 6d23h30m)",
				"avg_over_time(cpu[59m59s999ms] offset 13d23h30m)", "stddev_over_time(cpu[59m59s999ms] offset 13d23h30m)", "count_over_time(cpu[59m59s999ms] offset 13d23h30m)",
				"count_over_time(cpu[7d29m59s999ms] offset 1w)",
			},
		},
		{
			name: "smoothing reads the last points",
			rule: anomalyRule("cpu", smooth),
			instant: []string{
				"avg_over_time(cpu[23h59m59s999ms] offset 2h)", "stddev_over_time(cpu[23h59m59s999ms] offset 2h)", "count_over_time(cpu[23h59m59s999ms] offset 2h)",
				"count_over_time(cpu[13h59m59s999ms] offset 12h)",
			},
			series: []string{"cpu[14m59s999ms]"},
		},
		{
			name: "sustained reads the last sustained_points points too",
			rule: anomalyRule("cpu", sustained),
			instant: []string{
				"avg_over_time(cpu[23h59m59s999ms] offset 2h)", "stddev_over_time(cpu[23h59m59s999ms] offset 2h)", "count_over_time(cpu[23h59m59s999ms] offset 2h)",
				"count_over_time(cpu[13h59m59s999ms] offset 12h)",
			},
			series: []string{"cpu[14m59s999ms]", "cpu[59m59s999ms]"},
		},
		{
			name: "sustained over an aggregation: a subquery at the step",
			rule: anomalyRule(`sum by (job) (rate(x[5m]))`, sustained),
			instant: []string{
				`avg_over_time((sum by (job) (rate(x[5m])))[23h59m59s999ms:5m] offset 2h)`,
				`stddev_over_time((sum by (job) (rate(x[5m])))[23h59m59s999ms:5m] offset 2h)`,
				`count_over_time((sum by (job) (rate(x[5m])))[23h59m59s999ms:5m] offset 2h)`,
				`count_over_time((sum by (job) (rate(x[5m])))[13h59m59s999ms:5m] offset 12h)`,
			},
			series: []string{`(sum by (job) (rate(x[5m])))[14m59s999ms:5m]`, `(sum by (job) (rate(x[5m])))[59m59s999ms:5m]`},
		},
		{
			name:    "threshold rule: one query",
			rule:    rules.Rule{Alert: "T", Expr: "errors > 10"},
			instant: []string{"errors > 10"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeQuerier{instant: map[string][]promql.Sample{}, series: map[string][]promql.Series{}}
			for _, q := range tc.instant {
				f.instant[q] = nil
			}
			for _, q := range tc.series {
				f.series[q] = nil
			}
			ev, err := alerting.Evaluate(context.Background(), f, tc.rule, evalAt, 5*time.Minute)
			require.NoError(t, err)
			require.ElementsMatch(t, append(append([]string{}, tc.instant...), tc.series...), f.asked)
			require.Equal(t, f.asked, ev.Queries)
		})
	}
}

func TestEvaluateRobustAndSmoothing(t *testing.T) {
	t.Parallel()
	a := robustRule()
	one := func(v float64) []promql.Sample { return []promql.Sample{{Labels: lbl("i", "a"), V: v}} }
	f := &fakeQuerier{
		instant: map[string][]promql.Sample{
			"count_over_time(cpu[5d23h59m59s999ms] offset 1d)":    one(10),
			"quantile_over_time(0.5, (cpu)[6d23h59m59s999ms:5m])": one(12),
			"quantile_over_time(0.5, (abs((cpu) - quantile_over_time(0.5, (cpu)[6d23h59m59s999ms:5m] @ 1793620800.000)))[6d23h59m59s999ms:5m])": one(1),
			"count_over_time((cpu)[6d23h59m59s999ms:5m])": one(2016),
		},
		series: map[string][]promql.Series{
			"cpu[14m59s999ms]": {{Labels: lbl("__name__", "cpu", "i", "a"), Points: []promql.Point{{V: 100}, {V: 110}, {V: math.NaN()}, {V: 120}}}},
		},
	}
	ev, err := alerting.Evaluate(context.Background(), f, a, evalAt, time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 1)
	r := ev.Series[0].Result
	require.True(t, r.OK())
	require.InDelta(t, 110, r.Value, 1e-9, "mean of the last 3 finite points")
	want := anomaly.RobustBaseline([]float64{11, 12, 13})
	require.InDelta(t, want.Center, r.Center, 1e-12)
	require.InDelta(t, want.Spread, r.RawSpread, 1e-12, "1.4826 × MAD, as the maths computes it")
	require.Equal(t, 2016, r.N)
}

// TestEvaluateSustained scores the mean of the last sustained_points finite
// points against the same baseline as the current value, and only when the
// current value itself is scored.
func TestEvaluateSustained(t *testing.T) {
	t.Parallel()
	a := baseAnomaly()
	a.SustainedPoints, a.SustainedThreshold = 4, 1.5
	la, lb, lc := lbl("i", "a"), lbl("i", "b"), lbl("i", "c")
	three := func(v float64) []promql.Sample {
		return []promql.Sample{{Labels: la, V: v}, {Labels: lb, V: v}, {Labels: lc, V: v}}
	}
	pts := func(vs ...float64) []promql.Point {
		out := make([]promql.Point, len(vs))
		for i, v := range vs {
			out[i] = promql.Point{V: v}
		}
		return out
	}
	f := &fakeQuerier{
		instant: map[string][]promql.Sample{
			"cpu": {{Labels: la, V: 60}, {Labels: lb, V: math.NaN()}, {Labels: lc, V: 60}},
			"avg_over_time(cpu[23h59m59s999ms] offset 2h)":    three(50),
			"stddev_over_time(cpu[23h59m59s999ms] offset 2h)": three(2),
			"count_over_time(cpu[23h59m59s999ms] offset 2h)":  three(288),
			"count_over_time(cpu[13h59m59s999ms] offset 12h)": three(100),
		},
		series: map[string][]promql.Series{
			"cpu[19m59s999ms]": {
				// Five points, one NaN: the last four finite ones are 54, 56, 58, 60.
				{Labels: lbl("__name__", "cpu", "i", "a"), Points: pts(10, 54, math.NaN(), 56, 58, 60)},
				{Labels: lb, Points: pts(54, 56, 58)},
				{Labels: lc, Points: pts(math.NaN())},
			},
		},
	}
	ev, err := alerting.Evaluate(context.Background(), f, anomalyRule("cpu", a), evalAt, 5*time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 3)
	by := map[string]alerting.Observed{}
	for _, s := range ev.Series {
		by[s.Labels["i"]] = s
	}
	require.True(t, by["a"].Result.OK())
	require.InDelta(t, 4, by["a"].Result.Z, 1e-9, "(60-50)/max(2, 0.05×50)")
	require.NotNil(t, by["a"].Sustained)
	require.True(t, by["a"].Sustained.OK())
	require.InDelta(t, 57, by["a"].Sustained.Value, 1e-9, "mean of the last 4 finite points")
	require.InDelta(t, 2.8, by["a"].Sustained.Z, 1e-9, "(57-50)/2.5, against the same baseline")
	require.True(t, by["b"].Missing)
	require.Nil(t, by["b"].Sustained, "no current value: the sustained check is not scored either")
	require.True(t, by["c"].Result.OK())
	require.Nil(t, by["c"].Sustained, "no finite point in the sustained window")
}

func robustRule() rules.Rule {
	a := baseAnomaly()
	a.Method, a.Baseline, a.ExcludeRecent, a.MinHistory, a.Smoothing = rules.MethodRobust, config.Duration(7*24*time.Hour), 0, config.Duration(24*time.Hour), 3
	return anomalyRule("cpu", a)
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	f := &fakeQuerier{}
	_, err := alerting.Evaluate(context.Background(), f, anomalyRule("cpu", baseAnomaly()), evalAt, time.Minute)
	require.ErrorContains(t, err, `query "cpu"`)
	_, err = alerting.Evaluate(context.Background(), f, rules.Rule{Alert: "T", Expr: "x > 1"}, evalAt, time.Minute)
	require.ErrorContains(t, err, "unexpected query")
	_, err = alerting.Evaluate(context.Background(), f, anomalyRule("cpu{", baseAnomaly()), evalAt, time.Minute)
	require.ErrorContains(t, err, "expr")
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	require.Equal(t, alerting.Fingerprint(lbl("a", "1", "b", "2")), alerting.Fingerprint(lbl("b", "2", "a", "1")))
	require.NotEqual(t, alerting.Fingerprint(lbl("a", "1;", "b", "2")), alerting.Fingerprint(lbl("a", "1", "b", ";2")))
	require.Equal(t, lbl("a", "1"), alerting.SeriesLabels(lbl("__name__", "x", "alertname", "y", "a", "1", "e", "", alerting.FieldLabel, "state")))
}

func TestParamsFor(t *testing.T) {
	t.Parallel()
	a := baseAnomaly()
	a.MinStddev = 0
	p := alerting.ParamsFor(anomalyRule("x", a))
	require.NoError(t, p.Validate(), "a rules-file default of min_stddev 0 still gives valid maths")
	require.Equal(t, anomaly.DirectionBoth, p.Direction)
	require.InDelta(t, 2, p.EffectiveResolveThreshold(), 0)
	require.Equal(t, anomaly.Params{}, alerting.ParamsFor(rules.Rule{Alert: "T", Expr: "x > 1"}))
	require.False(t, p.SustainedOn(), "off unless the rule sets it")
	a.SustainedPoints, a.SustainedThreshold = 18, 2.5
	p = alerting.ParamsFor(anomalyRule("x", a))
	require.Equal(t, 18, p.SustainedPoints)
	require.InDelta(t, 2.5, p.SustainedThreshold, 0)
	require.True(t, p.SustainedOn())
	require.NoError(t, p.Validate())
}

// TestEvaluateRobustDownsamples checks the bound on a robust rule's work:
// with 10,000 series the subqueries step every 10m5s (1,000 steps over 7d)
// instead of 5m, keeping series × steps at RobustSampleBudget.
func TestEvaluateRobustDownsamples(t *testing.T) {
	t.Parallel()
	a := robustRule()
	a.Anomaly.Smoothing = 1
	var many []promql.Sample
	for i := range 10_000 {
		many = append(many, promql.Sample{Labels: lbl("i", fmt.Sprint(i)), V: 1})
	}
	f := &fakeQuerier{instant: map[string][]promql.Sample{
		"cpu": many,
		"count_over_time(cpu[5d23h59m59s999ms] offset 1d)":       nil,
		"quantile_over_time(0.5, (cpu)[6d23h59m59s999ms:10m5s])": nil,
		"quantile_over_time(0.5, (abs((cpu) - quantile_over_time(0.5, (cpu)[6d23h59m59s999ms:10m5s] @ 1793620800.000)))[6d23h59m59s999ms:10m5s])": nil,
		"count_over_time((cpu)[6d23h59m59s999ms:10m5s])": nil,
	}}
	ev, err := alerting.Evaluate(context.Background(), f, a, evalAt, time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 10_000)
	require.Equal(t, 10_000, ev.Insufficient(), "no baseline answered: insufficient data, never an anomaly")
	require.LessOrEqual(t, 10_000*1000, alerting.RobustSampleBudget)
}
