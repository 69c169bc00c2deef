package alerting_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/promql"
)

// benchQuerier answers every query with the same n series, so the
// benchmark measures the evaluation's own work (matching, scoring), not
// the query engine's.
type benchQuerier struct{ samples []promql.Sample }

func (b benchQuerier) Query(_ context.Context, q string, at time.Time) ([]promql.Sample, error) {
	if strings.HasPrefix(q, "max(max_over_time(timestamp(") {
		// The newest data: at the evaluation time.
		return []promql.Sample{{V: float64(at.Unix())}}, nil
	}
	return b.samples, nil
}

func (b benchQuerier) QuerySeries(context.Context, string, time.Time) ([]promql.Series, error) {
	return nil, nil
}

func BenchmarkEvaluateWindow10k(b *testing.B) {
	q := benchQuerier{}
	for i := range 10_000 {
		q.samples = append(q.samples, promql.Sample{Labels: lbl("instance", fmt.Sprintf("i-%05d", i), "region", "us-east-1"), V: float64(100 + i%7)})
	}
	r := anomalyRule("cpu", baseAnomaly())
	b.ReportAllocs()
	for b.Loop() {
		ev, err := alerting.Evaluate(context.Background(), q, r, evalAt, time.Minute)
		if err != nil || len(ev.Series) != 10_000 {
			b.Fatal(err, len(ev.Series))
		}
	}
}

func BenchmarkAdvanceAndPersist10k(b *testing.B) {
	ev := alerting.Evaluation{Rule: anomalyRule("cpu", baseAnomaly())}
	ev.Params = *alerting.SpecOf(ev.Rule).Detector
	for i := range 10_000 {
		labels := lbl("instance", fmt.Sprintf("i-%05d", i), "region", "us-east-1")
		ev.Series = append(ev.Series, alerting.Observed{Labels: labels, Fingerprint: alerting.Fingerprint(labels),
			Result: anomaly.Result{Status: anomaly.StatusOK, Value: 1, Z: float64(i%10) - 2}})
	}
	store := alerting.NewStore(benchQuerier{}, "bench")
	b.ReportAllocs()
	for b.Loop() {
		outs := alerting.Advance(ev, nil, evalAt)
		_ = store.StateSeries(evalAt, []alerting.RuleOutcomes{{Rule: "cpu", Anomaly: true, Outcomes: outs}})
	}
}
