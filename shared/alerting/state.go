package alerting

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// State is where one series of one rule stands.
type State string

// The states, as Prometheus names them.
const (
	StateInactive State = "inactive"
	StatePending  State = "pending"
	StateFiring   State = "firing"
)

// Active reports whether the state is pending or firing, which is what
// anomaly.Params.Anomalous wants as wasActive for its hysteresis.
func (s State) Active() bool { return s == StatePending || s == StateFiring }

// MissingData is what a rule does at a tick where its series has no data.
type MissingData string

// The missing-data policies.
const (
	// MissingDataKeep freezes the state: a pending alert neither advances
	// nor resets, a firing one keeps firing, until the missing-data timeout
	// resolves it.
	MissingDataKeep MissingData = "keep"
	// MissingDataResolve treats a tick without data as a tick where the
	// condition does not hold (keep_firing_for still applies).
	MissingDataResolve MissingData = "resolve"
)

// Reason is why an episode resolved.
type Reason int

// The reasons. They are persisted as numbers: append only.
const (
	// ReasonCleared: the condition stopped holding (and keep_firing_for ran out).
	ReasonCleared Reason = iota
	// ReasonNoData: the series had no data for the missing-data timeout.
	ReasonNoData
	// ReasonRuleRemoved: the rule is no longer in the rules file (removed,
	// renamed, or moved to another group).
	ReasonRuleRemoved
)

// AlertState is the persisted state of one series of one rule: a plain
// struct of times and numbers so it can be written as series and read back.
// Zero times mean "not set".
type AlertState struct {
	State State
	// ActiveAt is when the condition started to hold (pending since).
	ActiveAt time.Time
	// FiredAt is when the alert went firing; it names the episode. It is
	// kept after the episode resolves, until the resolution is notified.
	FiredAt time.Time
	// LastSentAt is when the series' last firing or repeat event was due
	// (Step's per-series repeat clock, which the backtest counts).
	LastSentAt time.Time
	// NotifiedAt is when a notification last listed the series as firing
	// (Plan's clock): zero until the episode is first notified; after the
	// episode resolves it stays set until the resolution is notified.
	NotifiedAt time.Time
	// KeepFiringSince is when the condition stopped holding while firing;
	// zero while the condition holds. Non-zero means recovering: firing
	// only because of keep_firing_for.
	KeepFiringSince time.Time
	// ResolvedAt is when the last episode resolved, and Reason why.
	ResolvedAt time.Time
	Reason     Reason
	// LastDataAt is the last tick at which the series had data.
	LastDataAt time.Time
	// Severity is the alert's severity label as it was when the episode
	// fired (its template expanded then): the routing attribute of every
	// notification of the episode, the resolved one included.
	Severity string
	// LastValue and LastZ are from the last tick that had data.
	LastValue float64
	LastZ     float64
}

// Unannounced: firing, and no notification has listed it yet.
func (s AlertState) Unannounced() bool { return s.State == StateFiring && s.NotifiedAt.IsZero() }

// ResolveDue: the episode was notified as firing and has resolved, and the
// resolution is not notified yet.
func (s AlertState) ResolveDue() bool { return s.State != StateFiring && !s.NotifiedAt.IsZero() }

// Recovering: firing only because keep_firing_for holds it.
func (s AlertState) Recovering() bool { return s.State == StateFiring && !s.KeepFiringSince.IsZero() }

// Kept reports whether the state must be persisted: active, or owing a
// resolved notification.
func (s AlertState) Kept() bool { return s.State.Active() || s.ResolveDue() }

// Timing is the per-rule timing of the state machine.
type Timing struct {
	// For is how long the condition must hold before pending turns firing;
	// zero fires at the first tick where it holds.
	For time.Duration
	// KeepFiringFor keeps a firing alert firing this long after the
	// condition stops holding.
	KeepFiringFor time.Duration
	// RepeatInterval re-sends a firing notification this often; zero never
	// repeats.
	RepeatInterval time.Duration
	// MissingData is the policy for ticks without data; empty means keep.
	MissingData MissingData
	// MissingDataTimeout resolves (under MissingDataKeep) an alert whose
	// series has had no data this long; zero never does.
	MissingDataTimeout time.Duration
}

// Observation is what the caller saw for one series at one tick.
type Observation struct {
	// Missing: the series had no usable data at this tick. Holds is ignored.
	Missing bool
	// Holds: the condition holds (for anomaly rules, Params.Anomalous(z,
	// prev.State.Active()), so hysteresis is already applied).
	Holds bool
	// Value and Z are recorded in the state for messages.
	Value float64
	Z     float64
}

// Kind is the kind of notification a tick produces.
type Kind string

// The notification kinds. KindNone means nothing to send.
const (
	KindNone     Kind = ""
	KindFiring   Kind = "firing"
	KindRepeat   Kind = "repeat"
	KindResolved Kind = "resolved"
)

// Key names the series a state belongs to.
type Key struct {
	Rule        string
	Fingerprint string
}

// Notification is what a tick asks to send. Kind is KindNone when nothing is due.
type Notification struct {
	Kind Kind
	// ID is stable: the same key, episode, kind and tick always give the same ID.
	ID      string
	At      time.Time
	FiredAt time.Time
}

