package alerting

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Policy is how one rule's alerts become notifications: Alertmanager's
// grouping (group_by, group_wait, group_interval, repeat_interval).
type Policy struct {
	// GroupBy are the alert labels that split the rule's alerts into
	// groups; empty is one group (per severity), rules.GroupByAll one per
	// series.
	GroupBy []string
	// GroupWait: a new group waits this long after its first alert fired
	// before its first notification, to collect the others.
	GroupWait time.Duration
	// GroupInterval: after a notification, a group whose alerts changed
	// (new firing, resolved) waits this long before notifying again.
	GroupInterval time.Duration
	// RepeatInterval: a group whose alerts did not change is notified again
	// this long after its last notification; zero never repeats.
	RepeatInterval time.Duration
}

// PolicyFor is the grouping of r (its effective settings, as
// rules.File.Rules returns them).
func PolicyFor(r rules.Rule) Policy {
	return Policy{GroupBy: r.GroupBy, GroupWait: r.Wait(), GroupInterval: r.Interval(), RepeatInterval: time.Duration(r.RepeatInterval)}
}

// Member is one series of a planned notification: everything a message
// lists about it, so that the notification can be recorded before it is
// sent and sent again, the same, from the record.
type Member struct {
	// Labels are the series labels (see SeriesLabels).
	Labels      map[string]string
	Fingerprint string
	// Resolved: listed as resolved, for Reason; otherwise firing.
	Resolved bool
	Reason   Reason
	// New: firing, and listed for the first time. Recovering: firing only
	// because of keep_firing_for.
	New, Recovering bool
	Value           float64
	// Scored: an anomaly rule scored the series at this tick; Z, Center
	// and Spread are meaningful.
	Scored            bool
	Z, Center, Spread float64
	// StartsAt is since when the alert is active; EndsAt when it resolved.
	StartsAt, EndsAt time.Time
}

// Planned is one notification a tick decided to send: one group of one
// rule.
type Planned struct {
	// ID is stable: the same deployment, rule, group, kind and tick always
	// give the same id, so a retry or a resend carries the id of the first
	// attempt.
	ID   string
	Rule RuleRef
	// Kind is KindFiring when something fired or resolved while others
	// still fire, KindRepeat when nothing changed (a reminder), and
	// KindResolved when every listed alert has resolved.
	Kind Kind
	// At is the scheduled time of the run that planned it.
	At time.Time
	// Severity is the group's severity (the routing attribute).
	Severity string
	// GroupLabels are the group_by labels' values that name the group.
	GroupLabels map[string]string
	// Members: the firing series (new ones first, then the most deviant),
	// then the resolved ones.
	Members []Member
}

// Firing counts the members listed as firing.
func (p Planned) Firing() int {
	n := 0
	for _, m := range p.Members {
		if !m.Resolved {
			n++
		}
	}
	return n
}

