package alertengine

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// orphans resolves the stored alerts of the rules no longer in the rules
// file, one ruleRun each, in a stable order.
func orphans(current []rules.Rule, stored map[alerting.RuleRef]map[string]alerting.Stored, at time.Time) []ruleRun {
	present := make(map[alerting.RuleRef]bool, len(current))
	for _, r := range current {
		present[alerting.RefOf(r)] = true
	}
	var refs []alerting.RuleRef
	for ref := range stored {
		if !present[ref] {
			refs = append(refs, ref)
		}
	}
	slices.SortFunc(refs, func(a, b alerting.RuleRef) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Alert, b.Alert))
	})
	var out []ruleRun
	for _, ref := range refs {
		if outs := alerting.Orphans(ref, stored[ref], at); len(outs) > 0 {
			out = append(out, ruleRun{ref: ref, evalAt: at, outcomes: outs})
		}
	}
	return out
}

// orphanPolicy notifies a removed rule's resolutions at once: there is no
// rule left to take the grouping from, and nothing to wait for.
var orphanPolicy = alerting.Policy{}

// plan groups a rule's outcomes into the notifications due at at.
func (e *Engine) plan(rr *ruleRun, at time.Time) []alerting.Planned {
	pol, scored := orphanPolicy, false
	if rr.rule != nil {
		pol, scored = alerting.PolicyFor(*rr.rule), rr.rule.IsAnomaly()
	}
	return alerting.Plan(e.store.Deployment(), rr.ref, pol, scored, rr.outcomes,
		func(o alerting.Outcome) map[string]string { return alertLabels(*rr, o) }, at)
}

// alertLabels are the labels of an outcome's alert: the series labels, the
// rule's labels and alertname — and for a removed rule, the severity its
// episode fired with.
func alertLabels(rr ruleRun, o alerting.Outcome) map[string]string {
	if rr.rule != nil {
		ls := alerting.AlertLabels(*rr.rule, o.Labels, o.Next.LastValue)
		if o.Next.Severity != "" && (o.Next.State == alerting.StateFiring || o.Next.ResolveDue()) {
			ls["severity"] = o.Next.Severity
		}
		return ls
	}
	ls := maps.Clone(o.Labels)
	if ls == nil {
		ls = map[string]string{}
	}
	ls[model.AlertNameLabel] = rr.ref.Alert
	if o.Next.Severity != "" {
		ls["severity"] = o.Next.Severity
	}
	return ls
}

// render turns a planned notification (of this run, or recorded by an
// earlier one) into the message to publish, with the rule as the rules file
// has it now (a removed rule's alerts are rendered from what was recorded)
// and a sparkline of its series. The sparkline is decoration: without
// Prometheus it is left out.
func (e *Engine) render(ctx context.Context, p alerting.Planned) notify.Message {
	rr := ruleRun{ref: p.Rule, evalAt: p.At}
	if r, ok := e.byRef[p.Rule]; ok {
		rr.rule = &r
		if !e.isDMS(r) {
			rr.evalAt = p.At.Add(-time.Duration(e.rules.Settings.EvaluationDelay))
		}
	}
	var recent map[string][]float64
	if rr.rule != nil {
		var err error
		recent, err = alerting.Recent(ctx, e.query, rr.rule.Expr, rr.evalAt, recentWindow, time.Duration(e.rules.Settings.Interval))
		if err != nil {
			e.log.WarnContext(ctx, "recent points unavailable; sending without the sparkline", "alertname", p.Rule.Alert, "err", err)
		}
	}
	return e.message(rr, p, recent)
}

