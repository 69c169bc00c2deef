package alerting_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

var (
	t0  = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	key = alerting.Key{Rule: "CPUAnomaly", Fingerprint: "abc123"}
)

const (
	I = alerting.StateInactive
	P = alerting.StatePending
	F = alerting.StateFiring

	none     = alerting.KindNone
	firing   = alerting.KindFiring
	repeat   = alerting.KindRepeat
	resolved = alerting.KindResolved
)

// obs shorthands: h holds, c clear, m missing.
type tick struct {
	obs   byte
	state alerting.State
	kind  alerting.Kind
}

func run(tm alerting.Timing, ticks []tick, step time.Duration) ([]alerting.State, []alerting.Kind, []alerting.Notification) {
	var (
		s      alerting.AlertState
		states []alerting.State
		kinds  []alerting.Kind
		sent   []alerting.Notification
	)
	for i, tk := range ticks {
		at := t0.Add(time.Duration(i) * step)
		o := alerting.Observation{Holds: tk.obs == 'h', Missing: tk.obs == 'm', Value: float64(i), Z: float64(i)}
		var n alerting.Notification
		s, n = alerting.Step(key, s, o, at, tm)
		states = append(states, s.State)
		kinds = append(kinds, n.Kind)
		if n.Kind != alerting.KindNone {
			sent = append(sent, n)
		}
	}
	return states, kinds, sent
}

func TestStepTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		tm    alerting.Timing
		ticks []tick
	}{
		{
			name:  "for=0 fires straight from inactive and resolves",
			tm:    alerting.Timing{},
			ticks: []tick{{'c', I, none}, {'h', F, firing}, {'h', F, none}, {'c', I, resolved}, {'c', I, none}},
		},
		{
			name:  "pending is silent until for has elapsed",
			tm:    alerting.Timing{For: 2 * time.Minute},
			ticks: []tick{{'h', P, none}, {'h', P, none}, {'h', F, firing}, {'h', F, none}, {'c', I, resolved}},
		},
		{
			name:  "pending that clears resets without a notification",
			tm:    alerting.Timing{For: 2 * time.Minute},
			ticks: []tick{{'h', P, none}, {'c', I, none}, {'h', P, none}, {'h', P, none}, {'h', F, firing}},
		},
		{
			name:  "keep_firing_for holds firing after the condition clears",
			tm:    alerting.Timing{KeepFiringFor: 3 * time.Minute},
			ticks: []tick{{'h', F, firing}, {'c', F, none}, {'c', F, none}, {'c', F, none}, {'c', I, resolved}},
		},
		{
			name:  "condition back within keep_firing_for restarts the countdown",
			tm:    alerting.Timing{KeepFiringFor: 2 * time.Minute},
			ticks: []tick{{'h', F, firing}, {'c', F, none}, {'h', F, none}, {'c', F, none}, {'c', F, none}, {'c', I, resolved}},
		},
		{
			name: "repeat exactly at the repeat_interval boundary, not before",
			tm:   alerting.Timing{RepeatInterval: 3 * time.Minute},
			ticks: []tick{
				{'h', F, firing}, {'h', F, none}, {'h', F, none}, {'h', F, repeat},
				{'h', F, none}, {'h', F, none}, {'h', F, repeat}, {'c', I, resolved},
			},
		},
		{
			name: "no repeat while only keep_firing_for holds it firing",
			tm:   alerting.Timing{RepeatInterval: 2 * time.Minute, KeepFiringFor: 5 * time.Minute},
			ticks: []tick{
				{'h', F, firing}, {'c', F, none}, {'c', F, none}, {'c', F, none}, {'c', F, none}, {'c', F, none}, {'c', I, resolved},
			},
		},
		{
			name:  "the condition back within keep_firing_for repeats when due",
			tm:    alerting.Timing{RepeatInterval: 2 * time.Minute, KeepFiringFor: 5 * time.Minute},
			ticks: []tick{{'h', F, firing}, {'c', F, none}, {'c', F, none}, {'h', F, repeat}},
		},
		{
			name:  "repeat_interval zero never repeats",
			tm:    alerting.Timing{},
			ticks: []tick{{'h', F, firing}, {'h', F, none}, {'h', F, none}, {'h', F, none}},
		},
		{
			name:  "missing data keeps pending without advancing it",
			tm:    alerting.Timing{For: 2 * time.Minute},
			ticks: []tick{{'h', P, none}, {'m', P, none}, {'m', P, none}, {'h', F, firing}},
		},
		{
			name:  "missing data keeps firing and still repeats",
			tm:    alerting.Timing{RepeatInterval: 2 * time.Minute},
			ticks: []tick{{'h', F, firing}, {'m', F, none}, {'m', F, repeat}, {'c', I, resolved}},
		},
		{
			name:  "missing data resolves a firing alert after the missing-data timeout",
			tm:    alerting.Timing{RepeatInterval: time.Hour, MissingDataTimeout: 2 * time.Minute},
			ticks: []tick{{'h', F, firing}, {'m', F, none}, {'m', I, resolved}, {'m', I, none}},
		},
		{
			name:  "missing data resets pending after the missing-data timeout, silently",
			tm:    alerting.Timing{For: time.Hour, MissingDataTimeout: 2 * time.Minute},
			ticks: []tick{{'h', P, none}, {'m', P, none}, {'m', I, none}},
		},
		{
			name:  "data back before the missing-data timeout keeps the alert",
			tm:    alerting.Timing{MissingDataTimeout: 2 * time.Minute},
			ticks: []tick{{'h', F, firing}, {'m', F, none}, {'h', F, none}, {'m', F, none}, {'h', F, none}},
		},
		{
			name:  "missing data keeps inactive",
			tm:    alerting.Timing{},
			ticks: []tick{{'m', I, none}, {'m', I, none}},
		},
		{
			name:  "missing data resolves under the resolve policy",
			tm:    alerting.Timing{MissingData: alerting.MissingDataResolve},
			ticks: []tick{{'h', F, firing}, {'m', I, resolved}, {'m', I, none}},
		},
		{
			name:  "missing data resets pending under the resolve policy",
			tm:    alerting.Timing{For: time.Minute, MissingData: alerting.MissingDataResolve},
			ticks: []tick{{'h', P, none}, {'m', I, none}, {'h', P, none}},
		},
		{
			name:  "missing data honours keep_firing_for under the resolve policy",
			tm:    alerting.Timing{KeepFiringFor: 2 * time.Minute, MissingData: alerting.MissingDataResolve},
			ticks: []tick{{'h', F, firing}, {'m', F, none}, {'m', F, none}, {'m', I, resolved}},
		},
		{
			name:  "a second episode fires again",
			tm:    alerting.Timing{},
			ticks: []tick{{'h', F, firing}, {'c', I, resolved}, {'h', F, firing}, {'c', I, resolved}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			states, kinds, _ := run(tt.tm, tt.ticks, time.Minute)
			for i, tk := range tt.ticks {
				require.Equal(t, tk.state, states[i], "state at tick %d", i)
				require.Equal(t, tk.kind, kinds[i], "notification at tick %d", i)
			}
		})
	}
}

