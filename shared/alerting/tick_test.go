package alerting_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

func observed(labels map[string]string, r anomaly.Result, missing bool) alerting.Observed {
	return alerting.Observed{Labels: labels, Fingerprint: alerting.Fingerprint(labels), Result: r, Missing: missing}
}

func TestAdvance(t *testing.T) {
	t.Parallel()
	at := evalAt
	la, lb := lbl("i", "a"), lbl("i", "b")
	fa, fb := alerting.Fingerprint(la), alerting.Fingerprint(lb)
	firing := alerting.AlertState{State: alerting.StateFiring, ActiveAt: at.Add(-time.Hour), FiredAt: at.Add(-time.Hour), LastSentAt: at.Add(-time.Hour), LastValue: 7}
	recent := firing
	recent.LastDataAt = at.Add(-5 * time.Minute)
	anomalyR := anomalyRule("x", baseAnomaly())
	anomalyR.For = config.Duration(10 * time.Minute)
	anomalyR.RepeatInterval = config.Duration(4 * time.Hour)
	resolveR := anomalyR
	resolveR.MissingData = rules.MissingResolve
	threshold := rules.Rule{Alert: "T", Expr: "x > 1"}
	ok := func(z float64) anomaly.Result { return anomaly.Result{Status: anomaly.StatusOK, Value: 1, Z: z} }
	sustainedA := baseAnomaly()
	sustainedA.Sustained, sustainedA.SustainedThreshold = rules.Window(time.Hour), 2 // resolves below 2 × 2/4 = 1
	sustainedR := anomalyRule("x", sustainedA)
	withSustained := func(labels map[string]string, z, sz float64) alerting.Observed {
		o := observed(labels, ok(z), false)
		s := ok(sz)
		o.Sustained = &s
		return o
	}

	for _, tc := range []struct {
		name   string
		rule   rules.Rule
		series []alerting.Observed
		prev   map[string]alerting.Stored
		want   map[string]alerting.State
		kinds  map[string]alerting.Kind
	}{
		{
			name:   "anomalous series goes pending, a quiet one stays inactive",
			rule:   anomalyR,
			series: []alerting.Observed{observed(la, ok(5), false), observed(lb, ok(1), false)},
			want:   map[string]alerting.State{fa: alerting.StatePending, fb: alerting.StateInactive},
		},
		{
			name:   "hysteresis: a firing alert holds while |z| stays over the resolve threshold",
			rule:   anomalyR,
			series: []alerting.Observed{observed(la, ok(-2.5), false)},
			prev:   map[string]alerting.Stored{fa: {Labels: la, State: firing}},
			want:   map[string]alerting.State{fa: alerting.StateFiring},
		},
		{
			name: "sustained: a lasting shift holds below the main threshold",
			rule: sustainedR,
			series: []alerting.Observed{
				withSustained(la, 2.2, 2.5), withSustained(lb, 3.9, 1.9),
			},
			want:  map[string]alerting.State{fa: alerting.StateFiring, fb: alerting.StateInactive},
			kinds: map[string]alerting.Kind{fa: alerting.KindFiring},
		},
		{
			name:   "sustained hysteresis: an active alert holds down to the scaled resolve threshold",
			rule:   sustainedR,
			series: []alerting.Observed{withSustained(la, -1.1, -1.2), withSustained(lb, 0.5, 0.9)},
			prev:   map[string]alerting.Stored{fa: {Labels: la, State: firing}, fb: {Labels: lb, State: firing}},
			want:   map[string]alerting.State{fa: alerting.StateFiring, fb: alerting.StateInactive},
			kinds:  map[string]alerting.Kind{fb: alerting.KindResolved},
		},
		{
			name:   "sustained is ignored when the rule has it off",
			rule:   anomalyR,
			series: []alerting.Observed{withSustained(la, 1, 9)},
			want:   map[string]alerting.State{fa: alerting.StateInactive},
		},
		{
			name:   "insufficient data is not an anomaly and resolves",
			rule:   anomalyR,
			series: []alerting.Observed{observed(la, anomaly.Result{Status: anomaly.StatusInsufficientData}, false)},
			prev:   map[string]alerting.Stored{fa: {Labels: la, State: firing}},
			want:   map[string]alerting.State{fa: alerting.StateInactive},
			kinds:  map[string]alerting.Kind{fa: alerting.KindResolved},
		},
		{
			name:  "a vanished series of an anomaly rule is missing data: kept",
			rule:  anomalyR,
			prev:  map[string]alerting.Stored{fa: {Labels: la, State: recent}},
			want:  map[string]alerting.State{fa: alerting.StateFiring},
			kinds: map[string]alerting.Kind{},
		},
		{
			name:  "... until the missing-data timeout (1h by default), then resolved",
			rule:  anomalyR,
			prev:  map[string]alerting.Stored{fa: {Labels: la, State: firing}},
			want:  map[string]alerting.State{fa: alerting.StateInactive},
			kinds: map[string]alerting.Kind{fa: alerting.KindResolved},
		},
		{
			name:  "missing_data: resolve",
			rule:  resolveR,
			prev:  map[string]alerting.Stored{fa: {Labels: la, State: firing}},
			want:  map[string]alerting.State{fa: alerting.StateInactive},
			kinds: map[string]alerting.Kind{fa: alerting.KindResolved},
		},
		{
			name:   "threshold rule: returned series fire at once, absent ones resolve",
			rule:   threshold,
			series: []alerting.Observed{{Labels: lb, Fingerprint: fb, Active: true, Result: ok(0)}},
			prev:   map[string]alerting.Stored{fa: {Labels: la, State: firing}},
			want:   map[string]alerting.State{fa: alerting.StateInactive, fb: alerting.StateFiring},
			kinds:  map[string]alerting.Kind{fa: alerting.KindResolved, fb: alerting.KindFiring},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := alerting.Evaluation{Rule: tc.rule, Params: detector(tc.rule), At: at, Series: tc.series}
			outs := alerting.Advance(ev, tc.prev, at)
			again := alerting.Advance(ev, tc.prev, at)
			require.Equal(t, outs, again, "pure: a retry gives the same outcomes")
			got := map[string]alerting.State{}
			kinds := map[string]alerting.Kind{}
			for _, o := range outs {
				got[o.Key.Fingerprint] = o.Next.State
				require.Equal(t, tc.rule.Alert, o.Key.Rule)
				if o.Notification.Kind != alerting.KindNone {
					kinds[o.Key.Fingerprint] = o.Notification.Kind
					require.NotEmpty(t, o.Notification.ID)
				}
			}
			require.Equal(t, tc.want, got)
			if tc.kinds == nil {
				tc.kinds = map[string]alerting.Kind{}
			}
			require.Equal(t, tc.kinds, kinds)
		})
	}
}

func TestAlertLabels(t *testing.T) {
	t.Parallel()
	r := rules.Rule{Alert: "CPU", Labels: map[string]string{"severity": "critical", "tier": "{{ if gt $value 10.0 }}high{{ else }}low{{ end }}", "bad": "{{ .Nope.Nope }}"}}
	got := alerting.AlertLabels(r, lbl("instance", "a", "alertname", "spoofed"), 12)
	require.Equal(t, "CPU", got["alertname"], "the rule names the alert")
	require.Equal(t, "high", got["tier"])
	require.Equal(t, "critical", got["severity"])
	require.Equal(t, "a", got["instance"])
	require.Equal(t, "{{ .Nope.Nope }}", got["bad"], "a failing template keeps its text")
}
