package alerting_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
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

// peakHeap samples the Go heap's objects while f runs and returns their
// maximum: live data and the garbage not yet swept, under the process's
// own GC settings (GOGC=100 in a test binary), not what a function under
// GOMEMLIMIT holds (peakMemory).
func peakHeap(f func()) uint64 {
	return peakMemory("", f).objects
}

// memPeak is what the process held at its peaks while one f ran.
type memPeak struct {
	// objects is the heap's objects, garbage not yet swept included (the
	// column measured before the memory limit was).
	objects uint64
	// live is the heap the GC found live (/gc/heap/live:bytes, as of the
	// last GC): what no setting of the collector can go under.
	live uint64
	// runtime is all the memory the Go runtime holds from the OS
	// (/memory/classes/total:bytes less what it released), which the
	// process's RSS follows and Lambda's "max memory used" reports.
	runtime uint64
}

// peakMemory samples the process's memory every 2 ms while f runs. With a
// profile path, it writes there the heap profile of the GC that found the
// most live heap (a profile is taken each time the live heap grows 5 %
// past the last one's): inuse_space at the peak.
func peakMemory(profile string, f func()) memPeak {
	runtime.GC()
	sample := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var (
		peak     memPeak
		mu       sync.Mutex
		profiled uint64
		heap     bytes.Buffer
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			mu.Lock()
			peak.objects = max(peak.objects, sample[0].Value.Uint64())
			peak.live = max(peak.live, sample[1].Value.Uint64())
			peak.runtime = max(peak.runtime, sample[2].Value.Uint64()-sample[3].Value.Uint64())
			mu.Unlock()
			if live := sample[1].Value.Uint64(); profile != "" && live > profiled+profiled/20 {
				profiled = live
				heap.Reset()
				_ = pprof.Lookup("heap").WriteTo(&heap, 0) // a profile missed is a profile older
			}
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
	if profile != "" {
		_ = os.WriteFile(profile, heap.Bytes(), 0o644) // a benchmark's side output
	}
	return peak
}

// underMemoryLimit runs f with the Go memory limit at limit bytes, as the
// function's GOMEMLIMIT sets it, and restores the limit after.
func underMemoryLimit(limit int64, f func()) {
	old := debug.SetMemoryLimit(limit)
	defer debug.SetMemoryLimit(old)
	f()
}

// templateMemoryLimit is the AlertFunction's GOMEMLIMIT in template.yaml,
// in bytes: the limit the deployed evaluation runs under.
func templateMemoryLimit(b *testing.B) int64 {
	b.Helper()
	_, limit, err := testenv.FunctionMemoryLimit("AlertFunction")
	if err != nil {
		b.Fatal(err)
	}
	return limit
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