func TestStepRecordsTimes(t *testing.T) {
	t.Parallel()
	tm := alerting.Timing{For: time.Minute, KeepFiringFor: time.Minute}
	var s alerting.AlertState
	s, _ = alerting.Step(key, s, alerting.Observation{Holds: true, Value: 5, Z: 4.5}, t0, tm)
	require.Equal(t, t0, s.ActiveAt)
	require.InDelta(t, 4.5, s.LastZ, 0)
	s, n := alerting.Step(key, s, alerting.Observation{Holds: true, Value: 6, Z: 5}, t0.Add(time.Minute), tm)
	require.Equal(t, alerting.KindFiring, n.Kind)
	require.Equal(t, t0.Add(time.Minute), s.FiredAt)
	require.Equal(t, t0.Add(time.Minute), s.LastSentAt)
	require.Equal(t, t0, s.ActiveAt, "firing keeps the pending-since time")
	s, _ = alerting.Step(key, s, alerting.Observation{Value: 1, Z: 0.1}, t0.Add(2*time.Minute), tm)
	require.Equal(t, t0.Add(2*time.Minute), s.KeepFiringSince)
	s, n = alerting.Step(key, s, alerting.Observation{Missing: true}, t0.Add(3*time.Minute), alerting.Timing{MissingData: alerting.MissingDataResolve, KeepFiringFor: time.Minute})
	require.Equal(t, alerting.KindResolved, n.Kind)
	require.Equal(t, t0.Add(time.Minute), n.FiredAt, "resolved names the episode it ends")
	require.Equal(t, alerting.AlertState{State: alerting.StateInactive, ActiveAt: t0, FiredAt: t0.Add(time.Minute), ResolvedAt: t0.Add(3 * time.Minute),
		LastDataAt: t0.Add(2 * time.Minute), LastValue: 1, LastZ: 0.1}, s, "the episode's times stay until its resolution is notified")
}

