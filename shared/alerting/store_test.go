package alerting_test

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

func clients(t *testing.T) (*remotewrite.Client, *promql.Client) {
	t.Helper()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	return w, q
}

// TestStoreRoundTrip persists a tick's state in a real Prometheus and
// restores it: every field survives, a retry of the same time does not see
// its own writes, and the last-run mark finds retries and late retries.
func TestStoreRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, q := clients(t)
	at := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	interval := 5 * time.Minute
	firing := alerting.AlertState{State: alerting.StateFiring, ActiveAt: at.Add(-20 * time.Minute), FiredAt: at.Add(-10 * time.Minute),
		LastSentAt: at.Add(-10 * time.Minute), KeepFiringSince: at.Add(-5 * time.Minute), LastValue: 91.25, LastZ: -16.5}
	pending := alerting.AlertState{State: alerting.StatePending, ActiveAt: at.Add(-1500 * time.Millisecond), LastValue: 3, LastZ: 4.5}
	resolved := alerting.AlertState{State: alerting.StateInactive, ResolvedAt: at, LastValue: 1}
	la, lb, lc, ld := lbl("instance", "a"), lbl("instance", "b"), lbl("instance", "c"), lbl("instance", "d")
	obs := &alerting.Observed{Labels: la, Result: anomaly.Result{Status: anomaly.StatusOK, Z: -16.5}}
	outs := []alerting.Outcome{
		{Labels: la, Observed: obs, Prev: firing, Next: firing},
		{Labels: lb, Prev: alerting.AlertState{State: alerting.StateInactive}, Next: pending},
		{Labels: lc, Prev: firing, Next: resolved},
		{Labels: ld, Next: alerting.AlertState{State: alerting.StateInactive, LastValue: math.NaN()}},
	}
	rule := rules.Rule{Alert: "CPU", Labels: map[string]string{"severity": "critical", "team": "{{ $labels.instance }}-team"}}
	otherGroup := alerting.AlertState{State: alerting.StatePending, ActiveAt: at, LastValue: 2}
	store := alerting.NewStore(q, "stack-a")
	series := store.StateSeries(at, []alerting.RuleOutcomes{
		{Rule: "CPU", Group: "g1", Anomaly: true, Outcomes: outs,
			AlertLabels: func(o alerting.Outcome) map[string]string {
				return alerting.AlertLabels(rule, o.Labels, o.Next.LastValue)
			}},
		// The same alert name in another group, on the same series.
		{Rule: "CPU", Group: "g2", Outcomes: []alerting.Outcome{{Labels: la, Next: otherGroup}}},
	})
	require.NoError(t, remotewrite.Validate(series))
	require.NoError(t, w.Write(ctx, series))
	require.NoError(t, w.Write(ctx, series), "a retry writing identical samples is accepted")

	got, err := store.Restore(ctx, at.Add(interval), 2*interval)
	require.NoError(t, err)
	want := map[alerting.RuleRef]map[string]alerting.Stored{
		{Group: "g1", Alert: "CPU"}: {
			alerting.Fingerprint(la): {Labels: la, State: firing},
			alerting.Fingerprint(lb): {Labels: lb, State: pending},
			alerting.Fingerprint(lc): {Labels: lc, State: resolved},
		},
		{Group: "g2", Alert: "CPU"}: {alerting.Fingerprint(la): {Labels: la, State: otherGroup}},
	}
	require.Equal(t, want, got, "d was never active: nothing to store; the groups' states stay apart")

	same, err := store.Restore(ctx, at, 2*interval)
	require.NoError(t, err)
	require.Empty(t, same, "a retry of at restores what was there before at")

	gone, err := store.Restore(ctx, at.Add(3*interval), 2*interval)
	require.NoError(t, err)
	require.Empty(t, gone, "older than the lookback")

	other := alerting.NewStore(q, "stack-b")
	theirs, err := other.Restore(ctx, at.Add(interval), 2*interval)
	require.NoError(t, err)
	require.Empty(t, theirs, "another deployment on the same store sees none of it")
	_, ran, err := other.LastRun(ctx, at, 24*time.Hour)
	require.NoError(t, err)
	require.False(t, ran, "nor its last run")

	alerts, err := q.Query(ctx, `sigmawatch_alerts`, at)
	require.NoError(t, err)
	require.Len(t, alerts, 3, "a and b of g1, and a of g2 (another alertstate, so another series)")
	for _, a := range alerts {
		if a.Labels["severity"] == "" {
			continue // g2's rule has no labels of its own
		}
		require.Equal(t, "critical", a.Labels["severity"])
		require.Equal(t, a.Labels["instance"]+"-team", a.Labels["team"], "rule label templates are expanded")
		require.Contains(t, []string{"firing", "pending"}, a.Labels["alertstate"])
	}
	z, err := q.Query(ctx, `sigmawatch_alert_zscore`, at)
	require.NoError(t, err)
	require.Len(t, z, 1)
	require.InDelta(t, -16.5, z[0].V, 0)

	for _, tc := range []struct {
		name string
		at   time.Time
		done bool
	}{
		{"retry of the same time", at, true},
		{"late retry of an earlier time", at.Add(-interval), true},
		{"the next run", at.Add(interval), false},
	} {
		last, ok, err := store.LastRun(ctx, tc.at, 24*time.Hour)
		require.NoError(t, err)
		require.Equal(t, tc.done, ok, tc.name)
		if ok {
			require.True(t, at.Equal(last), "%s: %s", tc.name, last)
		}
	}
}

