package alertengine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// BenchmarkAutoRun10k runs the built alert function, as a child process
// with the template's GOMEMLIMIT, over one auto rule (the shipped
// defaults) on 10,000 series of 1-minute data in a real Prometheus, side
// by side: the full-history path (-dry-run, which replays each series'
// stored points at every run) and the deployed incremental path (the
// detector states persisted by the run before). The incremental runs are
// measured once every series is caught up (the cold starts, bounded by
// alerting.DefaultHistoryBudget a run, are not timed; their count is
// reported). Per run it reports the wall time, the child's peak RSS, and
// the samples Prometheus's engine read (its query stats, samplesProxy).
//
//	go test -run '^$' -bench AutoRun10k -benchtime 10x -timeout 60m ./shared/alertengine/
//
// ALERT_BENCH_HOURS sets the history (26 hours by default; 168 for the
// issue's seven days, which takes Prometheus a while to load).
func BenchmarkAutoRun10k(b *testing.B) {
	ctx := context.Background()
	hours := 26
	if v := os.Getenv("ALERT_BENCH_HOURS"); v != "" {
		h, err := strconv.Atoi(v)
		if err != nil || h < 1 {
			b.Fatalf("ALERT_BENCH_HOURS=%q: want a number of hours", v)
		}
		hours = h
	}
	prom := testenv.StartPrometheus(b, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	end := time.Now().UTC().Truncate(time.Minute).Add(-3 * time.Hour)
	start := end.Add(-time.Duration(hours) * time.Hour)
	rng := rand.New(rand.NewPCG(5, 6))
	// written is the newest point written: the history up to end first,
	// then, before each run, the minutes up to its time, as collect does
	// (the store's head takes nothing an hour older than its newest, and
	// the runs write their state at their own time).
	var written time.Time
	feed := func(to time.Time) {
		for from := start; !from.After(to); from = from.Add(40 * time.Minute) {
			if !from.Add(40*time.Minute).After(written) && !written.IsZero() {
				continue
			}
			batch := make([]remotewrite.Series, 0, n)
			for i := range n {
				s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_bench_auto"},
					{Name: "instance", Value: fmt.Sprintf("i-%05d", i)}, {Name: "region", Value: "us-east-1"}}}
				for ts := from; ts.Before(from.Add(40*time.Minute)) && !ts.After(to); ts = ts.Add(time.Minute) {
					if written.IsZero() || ts.After(written) {
						s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: 40 + 3*rng.NormFloat64()})
					}
				}
				if len(s.Samples) > 0 {
					batch = append(batch, s)
				}
			}
			for _, part := range remotewrite.Batches(batch, 200_000, 0) {
				if err := w.Write(ctx, part); err != nil {
					b.Fatal(err)
				}
			}
		}
		written = to
	}
	feed(end)
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		b.Fatal(err)
	}
	topic := testenv.NewTopic(b, cfg, b.Name())
	limit := templateGOMEMLIMIT(b)
	bootstrap := testenv.BuildBootstrap(b, "./functions/alert")
	rulesPath := filepath.Join(b.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(`
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: fleet
    rules:
      - alert: CPUAnomaly
        expr: sw_bench_auto
        labels: {severity: warning}
        anomaly: {} # the shipped defaults
`), 0o600); err != nil {
		b.Fatal(err)
	}
	proxy := newSamplesProxy(b, prom.URL)
	env := append(moto.Env(), "PATH="+os.Getenv("PATH"), "GOMEMLIMIT="+limit,
		"SIGMAWATCH_PROMETHEUS_URL="+proxy.URL, "SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL,
		"SIGMAWATCH_SNS_TOPIC_ARN="+topic, "SIGMAWATCH_LOG_LEVEL=info", "SIGMAWATCH_DEPLOYMENT=bench-auto")
	// run runs the function at at; a run that fails is returned with its
	// error (the full replay's query can outlast Prometheus's 2-minute
	// query timeout on a loaded machine: that is a figure too).
	run := func(b *testing.B, at time.Time, extra ...string) benchRun {
		b.Helper()
		if at.After(written) {
			feed(at)
		}
		before, appended := proxy.total.Load(), headAppended(b, prom.URL)
		cmd := exec.Command(bootstrap, append([]string{"-config", rulesPath, "-at", at.Format(time.RFC3339)}, extra...)...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		err := cmd.Run()
		r := benchRun{wall: time.Since(t0), samples: float64(proxy.total.Load() - before), written: headAppended(b, prom.URL) - appended}
		if err != nil {
			msg := out.String()
			r.err = fmt.Errorf("run at %s: %w: %s", at, err, msg[max(0, len(msg)-400):])
			return r
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rssMB = float64(ru.Maxrss) / 1024
			r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		for _, l := range bytes.Split(out.Bytes(), []byte("\n")) {
			var line struct {
				Msg      string            `json:"message"`
				Series   int               `json:"series_evaluated"`
				Detector alerting.Progress `json:"detector_states"`
			}
			if json.Unmarshal(l, &line) == nil && line.Msg == "alert run finished" {
				r.series, r.progress = line.Series, line.Detector
			}
		}
		if r.samples <= 0 {
			b.Fatalf("run at %s: Prometheus reported no query samples (stats=all)", at)
		}
		if r.series != n {
			b.Fatalf("run at %s evaluated %d series, want %d\n%s", at, r.series, n, out.String())
		}
		return r
	}

	b.Run("full-replay", func(b *testing.B) {
		var agg benchAgg
		at := end
		for b.Loop() {
			agg.add(run(b, at, "-dry-run"))
			at = at.Add(time.Minute)
		}
		if agg.ok() == 0 {
			b.Fatalf("no full replay completed: %v", agg.runs[0].err)
		}
		agg.report(b)
	})
	b.Run("incremental", func(b *testing.B) {
		at := end
		warm := 0
		for ; warm < 60; warm++ {
			r := run(b, at)
			at = at.Add(time.Minute)
			if r.err != nil {
				b.Fatal(r.err)
			}
			if r.progress.Cold+r.progress.Behind == 0 {
				break
			}
		}
		b.Logf("%d runs to start %d series cold (history budget %d samples a run)", warm, n, alerting.DefaultHistoryBudget)
		var agg benchAgg
		for b.Loop() {
			r := run(b, at)
			if r.err != nil {
				b.Fatal(r.err)
			}
			agg.add(r)
			at = at.Add(time.Minute)
		}
		b.ReportMetric(float64(warm), "cold-start-runs")
		agg.report(b)
	})
}

// benchRun is one run of the function.
type benchRun struct {
	err  error
	wall time.Duration
	// cpu is the child's user and system time: on a loaded machine the
	// wall time is mostly waiting.
	cpu     time.Duration
	rssMB   float64
	samples float64
	// written is the samples the store appended during the run (the
	// run's own writes: the data is fed before it).
	written  float64
	series   int
	progress alerting.Progress
}

type benchAgg struct {
	runs []benchRun
}

func (a *benchAgg) add(r benchRun) { a.runs = append(a.runs, r) }

func (a *benchAgg) ok() int {
	n := 0
	for _, r := range a.runs {
		if r.err == nil {
			n++
		}
	}
	return n
}

func (a *benchAgg) report(b *testing.B) {
	b.Helper()
	var peak, samples, maxSamples, written float64
	var maxWall, cpu time.Duration
	for _, r := range a.runs {
		if r.err != nil {
			b.Logf("failed: %v (after %s)", r.err, r.wall.Round(time.Millisecond))
			continue
		}
		peak = max(peak, r.rssMB)
		samples += r.samples
		maxSamples = max(maxSamples, r.samples)
		written += r.written
		maxWall = max(maxWall, r.wall)
		cpu += r.cpu
		b.Logf("run: %s (CPU %s), peak RSS %.0f MB, %.0f query samples, %.0f samples written, %+v", r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond), r.rssMB, r.samples, r.written, r.progress)
	}
	b.ReportMetric(peak, "peak-rss-MB")
	b.ReportMetric(samples/float64(a.ok()), "query-samples/op")
	b.ReportMetric(float64(len(a.runs)-a.ok()), "failed-runs")
	b.ReportMetric(written/float64(a.ok()), "written-samples/op")
	b.ReportMetric(maxSamples, "max-query-samples")
	b.ReportMetric(maxWall.Seconds(), "max-s")
	b.ReportMetric(cpu.Seconds()/float64(a.ok()), "cpu-s/op")
}

