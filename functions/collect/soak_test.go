package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// Soak parameters: SOAK_RUNS and SOAK_SEED override them (make soak runs more).
const (
	soakDefaultRuns = 200
	soakSeed        = 20261125
	soakPeriod      = 5 * time.Minute
	soakDelay       = 10 * time.Minute
	soakCatchUp     = 45 * time.Minute
)

type faultKind string

const (
	faultNone     faultKind = "none"
	faultDown     faultKind = "receiver down"
	fault500      faultKind = "receiver answers 500"
	fault429      faultKind = "receiver answers 429 with Retry-After"
	faultSlow     faultKind = "receiver slower than the deadline"
	faultKilled   faultKind = "process killed mid-write"
	faultThrottle faultKind = "CloudWatch throttling"
)

// mustFail says which faults must make the run return an error.
var mustFail = map[faultKind]bool{faultDown: true, fault500: true, faultSlow: true, faultKilled: true}

// soakSchedule draws the faults of every run from a seeded generator: short
// outages (3–6 runs, shorter than max_catch_up), one long outage (14 runs,
// 70 minutes), and single-run faults at random points.
func soakSchedule(runs int, seed uint64) []faultKind {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	s := make([]faultKind, runs)
	for i := range s {
		s[i] = faultNone
	}
	free := func(from, n int) bool {
		for i := max(from-1, 0); i < min(from+n+1, runs); i++ {
			if s[i] != faultNone {
				return false
			}
		}
		return true
	}
	longAt := runs / 2
	for i := longAt; i < longAt+14 && i < runs; i++ {
		s[i] = faultDown
	}
	for placed := 0; placed < runs/40; {
		n, at := 3+rng.IntN(4), 2+rng.IntN(runs-12)
		if free(at, n) {
			for i := at; i < at+n; i++ {
				s[i] = faultDown
			}
			placed++
		}
	}
	singles := []faultKind{fault500, fault429, faultSlow, faultKilled, faultThrottle}
	for placed := 0; placed < runs/8; {
		at := 1 + rng.IntN(runs-2)
		if free(at, 1) {
			s[at] = singles[placed%len(singles)]
			placed++
		}
	}
	return s
}

const throttlingXML = `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>soak</RequestId></ErrorResponse>`

// TestSoakCollect runs collect at 200 successive scheduled times against
// moto and a real receiver, with faults injected at seeded points, then
// checks that every datapoint seeded into CloudWatch is stored exactly once
// except inside the span given up after the long outage, whose length must
// equal what sigmawatch_collect_skipped_seconds reports.
func TestSoakCollect(t *testing.T) {
	t.Parallel()
	runs := soakDefaultRuns
	if v := os.Getenv("SOAK_RUNS"); v != "" {
		_, err := fmt.Sscan(v, &runs)
		require.NoError(t, err)
	}
	schedule := soakSchedule(runs, soakSeed)
	counts := map[faultKind]int{}
	for _, f := range schedule {
		counts[f]++
	}
	t.Logf("seed %d, %d runs, injected: %v", soakSeed, runs, counts)
	for _, kind := range []string{"prometheus", "victoriametrics"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			soakCollect(t, kind, schedule)
		})
	}
}