// TestEvaluateAgainstPrometheus runs the three baselines, with the
// sustained check on, against a real Prometheus and checks them against the
// backtest, which computes the same maths over the raw points in memory: the
// deployed evaluation and the backtest must agree, and Evaluate plus Advance
// must fire at the backtest's ticks over a level shift.
func TestEvaluateAgainstPrometheus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, q := clients(t)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-15 * 24 * time.Hour)
	var pts []backtest.Point
	rng := rand.New(rand.NewPCG(7, 7))
	for ts := start; !ts.After(end); ts = ts.Add(5 * time.Minute) {
		day := 2 * math.Pi * float64(ts.Sub(start)) / float64(24*time.Hour)
		v := 100 + 20*math.Sin(day) + 3*rng.NormFloat64()
		if ts.Equal(end) {
			v = 190
		}
		pts = append(pts, backtest.Point{Time: ts, Value: v})
	}
	// The last 3 days of another series level-shift by 2σ (after the
	// relative floor, 5% of 100) from 8h to 3h before the end.
	var shift []backtest.Point
	shiftFrom, shiftTo := end.Add(-8*time.Hour), end.Add(-3*time.Hour)
	srng := rand.New(rand.NewPCG(11, 3))
	for ts := end.Add(-3 * 24 * time.Hour); !ts.After(end); ts = ts.Add(5 * time.Minute) {
		v := 100 + 3*srng.NormFloat64()
		if !ts.Before(shiftFrom) && ts.Before(shiftTo) {
			v += 10
		}
		shift = append(shift, backtest.Point{Time: ts, Value: v})
	}
	// In time slices, both series together, as a stock Prometheus wants
	// them: its head refuses samples older than what it already holds.
	for i := 0; i < len(pts); i += 100 {
		s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_eval"}, {Name: "instance", Value: "x"}}}
		sh := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_shift"}, {Name: "instance", Value: "y"}}}
		slice := pts[i:min(i+100, len(pts))]
		for _, p := range slice {
			s.Samples = append(s.Samples, remotewrite.Sample{T: p.Time.UnixMilli(), V: p.Value})
		}
		for _, p := range shift {
			if !p.Time.Before(slice[0].Time) && !p.Time.After(slice[len(slice)-1].Time) {
				sh.Samples = append(sh.Samples, remotewrite.Sample{T: p.Time.UnixMilli(), V: p.Value})
			}
		}
		batch := []remotewrite.Series{s}
		if len(sh.Samples) > 0 {
			batch = append(batch, sh)
		}
		require.NoError(t, w.Write(ctx, batch))
	}

	for _, tc := range []struct {
		method  rules.Method
		window  time.Duration // the backtest's Baseline
		tolRel  float64
		seasons int
	}{
		{rules.MethodWindow, 2 * 24 * time.Hour, 1e-9, 0},
		{rules.MethodRobust, 7 * 24 * time.Hour, 1e-9, 0},
		{rules.MethodSeasonal, alerting.SeasonalWindow, 1e-9, 2},
	} {
		t.Run(string(tc.method), func(t *testing.T) {
			t.Parallel()
			a := baseAnomaly()
			a.Method, a.ExcludeRecent, a.MinHistory = tc.method, config.Duration(time.Hour), config.Duration(24*time.Hour)
			a.Baseline = config.Duration(tc.window)
			a.SustainedPoints, a.SustainedThreshold = 12, 1.5
			if tc.method == rules.MethodSeasonal {
				a.Seasons, a.Baseline, a.ExcludeRecent = tc.seasons, config.Duration(time.Duration(tc.seasons)*7*24*time.Hour), 0
			}
			rule := anomalyRule("sw_eval", a)
			ev, err := alerting.Evaluate(ctx, q, rule, end, 5*time.Minute)
			require.NoError(t, err)
			require.Len(t, ev.Series, 1)
			got := ev.Series[0].Result
			require.True(t, got.OK(), "%+v", got)

			bt := backtest.Rule{Name: "x", Params: ev.Params, Baseline: tc.window, Gap: time.Duration(a.ExcludeRecent), MinHistory: 24 * time.Hour,
				Timing: alerting.TimingFor(rule)}
			if tc.method == rules.MethodSeasonal {
				bt.Params.MinSeasons = tc.seasons
			}
			ticks, _, err := backtest.Run(pts, bt)
			require.NoError(t, err)
			want := ticks[len(ticks)-1].Result
			require.True(t, want.OK())
			require.InEpsilon(t, want.Center, got.Center, tc.tolRel, "centre")
			require.InEpsilon(t, want.Spread, got.Spread, max(tc.tolRel, 1e-9), "spread")
			require.InEpsilon(t, want.Z, got.Z, max(tc.tolRel*2, 1e-9), "z")
			require.Greater(t, got.Z, 4.0, "the last point is a spike")
			require.NotNil(t, ev.Series[0].Sustained)
			require.InDelta(t, ticks[len(ticks)-1].SustainedZ, ev.Series[0].Sustained.Z, 1e-6, "sustained z")
			require.NotZero(t, ev.Series[0].Sustained.Z)
		})
	}
	t.Run("sustained level shift", func(t *testing.T) {
		t.Parallel()
		sustainedShift(t, q, shift, end)
	})
}