// Step advances the state machine by one tick at time at, the scheduled
// time of the run. It is pure: a retried run with the same previous state
// and the same observation returns the same state and the same notification
// (with the same ID).
//
// The notification is the series' own event (it fired, it resolved, a
// repeat is due), which the backtest counts. The alert function does not
// send it as is: Plan groups the series' states into notifications the way
// Alertmanager does.
func Step(key Key, prev AlertState, obs Observation, at time.Time, tm Timing) (AlertState, Notification) {
	next := prev
	if next.State == "" {
		next.State = StateInactive
	}
	if obs.Missing {
		if tm.MissingData != MissingDataResolve {
			// Frozen until the timeout: a gap in the data neither resolves
			// nor re-fires an alert, but a series that is gone for good must
			// not keep an alert firing for ever.
			if next.State.Active() && tm.MissingDataTimeout > 0 && !at.Before(lastData(next).Add(tm.MissingDataTimeout)) {
				return resolve(key, next, at, ReasonNoData)
			}
			if next.State == StateFiring && next.KeepFiringSince.IsZero() {
				// The people paged should hear it is not over just
				// because the data stopped.
				return repeatIfDue(key, next, at, tm)
			}
			return next, Notification{}
		}
		obs = Observation{Holds: false, Value: prev.LastValue, Z: prev.LastZ}
	} else {
		next.LastValue, next.LastZ = obs.Value, obs.Z
		next.LastDataAt = at
	}

	switch next.State {
	case StateInactive:
		if !obs.Holds {
			return next, Notification{}
		}
		next.ActiveAt = at
		if tm.For <= 0 {
			return fire(key, next, at)
		}
		next.State = StatePending
		return next, Notification{}

	case StatePending:
		if !obs.Holds {
			next.State = StateInactive
			next.ActiveAt = time.Time{}
			return next, Notification{}
		}
		if !at.Before(next.ActiveAt.Add(tm.For)) {
			return fire(key, next, at)
		}
		return next, Notification{}

	case StateFiring:
		if obs.Holds {
			next.KeepFiringSince = time.Time{}
			return repeatIfDue(key, next, at, tm)
		}
		if next.KeepFiringSince.IsZero() {
			next.KeepFiringSince = at
		}
		if tm.KeepFiringFor > 0 && at.Before(next.KeepFiringSince.Add(tm.KeepFiringFor)) {
			// Recovering: kept firing, but a repeat would say nothing new.
			return next, Notification{}
		}
		return resolve(key, next, at, ReasonCleared)
	}
	// An unknown persisted state is treated as inactive rather than failing
	// the rule: the next tick rebuilds it from the condition.
	next.State = StateInactive
	return Step(key, next, obs, at, tm)
}

// fire starts an episode. A series whose previous resolution was not
// notified yet keeps its NotifiedAt: as in Alertmanager, a flap within one
// group_interval is not seen by the receiver.
func fire(key Key, s AlertState, at time.Time) (AlertState, Notification) {
	s.State = StateFiring
	s.FiredAt = at
	s.LastSentAt = at
	s.KeepFiringSince = time.Time{}
	s.ResolvedAt, s.Reason = time.Time{}, ReasonCleared
	return s, notification(key, KindFiring, at, at)
}

// Resolve ends an active episode at at for reason (the engine's use:
// ReasonRuleRemoved). A pending alert just goes inactive.
func Resolve(key Key, s AlertState, at time.Time, reason Reason) (AlertState, Notification) {
	return resolve(key, s, at, reason)
}

// resolve ends the episode. FiredAt, ActiveAt and NotifiedAt stay, so that
// the resolution can be notified (when the firing was) with the episode's
// start, possibly a few runs later (group_interval).
func resolve(key Key, s AlertState, at time.Time, reason Reason) (AlertState, Notification) {
	switch s.State {
	case StatePending:
		s.State = StateInactive
		s.ActiveAt = time.Time{}
		return s, Notification{}
	case StateFiring:
		s.State = StateInactive
		s.LastSentAt, s.KeepFiringSince = time.Time{}, time.Time{}
		s.ResolvedAt, s.Reason = at, reason
		return s, notification(key, KindResolved, s.FiredAt, at)
	}
	return s, Notification{}
}

// lastData is when s last had data; state written before LastDataAt
// existed falls back to when it became active.
func lastData(s AlertState) time.Time {
	if !s.LastDataAt.IsZero() {
		return s.LastDataAt
	}
	return s.ActiveAt
}

func repeatIfDue(key Key, s AlertState, at time.Time, tm Timing) (AlertState, Notification) {
	if tm.RepeatInterval <= 0 || at.Before(s.LastSentAt.Add(tm.RepeatInterval)) {
		return s, Notification{}
	}
	s.LastSentAt = at
	return s, notification(key, KindRepeat, s.FiredAt, at)
}

func notification(key Key, kind Kind, firedAt, at time.Time) Notification {
	return Notification{Kind: kind, ID: NotificationID(key, firedAt, kind, at), At: at, FiredAt: firedAt}
}

// NotificationID is the stable id of a notification: a hash of the rule,
// the series fingerprint, the episode (fired_at), the kind and the scheduled
// time it was computed for. Times are in Unix milliseconds so a time's
// location or monotonic reading cannot change the id.
func NotificationID(key Key, firedAt time.Time, kind Kind, at time.Time) string {
	h := sha256.New()
	// Length-prefixed fields, so no choice of rule name or fingerprint can
	// collide with another split of the same bytes.
	for _, f := range []string{key.Rule, key.Fingerprint, millis(firedAt), string(kind), millis(at)} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func millis(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}
