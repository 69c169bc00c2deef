package alertengine

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Cost made visible (issue 14): every query of a run is counted
// (promql.Cost) — the samples the store says it processed, which is what
// AMP bills, or the points returned where the store does not say
// (VictoriaMetrics: a lower bound, flagged query_samples_estimated). The
// run's summary log line and response carry the whole run's figure; the
// health series QuerySamplesMetric, persisted with the state, carries what
// the run had read when it persisted (its evaluation, restore, lease and
// outbox reads: all but the sparklines of the messages it then sends, a
// few hundred samples). Each rule's share is a debug line ("rule
// evaluated"); alert -plan predicts it (package alertplan).
const (
	// QuerySamplesMetric is the samples a run's queries read, stamped at
	// its scheduled time.
	QuerySamplesMetric = "sigmawatch_alert_query_samples"
	// RulesSkippedMetric is how many rules a run skipped, their data
	// unchanged since the previous run (alerting.EvaluateAtCadence).
	RulesSkippedMetric = "sigmawatch_alert_rules_skipped"
)

// costSeries is the run's query samples so far and the rules it skipped,
// for the request that persists its state.
func (e *Engine) costSeries(at time.Time, c *promql.Cost, skipped int) []remotewrite.Series {
	one := func(name string, v float64) remotewrite.Series {
		return remotewrite.Series{
			Labels:  append([]remotewrite.Label{{Name: model.MetricNameLabel, Value: name}}, e.store.RunLabels()...),
			Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: v}},
		}
	}
	return []remotewrite.Series{one(QuerySamplesMetric, float64(c.Snapshot().Samples)), one(RulesSkippedMetric, float64(skipped))}
}

// ruleCosts are the rules' shares of a run's queries, in evaluation order.
type ruleCosts []*ruleCost

type ruleCost struct {
	rule rules.Rule
	cost *promql.Cost
	// skipped: the rule's data had not changed; only its probe ran.
	skipped bool
}

// add starts counting r's share.
func (rc *ruleCosts) add(r rules.Rule) *ruleCost {
	*rc = append(*rc, &ruleCost{rule: r, cost: &promql.Cost{}})
	return (*rc)[len(*rc)-1]
}

// log logs each rule's share at debug: what alert -plan predicts per rule.
func (rc ruleCosts) log(ctx context.Context, l *slog.Logger) {
	for _, c := range rc {
		s := c.cost.Snapshot()
		l.DebugContext(ctx, "rule evaluated", "alertname", c.rule.Alert, "group", c.rule.Group,
			"skipped", c.skipped, "queries", s.Queries, "query_samples", s.Samples, "query_samples_estimated", s.Estimated())
	}
}