// message renders one planned notification.
func (e *Engine) message(rr ruleRun, p alerting.Planned, recent map[string][]float64) notify.Message {
	m := notify.Message{
		ID:          p.ID,
		Status:      notify.StatusFiring,
		Repeat:      p.Kind == alerting.KindRepeat,
		Rule:        p.Rule.Alert,
		Group:       p.Rule.Group,
		Severity:    p.Severity,
		At:          p.At,
		GroupLabels: p.GroupLabels,
		MaxAlerts:   e.rules.Settings.MaxAlertsPerNotification,
	}
	if p.Kind == alerting.KindResolved {
		m.Status = notify.StatusResolved
	}
	if rr.rule != nil {
		m.Expr = rr.rule.Expr
		m.GraphURL = notify.GraphURL(e.externalURL, rr.rule.Expr, rr.evalAt)
	}
	for _, mb := range p.Members {
		m.Alerts = append(m.Alerts, e.alert(rr, mb, recent[mb.Fingerprint]))
	}
	return m
}

// alert renders one member: its labels and annotations as the rule gives
// them (templates expanded with its value), or, for a removed rule, its
// series labels, alertname and severity.
func (e *Engine) alert(rr ruleRun, mb alerting.Member, recent []float64) notify.Alert {
	a := notify.Alert{Value: mb.Value, Recent: recent, StartsAt: mb.StartsAt, EndsAt: mb.EndsAt,
		New: mb.New, Recovering: mb.Recovering, Resolved: mb.Resolved, Scored: mb.Scored, Z: mb.Z, Center: mb.Center, Spread: mb.Spread}
	if mb.Resolved {
		a.Reason = reasonText(mb.Reason, rr.rule)
	}
	if rr.rule == nil {
		a.Labels = maps.Clone(mb.Labels)
		if a.Labels == nil {
			a.Labels = map[string]string{}
		}
		a.Labels[model.AlertNameLabel] = rr.ref.Alert
		return a
	}
	r := rr.rule
	if r.IsAnomaly() {
		a.Method = string(r.Anomaly.Method)
	}
	a.Labels = alerting.AlertLabels(*r, mb.Labels, a.Value)
	a.Annotations = make(map[string]string, len(r.Annotations))
	data := rules.TemplateData{Labels: a.Labels, ExternalURL: e.externalURL, Value: a.Value}
	for k, v := range r.Annotations {
		s, err := rules.Expand(k, v, data)
		if err != nil {
			s = v
		}
		a.Annotations[k] = s
	}
	a.GeneratorURL = notify.GraphURL(e.externalURL, r.Expr, rr.evalAt)
	return a
}

// reasonText says why an alert resolved, when it is not that its
// condition cleared.
func reasonText(reason alerting.Reason, r *rules.Rule) string {
	switch reason {
	case alerting.ReasonNoData:
		if r != nil && r.Timeout() > 0 {
			return "no data for " + model.Duration(r.Timeout()).String()
		}
		return "no data"
	case alerting.ReasonRuleRemoved:
		return "rule removed"
	}
	return ""
}

// sinkAlerts is what the Alertmanager sink gets from a rule at this run:
// every firing alert (as Prometheus does, valid for a few runs and renewed
// every run) and every alert that resolved at this run.
func (e *Engine) sinkAlerts(rr ruleRun, at time.Time, interval time.Duration) []notify.Alert {
	if e.sink == nil {
		return nil
	}
	var out []notify.Alert
	for _, o := range rr.outcomes {
		firing := o.Next.State == alerting.StateFiring
		if !firing && o.Notification.Kind != alerting.KindResolved {
			continue
		}
		mb := alerting.Member{Labels: o.Labels, Fingerprint: o.Key.Fingerprint, Value: o.Next.LastValue, Z: o.Next.LastZ,
			StartsAt: cmp.Or(o.Next.ActiveAt, o.Prev.ActiveAt, o.Next.FiredAt)}
		a := e.alert(rr, mb, nil)
		a.Labels = alertLabels(rr, o)
		if firing {
			a.EndsAt = at.Add(4 * max(interval, time.Minute))
		} else {
			a.EndsAt = at
		}
		out = append(out, a)
	}
	return out
}