func soakCollect(t *testing.T, kind string, schedule []faultKind) {
	ctx := context.Background()
	var store *testenv.Receiver
	if kind == "prometheus" {
		store = testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	} else {
		store = testenv.StartVictoriaMetrics(t)
	}
	storeProxy := testenv.NewFaultProxy(t, store.URL)
	cwProxy := testenv.NewFaultProxy(t, moto.URL)

	// Seed: two discovered instances and one static series, a point every
	// 5 minutes over the whole soak.
	uid := strings.ReplaceAll(testenv.UniqueName(t.Name()), "-", "")
	uid = uid[max(0, len(uid)-10):]
	ns, metric := "Soak/"+uid, "Load"+uid
	A := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(len(schedule)+40) * soakPeriod)
	end := A.Add(time.Duration(len(schedule)+6) * soakPeriod)
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	cw := awsconf.CloudWatch(awsCfg)
	seeded := map[string]map[int64]float64{} // dimension value → ts → value
	for _, id := range []string{"a", "b", "static"} {
		seeded[id] = map[int64]float64{}
		var data []cwtypes.MetricDatum
		for ts := A.Add(-time.Hour); ts.Before(end); ts = ts.Add(soakPeriod) {
			v := float64(ts.Unix()%100003)/7 + float64(len(id))
			seeded[id][ts.UnixMilli()] = v
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(metric), Timestamp: aws.Time(ts), Value: aws.Float64(v),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("Host"), Value: aws.String(id)}}})
		}
		for len(data) > 0 {
			n := min(len(data), 150)
			_, err := cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(ns), MetricData: data[:n]})
			require.NoError(t, err)
			data = data[n:]
		}
	}
	cfgText := fmt.Sprintf(`
interval: 5m
max_catch_up: 45m
defaults: {period: 5m, length: 5m, delay: 10m}
jobs:
  - name: soak_discovered
    regions: [us-east-1]
    namespace: %[1]s
    dimensions: [Host]
    metrics:
      - {name: %[2]s, statistics: [Average]}
  - name: soak_static
    regions: [us-east-1]
    namespace: %[1]s
    static:
      - {Host: static}
    metrics:
      - {name: %[2]s, statistics: [Sum]}
`, ns, metric)
	cfgPath := filepath.Join(t.TempDir(), "collect.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfgText), 0o600))
	cfg, err := config.LoadCollect([]byte(cfgText))
	require.NoError(t, err)
	// The discovered job must not also pick the static host: give the
	// static one its own name in discovery terms by filtering it out below.

	proxCfg := awsCfg.Copy()
	proxCfg.BaseEndpoint = aws.String(cwProxy.URL)
	w, err := remotewrite.NewClient(storeProxy.URL+"/api/v1/write", remotewrite.WithBackoff(20*time.Millisecond, 300*time.Millisecond), remotewrite.WithMaxAttempts(5))
	require.NoError(t, err)
	q, err := promql.NewClient(storeProxy.URL, http.DefaultTransport)
	require.NoError(t, err)
	coll, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(proxCfg), Writer: w, Progress: q, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	h := &handler{cfg: cfg, coll: coll, log: slog.New(slog.DiscardHandler)}
	bootstrap := testenv.BuildBootstrap(t, "./functions/collect")

	failedRuns, killed := 0, 0
	for k, fault := range schedule {
		at := A.Add(15*time.Minute + time.Duration(k)*soakPeriod)
		var runErr error
		switch fault {
		case faultDown:
			storeProxy.Set(&testenv.Fault{Down: true})
		case fault500:
			storeProxy.Set(&testenv.Fault{Status: 500, Body: "injected"})
		case fault429:
			storeProxy.Set(&testenv.Fault{Status: 429, RetryAfter: 1, Times: 1, Match: isWrite})
		case faultSlow:
			storeProxy.Set(&testenv.Fault{Delay: 3 * time.Second, Match: isWrite})
		case faultThrottle:
			cwProxy.Set(&testenv.Fault{Status: 400, Body: throttlingXML, Times: 2})
		}
		if fault == faultKilled {
			runErr = runKilled(t, bootstrap, cfgPath, at, storeProxy, cwProxy)
			killed++
		} else {
			// A Lambda has minutes; 2 s keeps the slow-receiver faults fast,
			// and the SDK's throttling backoff gets the time a Lambda would.
			// Other runs get 10 s: the collector stops starting CloudWatch
			// calls a quarter of a short deadline before it, and a loaded
			// machine must not turn that into a failed run.
			deadline := 10 * time.Second
			switch fault {
			case faultSlow:
				deadline = 2 * time.Second
			case faultThrottle:
				deadline = 30 * time.Second
			}
			runCtx, cancel := context.WithTimeout(ctx, deadline)
			_, runErr = h.runOnce(runCtx, at, nil)
			cancel()
		}
		storeProxy.Set(nil)
		cwProxy.Set(nil)
		if fault == faultSlow {
			// The slow receiver still stores the request after the sender
			// gave up; real runs are minutes apart, so it has landed before
			// the next one reads progress. Let that time pass.
			time.Sleep(3*time.Second + 500*time.Millisecond)
		}
		// Scheduled runs are minutes apart; VictoriaMetrics makes new data
		// queryable within a second. Flushing stands in for that time.
		require.NoError(t, store.Flush(ctx))
		if mustFail[fault] {
			require.Error(t, runErr, "run %d at %s with %q must fail visibly", k, at.Format(time.TimeOnly), fault)
			failedRuns++
		} else {
			require.NoError(t, runErr, "run %d at %s with %q", k, at.Format(time.TimeOnly), fault)
		}
	}
	require.NoError(t, store.Flush(ctx))
	_, throttled := cwProxy.Counts()
	require.Positive(t, throttled, "CloudWatch throttling reached the collector")
	t.Logf("%s: %d runs, %d failed visibly as injected (%d killed mid-write, %d CloudWatch requests throttled and retried)", kind, len(schedule), failedRuns, killed, throttled)

	// What is stored, read straight from the receiver.
	last := A.Add(15*time.Minute + time.Duration(len(schedule)-1)*soakPeriod)
	sq, err := promql.NewClient(store.URL, http.DefaultTransport)
	require.NoError(t, err)
	series, err := sq.QuerySeries(ctx, fmt.Sprintf(`{__name__=~"aws_.+",job=~"soak_.+"}[%ds]`, int(last.Sub(A.Add(-2*time.Hour)).Seconds())), last)
	require.NoError(t, err)
	got := map[string]map[int64]float64{}
	for _, s := range series {
		id := s.Labels["dimension_Host"]
		if s.Labels["job"] == "soak_discovered" && id == "static" {
			id = "static-discovered"
		}
		got[id] = map[int64]float64{}
		for _, p := range s.Points {
			_, dup := got[id][p.T.UnixMilli()]
			require.False(t, dup, "%s: duplicate at %s", id, p.T)
			got[id][p.T.UnixMilli()] = p.V
		}
	}
	if kind == "victoriametrics" {
		c, err := sq.Query(ctx, fmt.Sprintf(`sum(count_over_time({__name__=~"aws_.+",job=~"soak_.+"}[%ds]))`, int(last.Sub(A.Add(-2*time.Hour)).Seconds())), last)
		require.NoError(t, err)
		total := 0
		for _, pts := range got {
			total += len(pts)
		}
		require.Len(t, c, 1)
		require.InDelta(t, float64(total), c[0].V, 0, "VictoriaMetrics stored a sample twice")
	}

	// The given-up spans, as the collector reported them.
	skipped, err := sq.QuerySeries(ctx, fmt.Sprintf(`sigmawatch_collect_skipped_seconds{job=~"soak_.+"}[%ds]`, int(last.Sub(A).Seconds())+60), last)
	require.NoError(t, err)
	type span struct{ from, to time.Time }
	var spans []span
	for _, s := range skipped {
		for _, p := range s.Points {
			if p.V == 0 {
				continue
			}
			endT := cloudwatch.Align(p.T.Add(-soakDelay), soakPeriod).Add(-soakCatchUp)
			spans = append(spans, span{endT.Add(-time.Duration(p.V * float64(time.Second))), endT})
			t.Logf("%s: job %s gave up %.0fs [%s, %s) at run %s", kind, s.Labels["job"], p.V, endT.Add(-time.Duration(p.V*float64(time.Second))).Format(time.TimeOnly), endT.Format(time.TimeOnly), p.T.Format(time.TimeOnly))
		}
	}
	// Expected given-up span: the long outage (14 runs) leaves a gap of 15
	// periods since the last covering run, of which 9 periods (max_catch_up)
	// are caught up: 6 periods = 30 minutes per job, reported once per job.
	require.Len(t, spans, 2, "one given-up span per job, from the long outage only")
	for _, s := range spans {
		require.Equal(t, 30*time.Minute, s.to.Sub(s.from), "given-up span")
	}
	givenUp := func(ts time.Time) bool {
		for _, s := range spans {
			if !ts.Before(s.from) && ts.Before(s.to) {
				return true
			}
		}
		return false
	}
	firstStart := cloudwatch.Align(A.Add(15*time.Minute-soakDelay), soakPeriod).Add(-soakPeriod)
	lastEnd := cloudwatch.Align(last.Add(-soakDelay), soakPeriod)
	for _, id := range []string{"a", "b", "static"} {
		var missing, extra []string
		for ms, v := range seeded[id] {
			ts := time.UnixMilli(ms).UTC()
			inRange := !ts.Before(firstStart) && ts.Before(lastEnd)
			g, ok := got[id][ms]
			switch {
			case inRange && !givenUp(ts) && !ok:
				missing = append(missing, ts.Format(time.TimeOnly))
			case ok && (!inRange || givenUp(ts)):
				extra = append(extra, ts.Format(time.TimeOnly))
			case ok && kind == "prometheus":
				require.Equal(t, v, g, "%s at %s", id, ts)
			case ok:
				require.InEpsilon(t, v, g, 1e-12, "%s at %s", id, ts)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		require.Empty(t, missing, "%s: gaps outside the given-up span", id)
		require.Empty(t, extra, "%s: samples that should not be there", id)
	}
	_, hasDecoy := got["static-discovered"]
	require.True(t, hasDecoy, "discovery also lists the static host: it is its own series under the discovery job")
	t.Logf("%s: every seeded datapoint outside the given-up spans stored exactly once", kind)
}

func isWrite(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/api/v1/write") }

// runKilled runs one scheduled time in a separate process and kills it with
// SIGKILL right after its first write reached the receiver (and was stored),
// before it saw the answer: a Lambda killed mid-write.
func runKilled(t *testing.T, bootstrap, cfgPath string, at time.Time, storeProxy, cwProxy *testenv.FaultProxy) error {
	t.Helper()
	cmd := exec.Command(bootstrap, "-config", cfgPath, "-at", at.Format(time.RFC3339))
	env := []string{"PATH=" + os.Getenv("PATH"),
		"SIGMAWATCH_REMOTE_WRITE_URL=" + storeProxy.URL + "/api/v1/write",
		"SIGMAWATCH_PROMETHEUS_URL=" + storeProxy.URL,
		"SIGMAWATCH_LOG_LEVEL=error",
	}
	for _, e := range moto.Env() {
		if strings.HasPrefix(e, "AWS_ENDPOINT_URL=") {
			e = "AWS_ENDPOINT_URL=" + cwProxy.URL
		}
		env = append(env, e)
	}
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The hook runs on the proxy's goroutine: it may only touch the process
	// once Start has returned, which the channel tells it.
	started := make(chan *os.Process, 1)
	var once sync.Once
	storeProxy.OnForwarded(func(r *http.Request) {
		if isWrite(r) {
			once.Do(func() {
				p := <-started
				_ = p.Kill()
			})
		}
	})
	defer storeProxy.OnForwarded(nil)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	started <- cmd.Process
	err := cmd.Wait()
	if err == nil {
		return fmt.Errorf("expected the process to be killed; it finished: %s", out.String())
	}
	return err
}