// sustainedShift runs Evaluate and Advance tick by tick over a level shift
// and checks every tick against backtest.RunFrom over the same points: a
// shift of 2σ for five hours, which the main threshold of 4 never sees,
// fires through sustained_points and resolves once the longer average falls
// back under its resolve threshold.
func sustainedShift(t *testing.T, q *promql.Client, pts []backtest.Point, end time.Time) {
	t.Helper()
	ctx := context.Background()

	a := baseAnomaly()
	a.Baseline, a.ExcludeRecent, a.MinHistory = config.Duration(2*24*time.Hour), config.Duration(time.Hour), config.Duration(24*time.Hour)
	a.Smoothing, a.SustainedPoints, a.SustainedThreshold = 3, 12, 1.5
	rule := anomalyRule("sw_shift", a)
	rule.For, rule.RepeatInterval = config.Duration(10*time.Minute), config.Duration(time.Hour)
	labels := lbl("instance", "y")
	bt := backtest.Rule{Name: alerting.RuleKey(rule), Fingerprint: alerting.Fingerprint(labels), Params: alerting.ParamsFor(rule),
		Baseline: time.Duration(a.Baseline), Gap: time.Duration(a.ExcludeRecent), MinHistory: time.Duration(a.MinHistory),
		Timing: alerting.TimingFor(rule)}
	from := end.Add(-10 * time.Hour)
	want, sum, err := backtest.RunFrom(pts, bt, from)
	require.NoError(t, err)
	require.Positive(t, sum.Firings, "the shift fires through the sustained check")
	require.Positive(t, sum.Resolves, "and resolves after it")
	require.Zero(t, sum.Insufficient+sum.Missing)

	off := bt
	off.Params.SustainedPoints, off.Params.SustainedThreshold = 0, 0
	_, offSum, err := backtest.RunFrom(pts, off, from)
	require.NoError(t, err)
	require.Zero(t, offSum.Pendings, "the main threshold alone misses the shift")

	prev := map[string]alerting.Stored{}
	fired := 0
	for _, tk := range want {
		ev, err := alerting.Evaluate(ctx, q, rule, tk.Time, 5*time.Minute)
		require.NoError(t, err)
		require.Len(t, ev.Series, 1)
		o := ev.Series[0]
		require.Equal(t, labels, o.Labels)
		require.True(t, o.Result.OK(), "%s: %+v", tk.Time, o.Result)
		require.InDelta(t, tk.Result.Z, o.Result.Z, 1e-6, "%s: z", tk.Time)
		require.NotNil(t, o.Sustained, tk.Time)
		require.InDelta(t, tk.SustainedZ, o.Sustained.Z, 1e-6, "%s: sustained z", tk.Time)

		outs := alerting.Advance(ev, prev, tk.Time)
		require.Len(t, outs, 1)
		got := outs[0]
		require.Equal(t, tk.State, got.Next.State, "%s: state", tk.Time)
		require.Equal(t, tk.Notification, got.Notification, "%s: notification", tk.Time)
		if got.Notification.Kind == alerting.KindFiring {
			fired++
		}
		prev = map[string]alerting.Stored{got.Key.Fingerprint: {Labels: got.Labels, State: got.Next}}
	}
	require.Equal(t, sum.Firings, fired, "the same firing ticks")
}

