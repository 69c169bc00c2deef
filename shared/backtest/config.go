package backtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// RuleFromConfig is the one mapping from a rule of rules.yaml (as
// rules.File.Rules returns it, defaults applied) to the backtest's Rule, so
// that the backtest and the deployed function read the anomaly block the
// same way: the maths' parameters are alerting.ParamsFor's, the timing is
// alerting.TimingFor's, exclude_recent is the gap, and a seasonal baseline
// takes alerting.SeasonalWindow around the same time in each of the last
// seasons weeks. A rule without an anomaly block is an error: it has no
// baseline to replay (see RunCLI for what the CLI does with it).
func RuleFromConfig(r rules.Rule, s rules.Settings) (Rule, error) {
	if r.Anomaly == nil {
		return Rule{}, fmt.Errorf("rule %s: not an anomaly rule (no anomaly block)", r.Alert)
	}
	a := r.Anomaly
	p := alerting.ParamsFor(r)
	p.SustainedPoints, p.SustainedThreshold = a.SustainedPoints, a.SustainedThreshold
	if a.ResolveThreshold == 0 && s.ResolveRatio > 0 {
		// A File built in code may leave it unset; Load never does.
		p.ResolveThreshold = a.Threshold * s.ResolveRatio
	}
	tm := alerting.TimingFor(r)
	if tm.RepeatInterval == 0 {
		tm.RepeatInterval = time.Duration(s.RepeatInterval)
	}
	out := Rule{
		Name:       r.Alert,
		Params:     p,
		Baseline:   time.Duration(a.Baseline),
		Gap:        time.Duration(a.ExcludeRecent),
		MinHistory: time.Duration(a.MinHistory),
		Timing:     tm,
	}
	if a.Method == rules.MethodSeasonal {
		out.Baseline = alerting.SeasonalWindow
		out.Seasons = a.Seasons
		out.Season = time.Duration(rules.Season)
	}
	if err := out.Validate(); err != nil {
		return Rule{}, fmt.Errorf("rule %s: %w", r.Alert, err)
	}
	return out, nil
}

// lookBack is how much history before a tick the rule reads: its baseline
// (or its seasons) plus the minimum history, which is what a Prometheus
// backtest must fetch before its first tick.
func (r Rule) lookBack() time.Duration {
	reach := r.Baseline + r.Gap
	if r.Params.Method == anomaly.MethodSeasonal {
		n, season := r.Seasons, r.Season
		if n == 0 {
			n = Seasons
		}
		if season == 0 {
			season = Week
		}
		reach = time.Duration(n)*season + r.Baseline/2
	}
	return reach + r.MinHistory
}

var errNotComparison = errors.New("not a comparison with a number")
