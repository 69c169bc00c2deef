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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// templateGOMEMLIMIT is the AlertFunction's GOMEMLIMIT in template.yaml.
func templateGOMEMLIMIT(b *testing.B) string {
	b.Helper()
	limit, _, err := testenv.FunctionMemoryLimit("AlertFunction")
	if err != nil {
		b.Fatal(err)
	}
	return limit
}

// BenchmarkAlertRun10kOneMinute runs the built alert function, as a child
// process the way Lambda runs it and with the template's GOMEMLIMIT, over
// 10,000 series of 1-minute data (26 hours, seeded into a real Prometheus),
// 100 of which burst in the last half hour: the first run fires them (one
// grouped message listing ten, with their sparklines), the later ones carry
// 100 firing states. One sub-benchmark per anomaly method: window, and the
// shipped default (whatever rules.yaml's defaults are now). It reports the
// child's peak RSS, which is what Lambda's memory limit applies to.
//
//	go test -run '^$' -bench 'AlertRun10kOneMinute/window' -benchtime 3x ./shared/alertengine/
//	go test -run '^$' -bench 'AlertRun10kOneMinute/default' -benchtime 1x -timeout 30m ./shared/alertengine/
//
// ALERT_BENCH_BOOTSTRAP=path measures another build (an older commit) on the
// same data.
func BenchmarkAlertRun10kOneMinute(b *testing.B) {
	ctx := context.Background()
	prom := testenv.StartPrometheus(b, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	end := time.Now().UTC().Truncate(time.Minute).Add(-20 * time.Minute)
	start := end.Add(-26 * time.Hour)
	burst := end.Add(-30 * time.Minute)
	rng := rand.New(rand.NewPCG(3, 4))
	for from := start; !from.After(end.Add(10 * time.Minute)); from = from.Add(40 * time.Minute) {
		batch := make([]remotewrite.Series, 0, n)
		for i := range n {
			s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_bench_cpu"},
				{Name: "instance", Value: fmt.Sprintf("i-%05d", i)}, {Name: "region", Value: "us-east-1"}}}
			for ts := from; ts.Before(from.Add(40*time.Minute)) && !ts.After(end.Add(10*time.Minute)); ts = ts.Add(time.Minute) {
				v := 40 + 3*rng.NormFloat64()
				if i%100 == 0 && !ts.Before(burst) {
					v += 60
				}
				s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: v})
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
	queue := testenv.SubscribeQueue(b, cfg, topic, b.Name(), "")
	limit := templateGOMEMLIMIT(b)
	bootstrap := os.Getenv("ALERT_BENCH_BOOTSTRAP")
	if bootstrap == "" {
		bootstrap = testenv.BuildBootstrap(b, "./functions/alert")
	}
	// One part of the rules (issue 14, work split across invocations): the
	// same series as two window rules, each over half the instances in a
	// group of its own, and the function run for one of the groups, as the
	// event's "groups" (or -groups) runs it.
	b.Run("window-part", func(b *testing.B) {
		rulesPath := filepath.Join(b.TempDir(), "rules.yaml")
		if err := os.WriteFile(rulesPath, []byte(`
settings:
  interval: 1m
groups:
  - name: fleet-a
    rules:
      - alert: CPUAnomalyA
        expr: sw_bench_cpu{instance=~"i-0[0-4].*"}
        labels: {severity: warning}
        anomaly: {method: window}
  - name: fleet-b
    rules:
      - alert: CPUAnomalyB
        expr: sw_bench_cpu{instance=~"i-0[5-9].*"}
        labels: {severity: warning}
        anomaly: {method: window}
`), 0o600); err != nil {
			b.Fatal(err)
		}
		env := append(moto.Env(), "PATH="+os.Getenv("PATH"), "GOMEMLIMIT="+limit,
			"SIGMAWATCH_PROMETHEUS_URL="+prom.URL, "SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL,
			"SIGMAWATCH_SNS_TOPIC_ARN="+topic, "SIGMAWATCH_DEPLOYMENT=bench-part")
		runBench(b, bootstrap, rulesPath, env, end, limit, n/2, "-groups", "fleet-a")
		if msgs := testenv.ReceiveSNS(b, cfg, queue); len(msgs) != 1 || !strings.Contains(msgs[0].Body, "Series:    50") {
			b.Fatalf("want one firing message listing the part's 50 bursting series, got %d", len(msgs))
		}
	})
	for _, method := range []string{"window", "default"} {
		b.Run(method, func(b *testing.B) {
			anomalyBlock := "{method: window}"
			if method == "default" {
				anomalyBlock = "{} # the shipped defaults"
			}
			rulesPath := filepath.Join(b.TempDir(), "rules.yaml")
			if err := os.WriteFile(rulesPath, []byte(`
settings:
  interval: 1m
groups:
  - name: fleet
    rules:
      - alert: CPUAnomaly
        expr: sw_bench_cpu
        labels: {severity: warning}
        anomaly: `+anomalyBlock+`
`), 0o600); err != nil {
				b.Fatal(err)
			}
			env := append(moto.Env(), "PATH="+os.Getenv("PATH"), "GOMEMLIMIT="+limit,
				"SIGMAWATCH_PROMETHEUS_URL="+prom.URL, "SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL,
				"SIGMAWATCH_SNS_TOPIC_ARN="+topic, "SIGMAWATCH_DEPLOYMENT=bench-"+method)
			runBench(b, bootstrap, rulesPath, env, end, limit, n)
			msgs := testenv.ReceiveSNS(b, cfg, queue)
			if len(msgs) != 1 || !strings.Contains(msgs[0].Body, "Series:    100") {
				b.Fatalf("want one firing message listing the 100 bursting series, got %d", len(msgs))
			}
		})
	}
}

// runBench runs the function (with args) at successive minutes from at and
// reports the peak RSS of the runs, and the query samples of the last, as
// its summary line gives them.
func runBench(b *testing.B, bootstrap, rulesPath string, env []string, at time.Time, limit string, n int, args ...string) {
	b.Helper()
	var peak int64
	var samples float64
	for b.Loop() {
		cmd := exec.Command(bootstrap, append([]string{"-config", rulesPath, "-at", at.Format(time.RFC3339)}, args...)...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("run at %s: %v\n%s", at, err, out.String())
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peak = max(peak, ru.Maxrss) // KiB on Linux
		}
		for _, line := range strings.Split(out.String(), "\n") {
			var sum struct {
				Message      string  `json:"message"` // lambdacontext.ReplaceAttr's name for msg
				QuerySamples float64 `json:"query_samples"`
			}
			if json.Unmarshal([]byte(line), &sum) == nil && sum.Message == "alert run finished" {
				samples = sum.QuerySamples
			}
		}
		at = at.Add(time.Minute)
	}
	b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
	b.ReportMetric(samples, "query-samples/run")
	b.Logf("GOMEMLIMIT=%s, %s series, peak RSS %.0f MB, %.0f query samples in the last run", limit, strconv.Itoa(n), float64(peak)/1024, samples)
}
