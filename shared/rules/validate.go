package rules

import (
	"time"

	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
)

// reservedLabels are set by sigmawatch on every alert and its state series.
var reservedLabels = map[string]bool{"alertname": true, "alertstate": true}

type problems struct{ errs []error }

func (p *problems) add(path, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// Validate reports every problem at once (errors.Join), each with its path
// and, for rules, the alert name: `groups[0].rules[1] (ALBErrorsHigh).expr: …`.
// It checks the values as they stand, so a File built in code must set the
// anomaly fields Load would default.
func (f *File) Validate() error {
	var p problems
	pql := parser.NewParser(parser.Options{})
	s := &f.Settings
	if s.Interval <= 0 {
		p.add("settings.interval", "must be > 0 (got %s)", s.Interval)
	}
	if s.RepeatInterval <= 0 {
		p.add("settings.repeat_interval", "must be > 0 (got %s)", s.RepeatInterval)
	}
	if !(s.ResolveRatio > 0 && s.ResolveRatio <= 1) {
		p.add("settings.resolve_ratio", "must be in (0, 1] (got %v)", s.ResolveRatio)
	}
	if s.MaxAlertsPerNotification < 1 {
		p.add("settings.max_alerts_per_notification", "must be >= 1 (got %d)", s.MaxAlertsPerNotification)
	}
	if s.EvaluationDelay < 0 {
		p.add("settings.evaluation_delay", "must be >= 0 (got %s)", s.EvaluationDelay)
	}
	if s.LookbackDelta <= 0 {
		p.add("settings.lookback_delta", "must be > 0 (got %s)", s.LookbackDelta)
	}
	validateRouting(&p, "settings", s.Routing)
	if d := s.DeadMansSwitch; d != nil {
		const path = "settings.dead_mans_switch"
		if d.MaxAge <= 0 {
			p.add(path+".max_age", "required and > 0 (got %s)", d.MaxAge)
		}
		if !naming.ValidMetricName(d.Alert) {
			p.add(path+".alert", "%q is not a valid alert name", d.Alert)
		}
		if d.Severity == "" || !utf8.ValidString(d.Severity) {
			p.add(path+".severity", "must be a non-empty UTF-8 string")
		}
		validateLabels(&p, path, d.Alert, d.Labels, d.Annotations)
	}
	groups := map[string]int{}
	for i := range f.Groups {
		g := &f.Groups[i]
		gp := fmt.Sprintf("groups[%d]", i)
		switch g.Name {
		case "":
			p.add(gp+".name", "required")
		default:
			if prev, dup := groups[g.Name]; dup {
				p.add(gp+".name", "duplicate group %q (also groups[%d])", g.Name, prev)
			}
			groups[g.Name] = i
		}
		if len(g.Rules) == 0 {
			p.add(gp+".rules", "at least one rule is required")
		}
		if g.RepeatInterval != nil && *g.RepeatInterval <= 0 {
			p.add(gp+".repeat_interval", "must be > 0 (got %s)", *g.RepeatInterval)
		}
		validateRouting(&p, gp, g.Routing)
		alerts := map[string]int{}
		for k := range g.Rules {
			r := &g.Rules[k]
			rp := fmt.Sprintf("%s.rules[%d] (%s)", gp, k, r.Alert)
			if r.Alert != "" {
				if prev, dup := alerts[r.Alert]; dup {
					p.add(rp+".alert", "duplicate alert %q in group %q (also rules[%d])", r.Alert, g.Name, prev)
				}
				alerts[r.Alert] = k
			}
			validateRule(&p, pql, rp, r)
		}
	}
	return errors.Join(p.errs...)
}

func validateRule(p *problems, pql parser.Parser, path string, r *Rule) {
	switch {
	case r.Alert == "":
		p.add(path+".alert", "required")
	case !naming.ValidMetricName(r.Alert):
		p.add(path+".alert", "%q is not a valid alert name (letters, digits, _ and :, not starting with a digit)", r.Alert)
	}
	validateExpr(p, pql, path, r)
	if r.For < 0 {
		p.add(path+".for", "must be >= 0 (got %s)", r.For)
	}
	if r.KeepFiringFor < 0 {
		p.add(path+".keep_firing_for", "must be >= 0 (got %s)", r.KeepFiringFor)
	}
	if r.RepeatInterval < 0 || (r.repeatSet && r.RepeatInterval == 0) {
		p.add(path+".repeat_interval", "must be > 0 (got %s)", r.RepeatInterval)
	}
	if r.LookbackDelta < 0 {
		p.add(path+".lookback_delta", "must be > 0 (got %s)", r.LookbackDelta)
	}
	switch r.MissingData {
	case MissingKeep, MissingResolve, "":
	default:
		p.add(path+".missing_data", "%q is not keep or resolve", r.MissingData)
	}
	validateLabels(p, path, r.Alert, r.Labels, r.Annotations)
	validateRouting(p, path, r.Routing)
	if r.Anomaly != nil {
		validateAnomaly(p, path+".anomaly", r.Anomaly)
	}
}

func validateExpr(p *problems, pql parser.Parser, path string, r *Rule) {
	if strings.TrimSpace(r.Expr) == "" {
		p.add(path+".expr", "required")
		return
	}
	expr, err := pql.ParseExpr(r.Expr)
	if err != nil {
		p.add(path+".expr", "%v", err)
		return
	}
	if expr.Type() != parser.ValueTypeVector {
		p.add(path+".expr", "must be an instant vector expression (got %s)", parser.DocumentedType(expr.Type()))
		return
	}
	if r.Anomaly == nil {
		return
	}
	inner := expr
	for {
		paren, ok := inner.(*parser.ParenExpr)
		if !ok {
			break
		}
		inner = paren.Expr
	}
	if b, ok := inner.(*parser.BinaryExpr); ok && b.Op.IsComparisonOperator() {
		p.add(path+".expr", "an anomaly rule scores its expr, so it must not be a comparison (%s); drop the threshold or the anomaly block", b.Op)
	}
}

func validateLabels(p *problems, path, alert string, labels, annotations map[string]string) {
	for _, k := range sortedKeys(labels) {
		v := labels[k]
		lp := path + ".labels." + k
		switch {
		case !naming.ValidLabelName(k):
			p.add(lp, "%q is not a valid label name", k)
		case strings.HasPrefix(k, "__"):
			p.add(lp, "label names starting with __ are reserved")
		case reservedLabels[k]:
			p.add(lp, "%q is set by sigmawatch", k)
		}
		if !utf8.ValidString(v) {
			p.add(lp, "value is not valid UTF-8")
		}
		if _, err := parseTemplate("__alert_"+alert, v); err != nil {
			p.add(lp, "template: %v", err)
		}
	}
	for _, k := range sortedKeys(annotations) {
		ap := path + ".annotations." + k
		if !naming.ValidLabelName(k) {
			p.add(ap, "%q is not a valid annotation name", k)
		}
		if _, err := parseTemplate("__alert_"+alert, annotations[k]); err != nil {
			p.add(ap, "template: %v", err)
		}
	}
}

func validateAnomaly(p *problems, path string, a *Anomaly) {
	switch a.Method {
	case anomaly.MethodAuto, anomaly.MethodWindow, anomaly.MethodRobust, anomaly.MethodSeasonal:
	default:
		p.add(path+".method", "%q is not auto, window, robust or seasonal", a.Method)
	}
	if a.Baseline <= 0 {
		p.add(path+".baseline", "must be > 0 (got %s)", a.Baseline)
	}
	if a.Method == anomaly.MethodAuto {
		// Auto learns from hourly summaries and detects shifts with its own
		// CUSUM: the classic methods' knobs mean nothing there.
		if a.Baseline > 0 && a.Baseline < config.Duration(time.Hour) {
			p.add(path+".baseline", "method auto needs at least 1h (got %s)", a.Baseline)
		}
		if a.ExcludeRecent != 0 {
			p.add(path+".exclude_recent", "only for methods window and robust: auto never learns from the hour in progress")
		}
		if a.Sustained != 0 || a.SustainedThreshold != 0 {
			p.add(path+".sustained", "only for methods window, robust and seasonal: auto detects shifts with its CUSUM")
		}
	}
	if a.Method == anomaly.MethodSeasonal {
		switch {
		case a.Seasons < 1 || a.Seasons > MaxSeasons:
			p.add(path+".seasons", "must be between 1 and %d (got %d)", MaxSeasons, a.Seasons)
		case a.Baseline != config.Duration(a.Seasons)*Season:
			p.add(path+".baseline", "a seasonal baseline is seasons × 1w (%s for %d seasons), got %s; set seasons instead",
				config.Duration(a.Seasons)*Season, a.Seasons, a.Baseline)
		}
	} else if a.Seasons != 0 {
		p.add(path+".seasons", "only for method seasonal")
	}
	if !finite(a.Threshold) || a.Threshold <= 0 {
		p.add(path+".threshold", "must be > 0 (got %v)", a.Threshold)
	}
	switch {
	case !finite(a.ResolveThreshold) || a.ResolveThreshold <= 0:
		p.add(path+".resolve_threshold", "must be > 0 (got %v)", a.ResolveThreshold)
	case a.ResolveThreshold > a.Threshold:
		p.add(path+".resolve_threshold", "%v is above the threshold %v: alerts would flap", a.ResolveThreshold, a.Threshold)
	}
	switch a.Direction {
	case anomaly.DirectionUp, anomaly.DirectionDown, anomaly.DirectionBoth:
	default:
		p.add(path+".direction", "%q is not up, down or both", a.Direction)
	}
	if a.MinHistory < 0 {
		p.add(path+".min_history", "must be >= 0 (got %s)", a.MinHistory)
	} else if a.Baseline > 0 && a.MinHistory > a.Baseline {
		p.add(path+".min_history", "%s is longer than the baseline %s", a.MinHistory, a.Baseline)
	}
	if !finite(a.MinStddev) || a.MinStddev < 0 {
		p.add(path+".min_stddev", "must be >= 0 (got %v)", a.MinStddev)
	}
	if !finite(a.MinRelativeStddev) || a.MinRelativeStddev < 0 {
		p.add(path+".min_relative_stddev", "must be >= 0 (got %v)", a.MinRelativeStddev)
	}
	if a.MinStddev == 0 && a.MinRelativeStddev == 0 {
		p.add(path, "min_stddev and min_relative_stddev are both 0: a flat series would page on noise")
	}
	if a.Smoothing < 0 || config.Duration(a.Smoothing) > MaxSmoothing {
		p.add(path+".smoothing", "must be between 0 (the latest point) and %s (got %s)", MaxSmoothing, a.Smoothing)
	}
	switch {
	case a.Sustained < 0 || config.Duration(a.Sustained) > MaxSustained:
		p.add(path+".sustained", "must be between 0 (off) and %s (got %s)", MaxSustained, a.Sustained)
	case !finite(a.SustainedThreshold) || a.SustainedThreshold < 0:
		p.add(path+".sustained_threshold", "must be >= 0 (got %v)", a.SustainedThreshold)
	case (a.Sustained == 0) != (a.SustainedThreshold == 0) && !a.SustainedPoints.set:
		p.add(path, "sustained and sustained_threshold go together: set both or neither (got %s and %v)", a.Sustained, a.SustainedThreshold)
	case a.Sustained != 0 && a.Sustained <= a.Smoothing:
		p.add(path+".sustained", "must be longer than smoothing (%s): it is the longer average (got %s)", a.Smoothing, a.Sustained)
	}
	if a.ExcludeRecent < 0 {
		p.add(path+".exclude_recent", "must be >= 0 (got %s)", a.ExcludeRecent)
	} else if a.Baseline > 0 && a.ExcludeRecent >= a.Baseline {
		p.add(path+".exclude_recent", "%s leaves nothing of the baseline %s", a.ExcludeRecent, a.Baseline)
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
