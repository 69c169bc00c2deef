package alerting

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Outcome is where one series of one rule stands after a tick.
type Outcome struct {
	Key Key
	// Labels are the series labels (see SeriesLabels).
	Labels map[string]string
	// Observed is this tick's evaluation of the series; nil when the
	// series was not returned (only its stored state knows it).
	Observed     *Observed
	Prev, Next   AlertState
	Notification Notification
}

// Advance runs the state machine of one rule for one tick at time at (the
// scheduled time): every evaluated series, and every stored series the
// evaluation no longer returns, which for an anomaly rule is missing data
// and for a threshold rule is a condition that stopped holding (as in
// Prometheus). It is pure, so a retried tick with the same inputs gives the
// same outcomes and notification ids. Outcomes are sorted by fingerprint.
func Advance(ev Evaluation, prev map[string]Stored, at time.Time) []Outcome {
	tm := TimingFor(ev.Rule)
	out := make([]Outcome, 0, len(ev.Series)+len(prev))
	seen := make(map[string]bool, len(ev.Series))
	for i := range ev.Series {
		o := &ev.Series[i]
		seen[o.Fingerprint] = true
		key := Key{Rule: RuleKey(ev.Rule), Fingerprint: o.Fingerprint}
		p := prev[o.Fingerprint].State
		obs := Observation{Missing: o.Missing, Value: o.Result.Value, Z: o.Result.Z}
		if ev.Rule.IsAnomaly() {
			// As the backtest decides: the smoothed z, or the sustained z,
			// each with its own hysteresis.
			active := p.State.Active()
			obs.Holds = o.Holds(ev.Params, active)
		} else {
			obs.Holds = o.Active
		}
		next, n := Step(key, p, obs, at, tm)
		next = withSeverity(ev.Rule, o.Labels, p, next)
		out = append(out, Outcome{Key: key, Labels: o.Labels, Observed: o, Prev: p, Next: next, Notification: n})
	}
	for fp, st := range prev {
		if seen[fp] {
			continue
		}
		key := Key{Rule: RuleKey(ev.Rule), Fingerprint: fp}
		obs := Observation{Missing: true}
		if !ev.Rule.IsAnomaly() {
			obs = Observation{Holds: false, Value: st.State.LastValue}
		}
		next, n := Step(key, st.State, obs, at, tm)
		next = withSeverity(ev.Rule, st.Labels, st.State, next)
		out = append(out, Outcome{Key: key, Labels: st.Labels, Prev: st.State, Next: next, Notification: n})
	}
	slices.SortFunc(out, func(a, b Outcome) int { return strings.Compare(a.Key.Fingerprint, b.Key.Fingerprint) })
	return out
}

// withSeverity fixes the episode's severity when it fires: the rule's
// severity label, its template expanded with the series and the value at
// that tick. It stays for the episode, so a severity that depends on
// $value cannot move an alert between notification groups (or send its
// resolution where its firing did not go).
func withSeverity(r rules.Rule, series map[string]string, prev, next AlertState) AlertState {
	if next.State != StateFiring || (prev.State == StateFiring && prev.FiredAt.Equal(next.FiredAt) && prev.Severity != "") {
		return next
	}
	next.Severity = AlertLabels(r, series, next.LastValue)["severity"]
	return next
}

// Orphans resolves the stored alerts of a rule that is no longer in the
// rules file (removed, renamed or moved to another group) with
// ReasonRuleRemoved: without it they would stay firing in the store, and
// no resolved notification would ever be sent. Only kept states count (an
// inactive one already cleared needs nothing). Outcomes are sorted by
// fingerprint.
func Orphans(ref RuleRef, stored map[string]Stored, at time.Time) []Outcome {
	var out []Outcome
	for _, fp := range slices.Sorted(maps.Keys(stored)) {
		st := stored[fp]
		if !st.State.Kept() {
			continue
		}
		key := Key{Rule: ref.Key(), Fingerprint: fp}
		next, n := Resolve(key, st.State, at, ReasonRuleRemoved)
		out = append(out, Outcome{Key: key, Labels: st.Labels, Prev: st.State, Next: next, Notification: n})
	}
	return out
}

// RuleKey is the Key.Rule of r's series: the alert name, prefixed with the
// group, so two groups' rules of one name have distinct notification ids.
func RuleKey(r rules.Rule) string { return RefOf(r).Key() }

// Key is the Key.Rule of the rule's series (see RuleKey).
func (r RuleRef) Key() string {
	if r.Group == "" {
		return r.Alert
	}
	return r.Group + "/" + r.Alert
}

// AlertLabels are the labels of an alert, as Prometheus builds them: the
// series labels, then the rule's labels (templates expanded with $labels
// and $value), then alertname. A label template that fails to expand keeps
// its text, so a bad template cannot hide the alert.
func AlertLabels(r rules.Rule, series map[string]string, value float64) map[string]string {
	out := maps.Clone(series)
	if out == nil {
		out = map[string]string{}
	}
	data := rules.TemplateData{Labels: series, Value: value}
	for k, v := range r.Labels {
		if s, err := rules.Expand(k, v, data); err == nil {
			v = s
		}
		out[k] = v
	}
	out[model.AlertNameLabel] = r.Alert
	return out
}