// Plan groups one rule's outcomes (after Advance or Orphans) the way
// Alertmanager groups alerts, and returns the notifications due at the
// scheduled time at. A group is the rule's alerts with one severity and
// one set of values of the policy's group_by labels; alertLabels gives an
// outcome's alert labels (nil: its series labels).
//
//   - A new group (nothing of it notified yet) is notified group_wait after
//     its first alert fired, listing every alert firing by then.
//   - A notified group whose alerts changed (one fired, one resolved) is
//     notified again group_interval after its last notification, listing
//     every firing alert and those resolved since.
//   - A notified group that did not change is reminded every
//     repeat_interval — unless every alert of it is only kept firing by
//     keep_firing_for, which has nothing new to say.
//
// An alert that fires and resolves between two notifications of its group
// is never notified, as in Alertmanager. Plan records what it lists in the
// outcomes' Next states (NotifiedAt), which the caller persists before it
// publishes: the notifications are sent at least once from that record.
// It is pure: the same outcomes at the same time give the same plans.
func Plan(deployment string, ref RuleRef, pol Policy, scored bool, outs []Outcome, alertLabels func(Outcome) map[string]string, at time.Time) []Planned {
	type group struct {
		labels   map[string]string
		severity string
		idx      []int
	}
	groups := map[string]*group{}
	var keys []string
	for i := range outs {
		n := outs[i].Next
		if n.State != StateFiring && !n.ResolveDue() {
			continue
		}
		labels := outs[i].Labels
		if alertLabels != nil {
			labels = alertLabels(outs[i])
		}
		gl := groupLabels(pol.GroupBy, labels)
		k := groupKey(n.Severity, gl)
		g := groups[k]
		if g == nil {
			g = &group{labels: gl, severity: n.Severity}
			groups[k] = g
			keys = append(keys, k)
		}
		g.idx = append(g.idx, i)
	}
	slices.Sort(keys)
	var plans []Planned
	for _, k := range keys {
		g := groups[k]
		kind, ok := due(pol, outs, g.idx, at)
		if !ok {
			continue
		}
		p := Planned{ID: PlanID(deployment, ref, k, kind, at), Rule: ref, Kind: kind, At: at, Severity: g.severity, GroupLabels: g.labels}
		var firing, resolved []Member
		for _, i := range g.idx {
			o := &outs[i]
			m := member(o, scored)
			if o.Next.State == StateFiring {
				firing = append(firing, m)
				o.Next.NotifiedAt = at
			} else {
				resolved = append(resolved, m)
				o.Next.NotifiedAt = time.Time{}
			}
		}
		slices.SortStableFunc(firing, func(a, b Member) int {
			if a.New != b.New {
				if a.New {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(math.Abs(b.Z), math.Abs(a.Z)), strings.Compare(labelsKey(a.Labels), labelsKey(b.Labels)))
		})
		slices.SortStableFunc(resolved, func(a, b Member) int { return strings.Compare(labelsKey(a.Labels), labelsKey(b.Labels)) })
		p.Members = append(firing, resolved...)
		plans = append(plans, p)
	}
	return plans
}

// due decides whether the group of outs[idx] is notified at at, and how.
func due(pol Policy, outs []Outcome, idx []int, at time.Time) (Kind, bool) {
	var last, firstFired time.Time
	firing, changed, holding := 0, false, false
	for _, i := range idx {
		n := outs[i].Next
		if n.NotifiedAt.After(last) {
			last = n.NotifiedAt
		}
		switch {
		case n.State == StateFiring:
			firing++
			if n.Unannounced() {
				changed = true
				if firstFired.IsZero() || n.FiredAt.Before(firstFired) {
					firstFired = n.FiredAt
				}
			}
			if !n.Recovering() {
				holding = true
			}
		default: // resolution due
			changed = true
		}
	}
	switch {
	case last.IsZero():
		// A new group: only unannounced firing alerts can be in it.
		if firing == 0 || at.Before(firstFired.Add(pol.GroupWait)) {
			return KindNone, false
		}
		return KindFiring, true
	case changed:
		if at.Before(last.Add(pol.GroupInterval)) {
			return KindNone, false
		}
		if firing == 0 {
			return KindResolved, true
		}
		return KindFiring, true
	case holding && pol.RepeatInterval > 0 && !at.Before(last.Add(pol.RepeatInterval)):
		return KindRepeat, true
	}
	return KindNone, false
}

func member(o *Outcome, scored bool) Member {
	n := o.Next
	m := Member{Labels: o.Labels, Fingerprint: o.Key.Fingerprint, Value: n.LastValue, Z: n.LastZ,
		StartsAt: cmp.Or(n.ActiveAt, n.FiredAt), New: n.Unannounced(), Recovering: n.Recovering()}
	if n.State != StateFiring {
		m.Resolved, m.Reason, m.EndsAt, m.New = true, n.Reason, n.ResolvedAt, false
	}
	if o.Observed != nil {
		m.Value = o.Observed.Result.Value
		if scored && o.Observed.Result.OK() {
			r := o.Observed.Result
			m.Scored, m.Z, m.Center, m.Spread = true, r.Z, r.Center, r.Spread
		}
	}
	return m
}

// groupLabels are the values of by in labels (every label for
// rules.GroupByAll).
func groupLabels(by []string, labels map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range by {
		if l == rules.GroupByAll {
			for k, v := range labels {
				out[k] = v
			}
			return out
		}
		if v, ok := labels[l]; ok {
			out[l] = v
		}
	}
	return out
}

func groupKey(severity string, labels map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:%s;", len(severity), severity)
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, "%d:%s;%d:%s;", len(k), k, len(labels[k]), labels[k])
	}
	return b.String()
}

// labelsKey orders members by their labels, for a readable list.
func labelsKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// PlanID is the id of a planned notification: a hash of the deployment,
// the rule, the group, the kind and the scheduled time it was planned at.
func PlanID(deployment string, ref RuleRef, group string, kind Kind, at time.Time) string {
	h := sha256.New()
	for _, f := range []string{deployment, ref.Group, ref.Alert, group, string(kind), millis(at)} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
