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
	// nor resets, a firing one keeps firing (and keeps repeating).
	MissingDataKeep MissingData = "keep"
	// MissingDataResolve treats a tick without data as a tick where the
	// condition does not hold (keep_firing_for still applies).
	MissingDataResolve MissingData = "resolve"
)

// AlertState is the persisted state of one series of one rule: a plain
// struct of times and numbers so it can be written as series and read back.
// Zero times mean "not set".
type AlertState struct {
	State State
	// ActiveAt is when the condition started to hold (pending since).
	ActiveAt time.Time
	// FiredAt is when the alert went firing; it names the episode.
	FiredAt time.Time
	// LastSentAt is when the last firing or repeat notification was due.
	LastSentAt time.Time
	// KeepFiringSince is when the condition stopped holding while firing;
	// zero while the condition holds.
	KeepFiringSince time.Time
	// ResolvedAt is when the last episode resolved.
	ResolvedAt time.Time
	// LastValue and LastZ are from the last tick that had data.
	LastValue float64
	LastZ     float64
}

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
func Step(key Key, prev AlertState, obs Observation, at time.Time, tm Timing) (AlertState, Notification) {
	next := prev
	if next.State == "" {
		next.State = StateInactive
	}
	if obs.Missing {
		if tm.MissingData != MissingDataResolve {
			// Frozen, but a firing alert still reminds: the people paged
			// should hear it is not over just because the data stopped.
			if next.State == StateFiring {
				return repeatIfDue(key, next, at, tm)
			}
			return next, Notification{}
		}
		obs = Observation{Holds: false, Value: prev.LastValue, Z: prev.LastZ}
	} else {
		next.LastValue, next.LastZ = obs.Value, obs.Z
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
			return repeatIfDue(key, next, at, tm)
		}
		firedAt := next.FiredAt
		next.State = StateInactive
		next.ActiveAt, next.FiredAt, next.LastSentAt, next.KeepFiringSince = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		next.ResolvedAt = at
		return next, notification(key, KindResolved, firedAt, at)
	}
	// An unknown persisted state is treated as inactive rather than failing
	// the rule: the next tick rebuilds it from the condition.
	next.State = StateInactive
	return Step(key, next, obs, at, tm)
}

func fire(key Key, s AlertState, at time.Time) (AlertState, Notification) {
	s.State = StateFiring
	s.FiredAt = at
	s.LastSentAt = at
	s.KeepFiringSince = time.Time{}
	return s, notification(key, KindFiring, at, at)
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
