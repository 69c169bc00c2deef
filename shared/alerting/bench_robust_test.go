package alerting_test

import (
	"context"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// BenchmarkRobust10k is issue 14's must-show for the robust method: one
// robust rule (7d baseline, the default use case: 5-minute data) over
// 10,000 series × 7 days in a real Prometheus, side by side in one run:
//
//   - full: alerting.Evaluate, every point of every series' window read and
//     its median and MAD computed (what -dry-run's full path reads);
//   - prepare: a run of the deployed Evaluator whose hour's checkpoints
//     are stored and which prepares its budget's share of the next hour's
//     (HistoryBudget, DefaultHistoryBudget): the costliest steady run;
//   - warm: a run with every checkpoint it needs stored: checkpoints only.
//
// It reports the time of one evaluation, the peak live heap of this
// process during it and the query samples Prometheus reports it read. Run
// with:
//
//	go test -run '^$' -bench Robust10k -benchtime 1x -timeout 60m -v ./shared/alerting/
func BenchmarkRobust10k(b *testing.B) {
	const n = 10_000
	w, q := clients(b)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	began := time.Now()
	seedBench(b, w, n, end)
	b.Logf("%d series × 7 days of 5-minute points written in %s", n, time.Since(began).Round(time.Second))

	a := baseAnomaly()
	a.Method, a.Baseline, a.ExcludeRecent, a.MinHistory = anomaly.MethodRobust, config.Duration(7*24*time.Hour), 0, config.Duration(24*time.Hour)
	r := rules.Rule{Alert: "Robust", Expr: "sw_bench", Anomaly: &a}
	st := alerting.NewStore(q, "bench")
	// The runs start after the data's end and read it as their newest.
	at := end.Add(40 * time.Second)
	evaluate := func(e *alerting.Evaluator) (alerting.Evaluation, promql.CostSnapshot, uint64, time.Duration) {
		var (
			ev   alerting.Evaluation
			cost promql.Cost
			err  error
		)
		t0 := time.Now()
		peak := peakHeap(func() {
			ev, err = e.Evaluate(promql.WithCost(context.Background(), &cost), r, e.Scheduled)
			if err != nil {
				b.Fatal(err)
			}
		})
		if len(ev.Series) != n {
			b.Fatalf("%d series evaluated", len(ev.Series))
		}
		return ev, cost.Snapshot(), peak, time.Since(t0)
	}
	persist := func(ev alerting.Evaluation, at time.Time) {
		if ev.Persist == nil {
			return
		}
		for _, part := range remotewrite.Batches(st.DetectorSeries(at, alerting.RefOf(r), *ev.Persist), 200_000, 0) {
			if err := w.Write(context.Background(), part); err != nil {
				b.Fatal(err)
			}
		}
	}
	report := func(b *testing.B, name string, run func() (alerting.Evaluation, promql.CostSnapshot, uint64, time.Duration)) {
		b.Run(name, func(b *testing.B) {
			var (
				peak    uint64
				samples int64
			)
			for b.Loop() {
				ev, cost, p, took := run()
				peak, samples = max(peak, p), cost.Samples
				b.Logf("%s: %s, %d samples, progress %+v", name, took.Round(time.Millisecond), cost.Samples, ev.Progress)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(samples), "query-samples/op")
		})
	}

	report(b, "full", func() (alerting.Evaluation, promql.CostSnapshot, uint64, time.Duration) {
		return evaluate(&alerting.Evaluator{Query: q, Step: time.Minute, Scheduled: at})
	})

	// A cold start computes the hour's checkpoints of every series in one
	// run (a budget of the whole window, the next hour's left for later).
	cold, cost, peak, took := evaluate(&alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at, HistoryBudget: n * 2016})
	persist(cold, at)
	b.Logf("cold start, every series in one run: %s, %.0f MB peak heap, %d samples, progress %+v", took.Round(time.Millisecond), float64(peak)/(1<<20), cost.Samples, cold.Progress)

	at = at.Add(time.Minute)
	report(b, "prepare", func() (alerting.Evaluation, promql.CostSnapshot, uint64, time.Duration) {
		ev, cost, peak, took := evaluate(&alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at})
		if ev.Progress.Summaries != n || ev.Progress.Prepared == 0 {
			b.Fatalf("not a preparing warm run: %+v", ev.Progress)
		}
		return ev, cost, peak, took
	})

	// The next hour prepared for every series, then a warm run.
	at = at.Add(time.Minute)
	prep, cost, peak, took := evaluate(&alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at, HistoryBudget: 2 * n * 2016})
	persist(prep, at)
	b.Logf("the next hour prepared in one run: %s, %.0f MB peak heap, %d samples, progress %+v", took.Round(time.Millisecond), float64(peak)/(1<<20), cost.Samples, prep.Progress)
	at = at.Add(time.Minute)
	report(b, "warm", func() (alerting.Evaluation, promql.CostSnapshot, uint64, time.Duration) {
		ev, cost, peak, took := evaluate(&alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at})
		if ev.Progress.Summaries != n || ev.Progress.Prepared != 0 || ev.Progress.Cold != 0 {
			b.Fatalf("not warm: %+v", ev.Progress)
		}
		return ev, cost, peak, took
	})
}
