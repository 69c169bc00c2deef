package alerting_test

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// seedBlocks writes n series × days of points step apart ending at end
// straight into TSDB blocks, a day at a time (promtool tsdb
// create-blocks-from openmetrics, the backfill Prometheus documents), and
// moves them into the running Prometheus's data directory, which loads
// new blocks within a minute: 100 million samples by remote write were
// too heavy for this machine. It waits until the store answers for them.
func seedBlocks(b *testing.B, prom *testenv.Receiver, q *promql.Client, n, days int, step time.Duration, end time.Time) {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(7, 8))
	start := end.Add(-time.Duration(days) * 24 * time.Hour).Add(step)
	for day := range days {
		from := start.Add(time.Duration(day) * 24 * time.Hour)
		in := filepath.Join(dir, "day.om")
		f, err := os.Create(in)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for ts := from; ts.Before(from.Add(24*time.Hour)) && !ts.After(end); ts = ts.Add(step) {
			sec := strconv.FormatInt(ts.Unix(), 10)
			for i := range n {
				fmt.Fprintf(w, "sw_mom{instance=\"i-%05d\",k=\"%d\"} %.4f %s\n", i, i%10, 100+5*rng.NormFloat64(), sec)
			}
		}
		fmt.Fprintln(w, "# EOF")
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(dir, "blocks")
		cmd := exec.Command("promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=24h", in, out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("promtool: %v: %s", err, msg)
		}
		if err := os.Remove(in); err != nil {
			b.Fatal(err)
		}
	}
	blocks, err := os.ReadDir(filepath.Join(dir, "blocks"))
	if err != nil {
		b.Fatal(err)
	}
	for _, blk := range blocks {
		if err := os.Rename(filepath.Join(dir, "blocks", blk.Name()), filepath.Join(prom.DataDir, blk.Name())); err != nil {
			b.Fatal(err)
		}
	}
	want := float64(n)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := q.Query(context.Background(), fmt.Sprintf("count(count_over_time(sw_mom[%dd]))", days+1), end)
		if err == nil && len(got) == 1 && got[0].V == want {
			oldest, err := q.Query(context.Background(), "count(sw_mom offset "+config.Duration(end.Sub(start)).String()+")", end)
			if err == nil && len(oldest) == 1 && oldest[0].V == want {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("Prometheus did not load the blocks: %v %v", got, err)
		}
		time.Sleep(2 * time.Second)
	}
}

