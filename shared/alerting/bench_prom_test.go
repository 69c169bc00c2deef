package alerting_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// seedBench writes n series × 7 days of 5-minute points ending at end, in
// time slices a stock Prometheus accepts. Label k splits the series in ten
// shards, so sw_bench{k="0"} selects a tenth of them.
func seedBench(b *testing.B, w *remotewrite.Client, n int, end time.Time) {
	b.Helper()
	start := end.Add(-7 * 24 * time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	for from := start; !from.After(end); from = from.Add(45 * time.Minute) {
		batch := make([]remotewrite.Series, 0, n)
		for i := range n {
			s := remotewrite.Series{Labels: []remotewrite.Label{
				{Name: "__name__", Value: "sw_bench"}, {Name: "instance", Value: fmt.Sprintf("i-%05d", i)}, {Name: "k", Value: strconv.Itoa(i % 10)},
			}}
			for ts := from; ts.Before(from.Add(45*time.Minute)) && !ts.After(end); ts = ts.Add(5 * time.Minute) {
				s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: 100 + 5*rng.NormFloat64()})
			}
			batch = append(batch, s)
		}
		for _, part := range remotewrite.Batches(batch, 200_000, 0) {
			if err := w.Write(context.Background(), part); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// peakHeap samples the live heap while f runs and returns its maximum.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			mu.Lock()
			peak = max(peak, sample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak
}

// BenchmarkEvaluatePrometheus evaluates one window and one robust rule
// (7d baseline) against a real Prometheus seeded with 1,000 and 10,000
// series × 7 days at 5-minute resolution. It reports the time of one
// evaluation and the peak live heap of this process during it (the query
// engine's own cost is Prometheus's). Run with:
//
//	go test -run '^$' -bench EvaluatePrometheus -benchtime 3x ./shared/alerting/
func BenchmarkEvaluatePrometheus(b *testing.B) {
	w, q := clients(b)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	seedBench(b, w, 10_000, end)
	for _, method := range []anomaly.Method{anomaly.MethodWindow, anomaly.MethodRobust} {
		for _, sel := range []struct {
			expr string
			n    int
		}{{`sw_bench{k="0"}`, 1000}, {`sw_bench`, 10_000}} {
			b.Run(fmt.Sprintf("%s/%d", method, sel.n), func(b *testing.B) {
				a := baseAnomaly()
				a.Method, a.Baseline, a.ExcludeRecent, a.MinHistory = method, config.Duration(7*24*time.Hour), 0, config.Duration(24*time.Hour)
				r := anomalyRule(sel.expr, a)
				var peak uint64
				for b.Loop() {
					peak = max(peak, peakHeap(func() {
						ev, err := alerting.Evaluate(context.Background(), q, r, end, 5*time.Minute)
						if err != nil || len(ev.Series) != sel.n {
							b.Fatalf("%v: %d series", err, len(ev.Series))
						}
					}))
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			})
		}
	}
}
