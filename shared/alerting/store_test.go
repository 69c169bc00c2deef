package alerting_test

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

func clients(t testing.TB) (*remotewrite.Client, *promql.Client) {
	t.Helper()
	_, w, q := promClients(t)
	return w, q
}

// promClients starts a Prometheus and returns it with a remote-write
// client and a PromQL client for it (tests and benchmarks).
func promClients(t testing.TB) (*testenv.Receiver, *remotewrite.Client, *promql.Client) {
	t.Helper()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	return prom, w, q
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
	series = append(series, store.RunSeries(at, false)...)
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

// TestOutboxRoundTrip records two planned notifications in a real
// Prometheus, marks one sent, and reads back the other exactly as planned:
// from the run that planned it, from its retry, and from a late retry of an
// earlier time (which must see what later runs recorded and sent).
func TestOutboxRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, q := clients(t)
	store := alerting.NewStore(q, "stack-a")
	at := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	planned := []alerting.Planned{
		{ID: "aa01", Rule: alerting.RuleRef{Group: "g", Alert: "CPU"}, Kind: alerting.KindFiring, At: at, Severity: "critical",
			GroupLabels: map[string]string{"region": "eu-west-1"},
			Members: []alerting.Member{
				{Labels: lbl("instance", "a", "region", "eu-west-1"), New: true, Scored: true, Value: 91.5, Z: 7.25, Center: 40, Spread: 2, StartsAt: at.Add(-10 * time.Minute)},
				{Labels: lbl("instance", "b", "region", "eu-west-1"), Recovering: true, Value: 50, StartsAt: at.Add(-time.Hour)},
				{Labels: lbl("instance", "c", "region", "eu-west-1"), Resolved: true, Reason: alerting.ReasonNoData, Value: 3, StartsAt: at.Add(-2 * time.Hour), EndsAt: at},
			}},
		{ID: "bb02", Rule: alerting.RuleRef{Group: "g", Alert: "Disk"}, Kind: alerting.KindResolved, At: at,
			Members: []alerting.Member{{Labels: lbl("volume", "data"), Resolved: true, Reason: alerting.ReasonRuleRemoved, EndsAt: at}}},
	}
	for i := range planned {
		for k := range planned[i].Members {
			planned[i].Members[k].Fingerprint = alerting.Fingerprint(planned[i].Members[k].Labels)
		}
	}
	require.NoError(t, w.Write(ctx, store.OutboxSeries(at, planned)))
	require.NoError(t, w.Write(ctx, store.SentSeries(at.Add(time.Minute), []string{"bb02"})))

	for _, when := range []time.Time{at, at.Add(time.Minute), at.Add(-time.Minute)} {
		got, err := store.Unsent(ctx, when, 24*time.Hour)
		require.NoError(t, err)
		require.Equal(t, planned[:1], got, "read at %s", when)
	}
	other, err := alerting.NewStore(q, "stack-b").Unsent(ctx, at, 24*time.Hour)
	require.NoError(t, err)
	require.Empty(t, other, "another deployment's outbox is not ours")
}
