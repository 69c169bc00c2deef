package alertengine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// functionTimeout is the AlertFunction's Timeout (template.yaml); its
// GOMEMLIMIT (templateMemoryLimit) is set in this process while a run is
// measured, under its MemorySize of 256 MB.
const functionTimeout = 55 * time.Second

// BenchmarkAlertRunScale (issue 14, 100,000 series per rule) measures whole
// runs of the engine, as the alert function runs them (Tick: the lease,
// restore, evaluation, alert state, detector records, the state write, the
// outbox, publishing, the summary), in this process under the function's
// memory limit (debug.SetMemoryLimit(200 MiB)), over ALERT_BENCH_SERIES
// series (1,000 by default) of 5-minute data, 26 hours of it in a real
// Prometheus, under one window rule with a one-day baseline. A percent of
// the series rise by 12σ at the second fed point after the series are
// warm, so the runs carry pending and firing alerts and send a message.
// The runs go a minute apart from the data's end (forty-five minutes past
// an hour), new points written every five minutes as collect writes them,
// until the benchmark has seen an evaluated warm run, a run that prepares
// the next hour's checkpoints and a run skipped at the data's cadence (at
// most 45 runs). The series start warm: one evaluation with an unbounded
// history budget (not measured, as BenchmarkWindowSummaries10k does in
// shared/alerting) writes every hour summary and checkpoint first, since
// the deployed cold start summarises one hour of 100,000 five-minute
// series a run (DefaultHistoryBudget) and evaluates them by the full path
// meanwhile: ALERT_BENCH_DEPLOYED_COLD=1 measures those runs instead. Per kind of run it reports time, peak
// live heap (/gc/heap/live:bytes), peak heap objects (live and not yet
// collected), peak runtime memory (/memory/classes/total:bytes less what
// was released to the OS: what the function's MemorySize limits), the
// peak heap objects while the state write was under way, query samples,
// and the samples, series, bytes (snappy, on the wire) and requests
// written. Each run's figures are logged.
//
//	ALERT_BENCH_SERIES=100000 go test -run '^$' -bench AlertRunScale -benchtime 1x -timeout 90m ./shared/alertengine/
func BenchmarkAlertRunScale(b *testing.B) {
	n := 1_000
	if s := os.Getenv("ALERT_BENCH_SERIES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("ALERT_BENCH_SERIES=%q: want a positive number of series", s)
		}
		n = v
	}
	_, memLimit, err := testenv.FunctionMemoryLimit("AlertFunction")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	prom := testenv.StartPrometheus(b, testenv.PrometheusOptions{})
	feedW, err := remotewrite.NewClient(prom.RemoteWriteURL)
	if err != nil {
		b.Fatal(err)
	}
	const step = 5 * time.Minute
	// Forty-five minutes past an hour, 75 to 135 minutes ago: 45 runs a
	// minute apart stay in the past, and cross the hour where the next
	// hour's checkpoints are prepared.
	end := time.Now().UTC().Truncate(time.Hour).Add(-75 * time.Minute)
	start := end.Add(-26 * time.Hour)
	rising := time.Time{} // set once the series are warm
	value := func(i int, ts time.Time, rng *rand.Rand) float64 {
		v := 40 + 3*rng.NormFloat64()
		if i%100 == 0 && !rising.IsZero() && !ts.Before(rising) {
			v += 36
		}
		return v
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var written time.Time
	// feed writes every series' points after written up to to, in
	// 45-minute slices (a stock Prometheus refuses a sample more than an
	// hour older than its newest).
	feed := func(to time.Time) {
		from := start
		if !written.IsZero() {
			from = written.Add(step)
		}
		for ; !from.After(to); from = from.Add(45 * time.Minute) {
			batch := make([]remotewrite.Series, 0, n)
			for i := range n {
				s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_scale_cpu"},
					{Name: "instance", Value: fmt.Sprintf("i-%06d", i)}, {Name: "region", Value: "us-east-1"}}}
				for ts := from; ts.Before(from.Add(45*time.Minute)) && !ts.After(to); ts = ts.Add(step) {
					s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: value(i, ts, rng)})
				}
				batch = append(batch, s)
			}
			for _, part := range remotewrite.Batches(batch, 200_000, 0) {
				if err := feedW.Write(ctx, part); err != nil {
					b.Fatal(err)
				}
			}
		}
		written = to.Truncate(step)
	}
	began := time.Now()
	feed(end)
	b.Logf("%d series × 26 h of 5-minute points written in %s", n, time.Since(began).Round(time.Second))

	file, err := rules.Load([]byte(`
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: fleet
    rules:
      - alert: CPUAnomaly
        expr: sw_scale_cpu
        labels: {severity: warning}
        anomaly: {method: window, baseline: 1d, min_history: 1d}
`))
	if err != nil {
		b.Fatal(err)
	}
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	if err != nil {
		b.Fatal(err)
	}
	wire := &countingTransport{next: http.DefaultTransport}
	rw, err := remotewrite.NewClient(prom.RemoteWriteURL, remotewrite.WithHTTPClient(&http.Client{Transport: wire}))
	if err != nil {
		b.Fatal(err)
	}
	mem := &memSampler{}
	w := &countingWriter{next: rw, mem: mem}
	pub := &countingPublisher{}
	eng, err := alertengine.New(alertengine.Options{Rules: file, Query: q, Write: w, Publish: pub, Deployment: "bench-scale"})
	if err != nil {
		b.Fatal(err)
	}

	type run struct {
		kind                              string
		sum                               alertengine.Summary
		wall                              time.Duration
		live, objects, total, writeObject uint64
		writes                            writeCounts
	}
	var runs []run
	tick := func(at time.Time) run {
		if written.Before(at.Truncate(step)) {
			feed(at)
		}
		// What the seeding left is collected and given back to the OS, so
		// the runtime's figure is the run's (the process's own few MB,
		// base, are logged).
		debug.FreeOSMemory()
		base := mem.now()
		prev := debug.SetMemoryLimit(memLimit)
		defer debug.SetMemoryLimit(prev)
		w.reset()
		wire.reset()
		pub.sent.Store(0)
		rctx, cancel := context.WithTimeout(ctx, 10*functionTimeout)
		defer cancel()
		var (
			sum  alertengine.Summary
			terr error
		)
		t0 := time.Now()
		peak := mem.during(func() { sum, terr = eng.Tick(rctx, at) })
		r := run{sum: sum, wall: time.Since(t0), live: peak.live, objects: peak.objects, total: peak.total, writeObject: peak.writing, writes: w.counts()}
		r.writes.bytes, r.writes.requests = wire.bytes.Load(), wire.requests.Load()
		if terr != nil {
			b.Fatalf("run at %s: %v", at.Format(time.TimeOnly), terr)
		}
		d := sum.Detector
		switch {
		case sum.RulesSkipped > 0:
			r.kind = "skipped"
		case d.Checkpoints < n:
			r.kind = "cold"
		case d.Prepared > 0:
			r.kind = "preparing"
		default:
			r.kind = "warm"
		}
		if d.Summarized > 0 && r.kind != "cold" {
			r.kind += "+hour-closed"
		}
		b.Logf("%s %-22s %6.1f s (over the %s timeout: %t), before the run: live heap %.0f MB, runtime %.0f MB; live heap %4.0f MB, heap objects %4.0f MB (%4.0f MB while writing), runtime %4.0f MB; query samples %d in %d queries; written %d samples in %d series, %d requests, %.1f MB; firing %d, pending %d, notifications %d; %+v",
			at.Format(time.TimeOnly), r.kind, r.wall.Seconds(), functionTimeout, r.wall > functionTimeout, mb(base.live), mb(base.total), mb(r.live), mb(r.objects), mb(r.writeObject), mb(r.total),
			sum.QuerySamples, sum.Queries, r.writes.samples, r.writes.series, r.writes.requests, float64(r.writes.bytes)/(1<<20),
			sum.Firing, sum.Pending, pub.sent.Load(), d)
		return r
	}

	at := end.Add(time.Minute)
	if os.Getenv("ALERT_BENCH_DEPLOYED_COLD") == "" {
		began := time.Now()
		r := file.Rules()[0]
		store := alerting.NewStore(q, "bench-scale")
		ev, err := (&alerting.Evaluator{Query: q, Store: store, Step: time.Minute, Scheduled: at, HistoryBudget: 1 << 40}).Evaluate(ctx, r, at)
		if err != nil {
			b.Fatal(err)
		}
		if ev.Persist == nil {
			b.Fatal("the priming evaluation persisted no records")
		}
		for _, part := range remotewrite.Batches(store.DetectorSeries(at, alerting.RefOf(r), *ev.Persist), 200_000, 0) {
			if err := feedW.Write(ctx, part); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("primed %d series' hour summaries and checkpoints in %s: %+v", n, time.Since(began).Round(time.Second), ev.Progress)
		at = at.Add(time.Minute)
	}
	seen := map[string]bool{}
	for i := 0; i < 45 && !(seen["warm"] && seen["preparing"] && seen["skipped"] && seen["firing"]); i++ {
		r := tick(at)
		runs = append(runs, r)
		seen[r.kind] = true
		if r.kind != "cold" && rising.IsZero() {
			rising = written.Add(2 * step)
		}
		if r.sum.Firing > 0 {
			seen["firing"] = true
		}
		at = at.Add(time.Minute)
	}
	for b.Loop() {
		// One more warm run per iteration, measured like the others.
		runs = append(runs, tick(at))
		at = at.Add(time.Minute)
	}
	if runs[len(runs)-1].sum.Series != n && runs[len(runs)-1].sum.RulesSkipped == 0 {
		b.Fatalf("the last run evaluated %d series, want %d", runs[len(runs)-1].sum.Series, n)
	}
	cold := 0
	for _, r := range runs {
		if r.kind == "cold" {
			cold++
		}
	}
	b.ReportMetric(float64(cold), "cold-runs")
	for _, kind := range []string{"cold", "warm", "preparing", "skipped", "warm+hour-closed", "preparing+hour-closed"} {
		var worst run
		found := false
		for _, r := range runs {
			if r.kind == kind && (!found || r.total > worst.total) {
				worst, found = r, true
			}
		}
		if !found {
			continue
		}
		b.ReportMetric(worst.wall.Seconds(), kind+"-s")
		b.ReportMetric(mb(worst.live), kind+"-live-heap-MB")
		b.ReportMetric(mb(worst.total), kind+"-runtime-MB")
		b.ReportMetric(mb(worst.writeObject), kind+"-write-heap-MB")
		b.ReportMetric(float64(worst.writes.samples), kind+"-written-samples")
		b.ReportMetric(float64(worst.writes.bytes)/(1<<20), kind+"-written-MB")
		b.ReportMetric(float64(worst.writes.requests), kind+"-write-requests")
		b.ReportMetric(float64(worst.sum.QuerySamples), kind+"-query-samples")
	}
	if !seen["warm"] || !seen["preparing"] || !seen["skipped"] {
		b.Logf("not every kind of run was seen in %d runs: %v", len(runs), seen)
	}
}