func TestStepUnknownStateIsInactive(t *testing.T) {
	t.Parallel()
	s, n := alerting.Step(key, alerting.AlertState{State: "bogus"}, alerting.Observation{Holds: true}, t0, alerting.Timing{})
	require.Equal(t, alerting.StateFiring, s.State)
	require.Equal(t, alerting.KindFiring, n.Kind)
}

// TestHysteresisSuppressesFlapping drives the machine with z-scores that
// wobble around the fire threshold: with a single threshold they would fire
// and resolve three times; with the resolve threshold they fire once.
func TestHysteresisSuppressesFlapping(t *testing.T) {
	t.Parallel()
	zs := []float64{1, 4.2, 3.8, 4.1, 3.5, 4.3, 3.6, 2.9, 1, 0.5}
	tests := []struct {
		name              string
		resolve           float64
		firings, resolves int
	}{
		{name: "with hysteresis", resolve: 3, firings: 1, resolves: 1},
		{name: "without hysteresis", resolve: 4, firings: 3, resolves: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := anomaly.DefaultParams()
			p.Threshold, p.ResolveThreshold = 4, tt.resolve
			var (
				s                 alerting.AlertState
				firings, resolves int
			)
			for i, z := range zs {
				var n alerting.Notification
				s, n = alerting.Step(key, s, alerting.Observation{Holds: p.Anomalous(z, s.State.Active()), Z: z}, t0.Add(time.Duration(i)*time.Minute), alerting.Timing{})
				switch n.Kind {
				case alerting.KindFiring:
					firings++
				case alerting.KindResolved:
					resolves++
				}
			}
			require.Equal(t, tt.firings, firings)
			require.Equal(t, tt.resolves, resolves)
		})
	}
}

func TestNotificationIDIsStable(t *testing.T) {
	t.Parallel()
	tm := alerting.Timing{For: time.Minute, RepeatInterval: 2 * time.Minute}
	ticks := []tick{{'h', P, none}, {'h', F, firing}, {'h', F, none}, {'h', F, repeat}, {'c', I, resolved}}
	_, _, a := run(tm, ticks, time.Minute)
	_, _, b := run(tm, ticks, time.Minute)
	require.Len(t, a, 3)
	require.Equal(t, a, b, "a recomputation gives the same ids")
	seen := map[string]bool{}
	for _, n := range a {
		require.Len(t, n.ID, 32)
		require.False(t, seen[n.ID], "ids differ between notifications")
		seen[n.ID] = true
	}

	// A retry of the same tick from the same persisted state: same id.
	prev := alerting.AlertState{State: alerting.StatePending, ActiveAt: t0}
	at := t0.Add(time.Minute)
	_, n1 := alerting.Step(key, prev, alerting.Observation{Holds: true}, at, tm)
	_, n2 := alerting.Step(key, prev, alerting.Observation{Holds: true}, at.In(time.FixedZone("X", 3600)), tm)
	require.Equal(t, n1.ID, n2.ID, "the time zone of the tick does not matter")

	base := alerting.NotificationID(key, t0, alerting.KindFiring, t0)
	tests := []struct {
		name string
		id   string
	}{
		{name: "rule", id: alerting.NotificationID(alerting.Key{Rule: "Other", Fingerprint: key.Fingerprint}, t0, alerting.KindFiring, t0)},
		{name: "fingerprint", id: alerting.NotificationID(alerting.Key{Rule: key.Rule, Fingerprint: "def"}, t0, alerting.KindFiring, t0)},
		{name: "field boundary", id: alerting.NotificationID(alerting.Key{Rule: key.Rule + "a", Fingerprint: "bc123"}, t0, alerting.KindFiring, t0)},
		{name: "fired_at", id: alerting.NotificationID(key, t0.Add(time.Minute), alerting.KindFiring, t0)},
		{name: "kind", id: alerting.NotificationID(key, t0, alerting.KindResolved, t0)},
		{name: "tick", id: alerting.NotificationID(key, t0, alerting.KindFiring, t0.Add(time.Minute))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, base, tt.id)
		})
	}
}

func TestStateActive(t *testing.T) {
	t.Parallel()
	require.False(t, alerting.StateInactive.Active())
	require.True(t, alerting.StatePending.Active())
	require.True(t, alerting.StateFiring.Active())
}
