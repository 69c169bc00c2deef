package backtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/detector"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// RuleFromConfig is the backtest's Rule of a rule of rules.yaml (as
// rules.File.Rules returns it, defaults applied): the detector, timing and
// lookback of alerting.SpecOf, the one mapping the deployed function uses
// too, so the two cannot read the anomaly block differently. s fills what
// a File built in code may leave unset (the resolve threshold, the repeat
// interval); Load never does. A rule without an anomaly block is an error:
// it has no baseline to replay (see RunCLI for what the CLI does with it).
func RuleFromConfig(r rules.Rule, s rules.Settings) (Rule, error) {
	spec := alerting.SpecOf(r)
	if spec.Detector == nil {
		return Rule{}, fmt.Errorf("rule %s: not an anomaly rule (no anomaly block)", r.Alert)
	}
	p := *spec.Detector
	if p.ResolveThreshold == 0 && s.ResolveRatio > 0 {
		p.ResolveThreshold = p.Threshold * s.ResolveRatio
	}
	tm := spec.Timing
	if tm.RepeatInterval == 0 {
		tm.RepeatInterval = time.Duration(s.RepeatInterval)
	}
	out := Rule{Name: r.Alert, Params: p, Timing: tm, Lookback: spec.Lookback}
	if err := out.Validate(); err != nil {
		return Rule{}, fmt.Errorf("rule %s: %w", r.Alert, err)
	}
	return out, nil
}

// lookBack is how much history before a tick the rule reads: its baseline
// (or its seasons) plus the minimum history, which is what a Prometheus
// backtest must fetch before its first tick.
func (r Rule) lookBack() time.Duration {
	if r.Params.Method == anomaly.MethodAuto {
		// What the deployed evaluation replays (see alerting's auto.go).
		return detector.FromParams(r.Params).History()
	}
	return r.Params.Reach() + r.Params.MinHistory
}

var errNotComparison = errors.New("not a comparison with a number")