// samplesProxy stands between the function and Prometheus and adds
// stats=all to every query, summing the samples Prometheus says each read
// (data.stats.samples.totalQueryableSamples): the figure AMP bills.
type samplesProxy struct {
	URL   string
	total atomic.Int64
}

func newSamplesProxy(b *testing.B, target string) *samplesProxy {
	b.Helper()
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	p := &samplesProxy{}
	isQuery := func(path string) bool {
		return strings.HasSuffix(path, "/api/v1/query") || strings.HasSuffix(path, "/api/v1/query_range")
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		// Plain JSON back: the proxy's transport asks for gzip itself
		// and decompresses before ModifyResponse.
		r.Header.Del("Accept-Encoding")
		if !isQuery(r.URL.Path) {
			return
		}
		q := r.URL.Query()
		q.Set("stats", "all")
		r.URL.RawQuery = q.Encode()
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		if !isQuery(resp.Request.URL.Path) {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		var r struct {
			Data struct {
				Stats struct {
					Samples struct {
						TotalQueryableSamples int64 `json:"totalQueryableSamples"`
					} `json:"samples"`
				} `json:"stats"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &r) == nil {
			p.total.Add(r.Data.Stats.Samples.TotalQueryableSamples)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	b.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// headAppended is the samples Prometheus has appended to its head.
func headAppended(b *testing.B, url string) float64 {
	b.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		// One line per sample type (float, histogram) in newer versions.
		if strings.HasPrefix(line, "prometheus_tsdb_head_samples_appended_total") {
			f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				b.Fatal(err)
			}
			total += f
		}
	}
	return total
}