func mb(v uint64) float64 { return float64(v) / (1 << 20) }

// memSampler samples the runtime's memory every 2 ms while a function
// runs: the figures a run under GOMEMLIMIT is judged by.
type memSampler struct {
	writing atomic.Bool
}

type memPeak struct {
	// live is /gc/heap/live:bytes (what the last GC found reachable);
	// objects is the heap's objects, collected or not; total is every
	// byte the runtime has mapped less what it released; writing is
	// objects while a state write was under way.
	live, objects, total, writing uint64
}

// now reads the live heap and the runtime's memory once.
func (m *memSampler) now() memPeak {
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(samples)
	return memPeak{live: samples[0].Value.Uint64(), total: samples[1].Value.Uint64() - samples[2].Value.Uint64()}
}

func (m *memSampler) during(f func()) memPeak {
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var peak memPeak
	var mu sync.Mutex
	read := func() {
		metrics.Read(samples)
		mu.Lock()
		defer mu.Unlock()
		peak.live = max(peak.live, samples[0].Value.Uint64())
		objects := samples[1].Value.Uint64()
		peak.objects = max(peak.objects, objects)
		peak.total = max(peak.total, samples[2].Value.Uint64()-samples[3].Value.Uint64())
		if m.writing.Load() {
			peak.writing = max(peak.writing, objects)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			read()
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
	read()
	return peak
}

// writeCounts are what a run wrote.
type writeCounts struct {
	series, samples, bytes, requests int64
}

// countingWriter counts the series and samples written, and tells the
// sampler while a write is under way.
type countingWriter struct {
	next            alertengine.Writer
	mem             *memSampler
	series, samples atomic.Int64
}

func (w *countingWriter) Write(ctx context.Context, series []remotewrite.Series) error {
	w.mem.writing.Store(true)
	defer w.mem.writing.Store(false)
	w.series.Add(int64(len(series)))
	for i := range series {
		w.samples.Add(int64(len(series[i].Samples)))
	}
	return w.next.Write(ctx, series)
}

func (w *countingWriter) reset() { w.series.Store(0); w.samples.Store(0) }

func (w *countingWriter) counts() writeCounts {
	return writeCounts{series: w.series.Load(), samples: w.samples.Load()}
}

// countingTransport counts the remote-write requests sent and their bodies'
// bytes (snappy-compressed, as on the wire), retries included.
type countingTransport struct {
	next            http.RoundTripper
	bytes, requests atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	if r.ContentLength > 0 {
		t.bytes.Add(r.ContentLength)
	}
	return t.next.RoundTrip(r)
}

func (t *countingTransport) reset() { t.bytes.Store(0); t.requests.Store(0) }

// countingPublisher counts the notifications a run publishes and renders
// nothing further: SNS's cost is not the function's memory.
type countingPublisher struct{ sent atomic.Int64 }

func (p *countingPublisher) Publish(context.Context, notify.Message) error {
	p.sent.Add(1)
	return nil
}
