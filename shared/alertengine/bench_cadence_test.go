package alertengine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// BenchmarkAlertRun10kFiveMinute (issue 14, evaluate at the data's
// cadence) runs the built alert function, as a child process with the
// template's GOMEMLIMIT, once a minute over 10,000 series of 5-minute data
// (26 hours in a real Prometheus) under one window rule: the first run
// evaluates the rule, the next four find no new point and skip it. It
// reports each kind of run's wall time, query samples and the peak RSS
// over all runs.
//
//	go test -run '^$' -bench AlertRun10kFiveMinute -benchtime 5x -timeout 40m ./shared/alertengine/
func BenchmarkAlertRun10kFiveMinute(b *testing.B) {
	ctx := context.Background()
	prom := testenv.StartPrometheus(b, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	// The newest point at end; runs at end, end+1m, … see no newer one.
	end := time.Now().UTC().Truncate(5 * time.Minute).Add(-20 * time.Minute)
	start := end.Add(-26 * time.Hour)
	rng := rand.New(rand.NewPCG(5, 6))
	for from := start; !from.After(end); from = from.Add(40 * time.Minute) {
		batch := make([]remotewrite.Series, 0, n)
		for i := range n {
			s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_bench5_cpu"},
				{Name: "instance", Value: fmt.Sprintf("i-%05d", i)}, {Name: "region", Value: "us-east-1"}}}
			for ts := from; ts.Before(from.Add(40*time.Minute)) && !ts.After(end); ts = ts.Add(5 * time.Minute) {
				s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: 40 + 3*rng.NormFloat64()})
			}
			batch = append(batch, s)
		}
		for _, part := range remotewrite.Batches(batch, 200_000, 0) {
			if err := w.Write(ctx, part); err != nil {
				b.Fatal(err)
			}
		}
	}
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		b.Fatal(err)
	}
	topic := testenv.NewTopic(b, cfg, b.Name())
	limit := templateGOMEMLIMIT(b)
	bootstrap := os.Getenv("ALERT_BENCH_BOOTSTRAP")
	if bootstrap == "" {
		bootstrap = testenv.BuildBootstrap(b, "./functions/alert")
	}
	rulesPath := filepath.Join(b.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(`
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: fleet
    rules:
      - alert: CPUAnomaly
        expr: sw_bench5_cpu
        labels: {severity: warning}
        anomaly: {method: window}
`), 0o600); err != nil {
		b.Fatal(err)
	}
	env := append(moto.Env(), "PATH="+os.Getenv("PATH"), "GOMEMLIMIT="+limit,
		"SIGMAWATCH_PROMETHEUS_URL="+prom.URL, "SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL,
		"SIGMAWATCH_SNS_TOPIC_ARN="+topic, "SIGMAWATCH_DEPLOYMENT=bench-cadence")

	type run struct {
		skipped      bool
		samples      float64
		wall, millis time.Duration
	}
	var runs []run
	var peak int64
	at := end
	for b.Loop() {
		cmd := exec.Command(bootstrap, "-config", rulesPath, "-at", at.Format(time.RFC3339))
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		began := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("run at %s: %v\n%s", at, err, out.String())
		}
		r := run{wall: time.Since(began)}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peak = max(peak, ru.Maxrss) // KiB on Linux
		}
		found := false
		for _, line := range strings.Split(out.String(), "\n") {
			var sum struct {
				Message      string  `json:"message"` // lambdacontext.ReplaceAttr's name for msg
				QuerySamples float64 `json:"query_samples"`
				RulesSkipped int     `json:"rules_skipped"`
				Series       int     `json:"series_evaluated"`
				DurationMS   int64   `json:"duration_ms"`
			}
			if json.Unmarshal([]byte(line), &sum) == nil && sum.Message == "alert run finished" {
				found = true
				r.skipped, r.samples, r.millis = sum.RulesSkipped == 1, sum.QuerySamples, time.Duration(sum.DurationMS)*time.Millisecond
				if !r.skipped && sum.Series != n {
					b.Fatalf("run at %s evaluated %d series, want %d", at, sum.Series, n)
				}
			}
		}
		if !found {
			b.Fatalf("run at %s: no summary line\n%s", at, out.String())
		}
		runs = append(runs, r)
		at = at.Add(time.Minute)
	}
	report := func(skipped bool, name string) {
		var ds, ms []time.Duration
		var samples []float64
		for _, r := range runs {
			if r.skipped == skipped {
				ds, ms, samples = append(ds, r.wall), append(ms, r.millis), append(samples, r.samples)
			}
		}
		if len(ds) == 0 {
			return
		}
		slices.Sort(ds)
		slices.Sort(ms)
		slices.Sort(samples)
		b.ReportMetric(samples[len(samples)/2], name+"-query-samples/run")
		b.ReportMetric(ms[len(ms)/2].Seconds(), name+"-s/run")
		b.Logf("%s runs: %d, median wall %s (process), %s (the run's duration_ms), median query samples %.0f", name, len(ds), ds[len(ds)/2], ms[len(ms)/2], samples[len(samples)/2])
	}
	report(false, "evaluated")
	report(true, "skipped")
	b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
	b.Logf("GOMEMLIMIT=%s, %d series of 5-minute data, peak RSS %.0f MB over %d runs", limit, n, float64(peak)/1024, len(runs))
}