// TestDeadMansSwitch evaluates the switch's rule against a real Prometheus:
// nothing collected at all pages once; afterwards only the stale job does.
func TestDeadMansSwitch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, q := clients(t)
	_, ok := alerting.DeadMansSwitchRule(rules.Settings{}, "")
	require.False(t, ok, "off unless configured")
	s := rules.DefaultSettings()
	s.DeadMansSwitch = &rules.DeadMansSwitch{MaxAge: config.Duration(30 * time.Minute), Alert: "CollectStale", Severity: "critical"}
	rule, ok := alerting.DeadMansSwitchRule(s, "")
	require.True(t, ok)
	require.Equal(t, "critical", rule.Labels["severity"])
	require.NotEmpty(t, rule.Annotations["summary"])
	at := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

	ev, err := alerting.Evaluate(ctx, q, rule, at, time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 1, "never collected: one alert")
	require.Empty(t, ev.Series[0].Labels)

	var series []remotewrite.Series
	for _, j := range []struct {
		job string
		age time.Duration
	}{{"stale", 2 * time.Hour}, {"fresh", 5 * time.Minute}} {
		ts := at.Add(-j.age)
		series = append(series, remotewrite.Series{
			Labels: []remotewrite.Label{{Name: "__name__", Value: alerting.CollectLastSuccessMetric}, {Name: "job", Value: j.job},
				{Name: "sigmawatch_deployment", Value: "default"}},
			Samples: []remotewrite.Sample{{T: ts.UnixMilli(), V: float64(ts.Unix())}},
		})
	}
	// Another deployment's collector of the same job, fresh: it must not
	// hide this deployment's stale one.
	series = append(series, remotewrite.Series{
		Labels: []remotewrite.Label{{Name: "__name__", Value: alerting.CollectLastSuccessMetric}, {Name: "job", Value: "stale"},
			{Name: "sigmawatch_deployment", Value: "other"}},
		Samples: []remotewrite.Sample{{T: at.Add(-time.Minute).UnixMilli(), V: float64(at.Add(-time.Minute).Unix())}},
	})
	require.NoError(t, w.Write(ctx, series))
	ev, err = alerting.Evaluate(ctx, q, rule, at, time.Minute)
	require.NoError(t, err)
	require.Len(t, ev.Series, 1)
	require.Equal(t, lbl("job", "stale"), ev.Series[0].Labels)
	require.InDelta(t, 7200, ev.Series[0].Result.Value, 0, "the value is the age in seconds")
	outs := alerting.Advance(ev, nil, at)
	require.Equal(t, alerting.KindFiring, outs[0].Notification.Kind, "for 0: fires at once")
}