// BenchmarkWindowSummaries10k is issue 14's must-show for the window and
// seasonal methods: one window rule (7d baseline) and one seasonal rule
// (one season, a day's min_history: its history check reads six days)
// over 10,000 series × 7 days of one-minute data (ALERT_BENCH_DAYS) in a
// real Prometheus, evaluated the full way (alerting.Evaluate, what every
// run read before) and warm (an Evaluator with a Store, after a cold
// start that summarised every hour): the window rule from hour summaries
// alone, from checkpoints, and from checkpoints at a run that prepares
// the next hour's (two shards' hour summaries), side by side in one run:
// the time of one evaluation (s/eval), the peak heap of this process during it
// (peak-heap-MB: objects live or not yet swept, under the test binary's
// GOGC=100) and the query samples Prometheus reports it read
// (ALERT_BENCH_QUERIES=file appends each query's time to file). Each warm
// evaluation runs again under the template's GOMEMLIMIT, as the function
// does, which decides whether it fits: limited-live-MB is the peak heap
// the GC found live, limited-runtime-MB the peak memory the Go runtime
// held from the OS (what the function's RSS follows), limited-s its time
// (ALERT_BENCH_HEAPPROFILE=dir writes there the heap profile at the
// limited run's peak, one file per path). Run with:
//
//	go test -run '^$' -bench WindowSummaries10k -benchtime 3x -timeout 60m ./shared/alerting/
//
// ALERT_BENCH_SERIES (default 10000) and ALERT_BENCH_STEP (the data's
// resolution, default 1m) size it otherwise, and ALERT_BENCH_RULE (Window
// or Seasonal) keeps one rule: the warm window path reads the same per
// series whatever the baseline's length, so 100,000 series of 5-minute
// data over one day (issue 14's 100k must-show) shows what a run costs
// without a week of them.
func BenchmarkWindowSummaries10k(b *testing.B) {
	days := 7
	if v, err := strconv.Atoi(os.Getenv("ALERT_BENCH_DAYS")); err == nil && v > 0 {
		days = v
	}
	// A size that is set but unreadable fails: a run measured at the
	// default by mistake would be quoted as the size asked for.
	n := 10_000
	if s := os.Getenv("ALERT_BENCH_SERIES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("ALERT_BENCH_SERIES=%q: want a positive number of series", s)
		}
		n = v
	}
	step := time.Minute
	if s := os.Getenv("ALERT_BENCH_STEP"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v < time.Second {
			b.Fatalf("ALERT_BENCH_STEP=%q: want a duration of at least 1s (e.g. 5m)", s)
		}
		step = v
	}
	only := os.Getenv("ALERT_BENCH_RULE")
	if only != "" && only != "Window" && only != "Seasonal" {
		b.Fatalf("ALERT_BENCH_RULE=%q: want Window or Seasonal", only)
	}
	memLimit := templateMemoryLimit(b)
	prom, w, q := promClients(b)
	// Twenty minutes past the hour: the runs are forty minutes before the
	// oldest hour leaves the baseline, as most runs are (at the hour, a
	// run prepares every shard left).
	end := time.Date(2026, 11, 2, 12, 20, 0, 0, time.UTC)
	began := time.Now()
	tq := &timedQuerier{q: q}
	seedBlocks(b, prom, q, n, days, step, end)
	b.Logf("%d series × %d days of points every %s loaded in %s", n, days, step, time.Since(began).Round(time.Second))

	a := shippedLike()
	a.Method, a.Baseline, a.MinHistory = anomaly.MethodWindow, config.Duration(time.Duration(days)*24*time.Hour), config.Duration(24*time.Hour)
	seasonal := shippedLike()
	seasonal.Method, seasonal.Seasons, seasonal.MinHistory = anomaly.MethodSeasonal, 1, config.Duration(24*time.Hour)
	for _, r := range []rules.Rule{
		{Alert: "Window", Expr: "sw_mom", Anomaly: &a},
		{Alert: "Seasonal", Expr: "sw_mom", Anomaly: &seasonal},
	} {
		if only != "" && r.Alert != only {
			continue
		}
		// The runs start after the data's end (a block's range is closed
		// to new samples) and read it as their newest data.
		at := end.Add(time.Minute)
		// evaluate runs one evaluation and measures its time and peaks,
		// under the template's memory limit when limited.
		evaluate := func(e *alerting.Evaluator, limited bool, profile string) (alerting.Evaluation, promql.CostSnapshot, memPeak, time.Duration) {
			var (
				ev   alerting.Evaluation
				cost promql.Cost
				err  error
				peak memPeak
			)
			limit := int64(math.MaxInt64)
			if limited {
				limit = memLimit
			}
			t0 := time.Now()
			underMemoryLimit(limit, func() {
				peak = peakMemory(profile, func() {
					ev, err = e.Evaluate(promql.WithCost(context.Background(), &cost), r, at)
					if err != nil {
						b.Fatal(err)
					}
				})
			})
			return ev, cost.Snapshot(), peak, time.Since(t0)
		}
		// The cold start: every hour summarised in one run, and the
		// checkpoints of the baseline's whole hours and of the next
		// hour's. Its records are written under three deployments: all
		// of them (the checkpoints' path); the hour summaries only (the
		// path before checkpoints); and without the next hour's
		// checkpoint, whose runs prepare it as the runs after the oldest
		// hour leaves do (two shards of sixteen a run).
		stores := map[string]*alerting.Store{}
		for _, d := range []string{"checkpoint", "summaries", "preparing"} {
			stores[d] = alerting.NewStore(tq, d)
		}
		cold, coldCost, coldPeak, coldTime := evaluate(&alerting.Evaluator{Query: q, Store: stores["checkpoint"], Step: time.Minute, Scheduled: at, HistoryBudget: 1 << 40}, false, "")
		if cold.Persist != nil {
			all := *cold.Persist
			hours := alerting.DetectorRecords{Config: all.Config, Hours: all.Hours}
			unprepared := hours
			for _, rec := range all.States {
				// The run's own checkpoint starts an hour before the
				// next hour's.
				oldest := rec.Values[:alerting.CheckpointWidth]
				for i := 0; i < len(rec.Values); i += alerting.CheckpointWidth {
					if rec.Values[i] < oldest[0] {
						oldest = rec.Values[i : i+alerting.CheckpointWidth]
					}
				}
				unprepared.States = append(unprepared.States, alerting.Record{Series: rec.Series, Values: oldest})
			}
			for d, recs := range map[string]alerting.DetectorRecords{"checkpoint": all, "summaries": hours, "preparing": unprepared} {
				series := stores[d].DetectorSeries(at, alerting.RefOf(r), recs)
				for _, part := range remotewrite.Batches(series, 200_000, 0) {
					if err := w.Write(context.Background(), part); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		b.Logf("%s cold start: %s, %.0f MB peak heap, %d samples, progress %+v", r.Alert, coldTime.Round(time.Millisecond), float64(coldPeak.objects)/(1<<20), coldCost.Samples, cold.Progress)
		tq.flush()
		at = at.Add(time.Minute)
		paths := []string{"full", "summaries"}
		if r.Anomaly.Method == anomaly.MethodWindow {
			paths = append(paths, "checkpoint", "preparing")
		}
		for _, path := range paths {
			b.Run(r.Alert+"/"+path, func(b *testing.B) {
				var (
					peak, limitedPeak memPeak
					limitedTime, took time.Duration
					samples           int64
					series            int
				)
				for b.Loop() {
					// Twice: under the test binary's GC (the column
					// measured before), then under GOMEMLIMIT as the
					// function runs.
					for _, limited := range []bool{false, true} {
						e := &alerting.Evaluator{Query: tq, Step: time.Minute, Scheduled: at, Store: stores[path]}
						profile := ""
						if dir := os.Getenv("ALERT_BENCH_HEAPPROFILE"); dir != "" && limited {
							profile = filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_")+".heap")
						}
						ev, cost, p, t := evaluate(e, limited, profile)
						if r.Anomaly.Method == anomaly.MethodWindow {
							warm := ev.Progress.Summaries == n
							switch path {
							case "checkpoint":
								warm = warm && ev.Progress.Checkpoints == n && ev.Progress.Prepared == 0
							case "preparing":
								warm = warm && ev.Progress.Checkpoints == n && ev.Progress.Prepared > 0
							case "summaries":
								warm = warm && ev.Progress.Checkpoints == 0
							}
							if path != "full" && !warm {
								b.Fatalf("not the %s path: %+v", path, ev.Progress)
							}
						}
						if limited {
							limitedPeak.live = max(limitedPeak.live, p.live)
							limitedPeak.runtime = max(limitedPeak.runtime, p.runtime)
							limitedTime = max(limitedTime, t)
						} else {
							peak.objects = max(peak.objects, p.objects)
							took = max(took, t)
						}
						samples, series = cost.Samples, len(ev.Series)
					}
				}
				if series != n {
					b.Fatalf("%d series evaluated", series)
				}
				if log := tq.flush(); log != "" {
					appendLog(b, fmt.Sprintf("%s: the queries of its evaluations (time, series or points returned, query):\n%s\n", b.Name(), log))
				}
				b.ReportMetric(took.Seconds(), "s/eval")
				b.ReportMetric(float64(peak.objects)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(limitedPeak.live)/(1<<20), "limited-live-MB")
				b.ReportMetric(float64(limitedPeak.runtime)/(1<<20), "limited-runtime-MB")
				b.ReportMetric(limitedTime.Seconds(), "limited-s")
				b.ReportMetric(float64(samples), "query-samples/op")
			})
		}
	}
}
