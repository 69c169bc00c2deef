package alertengine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

const (
	soakRuns = 200
	soakSeed = 20261125
)

type alertFault string

const (
	alertFaultNone       alertFault = "none"
	alertFaultStoreDown  alertFault = "Prometheus down"
	alertFaultStore500   alertFault = "Prometheus answers 500"
	alertFaultSNS        alertFault = "SNS failing"
	alertFaultKilled     alertFault = "killed between publish and marking sent"
	alertFaultRetryLater alertFault = "Lambda retry of the previous scheduled time"
)

// alertMustFail: these faults must make the run return an error. SNS failing
// and a kill between publishing and marking sent do only when the run has
// something to publish.
var alertMustFail = map[alertFault]bool{alertFaultStoreDown: true, alertFaultStore500: true}

const soakRules = `
settings:
  interval: 5m
  repeat_interval: 24h
  evaluation_delay: 0s # the test writes each point at its scheduled time
groups:
  - name: soak
    rules:
      - alert: SoakCPU
        expr: sw_soak_cpu
        for: 10m
        labels: {severity: critical}
        anomaly:
          method: window
          baseline: 1d
          threshold: 4
          resolve_threshold: 2
          direction: both
          min_history: 12h
          min_stddev: 0.1
          min_relative_stddev: 0.05
          smoothing: 0s
          sustained: 0s
`

// flushing makes what it writes queryable at once. VictoriaMetrics shows
// new series after a second or a few; a run waits for its lease writes to
// show, which is right in production and would make 200 runs take half an
// hour here. Flushing stands in for the waiting.
type flushing struct {
	next  alertengine.Writer
	store *testenv.Receiver
}

func (f flushing) Write(ctx context.Context, series []remotewrite.Series) error {
	if err := f.next.Write(ctx, series); err != nil {
		return err
	}
	return f.store.Flush(ctx)
}

// soakSpikes are the seeded anomalies: [start, end) run indices per instance.
var soakSpikes = map[string][][2]int{"a": {{40, 52}, {140, 152}}, "b": {{90, 102}}}

func spiking(instance string, run int) bool {
	for _, s := range soakSpikes[instance] {
		if run >= s[0] && run < s[1] {
			return true
		}
	}
	return false
}

// TestSoakAlert runs the alert function at 200 successive scheduled times
// with faults at seeded points: Prometheus down or answering 500, SNS
// failing, the process killed between publish and marking sent, Lambda retrying
// an earlier time. Every seeded anomaly must produce exactly one firing and
// one resolved notification, except that a kill between publish and marking sent
// may repeat one, with the same notification id; every failed run must
// return an error.
func TestSoakAlert(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"prometheus", "victoriametrics"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			soakAlert(t, kind)
		})
	}
}

func soakAlert(t *testing.T, kind string) {
	ctx := context.Background()
	var prom *testenv.Receiver
	if kind == "prometheus" {
		prom = testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	} else {
		prom = testenv.StartVictoriaMetrics(t)
	}
	storeProxy := testenv.NewFaultProxy(t, prom.URL)
	snsProxy := testenv.NewFaultProxy(t, moto.URL)
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	topicARN, queueURL := topicWithQueue(t, cfg)
	file, err := rules.Load([]byte(soakRules))
	require.NoError(t, err)

	// The schedule of faults, drawn from a seeded generator; never two in a row.
	rng := rand.New(rand.NewPCG(soakSeed, 7))
	schedule := make([]alertFault, soakRuns)
	kinds := []alertFault{alertFaultStoreDown, alertFaultStore500, alertFaultSNS, alertFaultKilled, alertFaultRetryLater}
	for i := range schedule {
		schedule[i] = alertFaultNone
	}
	for placed := 0; placed < soakRuns/5; {
		at := 1 + rng.IntN(soakRuns-2)
		if schedule[at-1] == alertFaultNone && schedule[at] == alertFaultNone && schedule[at+1] == alertFaultNone {
			schedule[at] = kinds[placed%len(kinds)]
			placed++
		}
	}
	// Make sure faults also land on transitions, where they matter: a kill
	// on the first firing of the first spike (for: 10m, two runs after it
	// starts), SNS failing on the first firing of b and on the resolve of
	// a's second spike (the first run back to normal).
	onTransition := map[int]alertFault{
		soakSpikes["a"][0][0] + 2: alertFaultKilled,
		soakSpikes["b"][0][0] + 2: alertFaultSNS,
		soakSpikes["a"][1][1]:     alertFaultSNS,
	}
	for at, f := range onTransition {
		schedule[at-1], schedule[at], schedule[at+1] = alertFaultNone, f, alertFaultNone
	}
	counts := map[alertFault]int{}
	for _, f := range schedule {
		counts[f]++
	}
	t.Logf("seed %d, %d runs, injected: %v", soakSeed, soakRuns, counts)

	// Two days of history, then one point per run, written straight to
	// Prometheus (ingestion is not the alert function's business).
	start := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(soakRuns+12) * step)
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	value := func(instance string, at time.Time, run int) float64 {
		n := rand.New(rand.NewPCG(uint64(len(instance)), uint64(at.Unix()))).NormFloat64()
		if run >= 0 && spiking(instance, run) {
			return 95 + n
		}
		return 40 + 2*n
	}
	write := func(from, to time.Time, run func(time.Time) int) {
		var series []remotewrite.Series
		for _, inst := range []string{"a", "b", "c"} {
			s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_soak_cpu"}, {Name: "instance", Value: inst}}}
			for ts := from; !ts.After(to); ts = ts.Add(step) {
				s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: value(inst, ts, run(ts))})
			}
			series = append(series, s)
		}
		require.NoError(t, w.Write(ctx, series))
	}
	for from := start.Add(-48 * time.Hour); from.Before(start); from = from.Add(45 * time.Minute) {
		to := from.Add(40 * time.Minute)
		if to.After(start.Add(-step)) {
			to = start.Add(-step)
		}
		write(from, to, func(time.Time) int { return -1 })
	}

	snsCfg := cfg.Copy()
	snsCfg.BaseEndpoint = aws.String(snsProxy.URL)
	pub, err := notify.NewSNS(sns.NewFromConfig(snsCfg), topicARN)
	require.NoError(t, err)
	qc, err := promql.NewClient(storeProxy.URL, http.DefaultTransport)
	require.NoError(t, err)
	rw, err := remotewrite.NewClient(storeProxy.URL+"/api/v1/write", remotewrite.WithMaxAttempts(3), remotewrite.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	require.NoError(t, err)
	wc := flushing{rw, prom}
	h, err := alertengine.New(alertengine.Options{Rules: file, Query: qc, Write: wc, Publish: pub})
	require.NoError(t, err)
	crashed, err := alertengine.New(alertengine.Options{Rules: file, Query: qc, Write: killedAfterPublish{wc}, Publish: pub})
	require.NoError(t, err)
	isPublish := func(r *http.Request) bool {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		return bytes.Contains(body, []byte("Action=Publish"))
	}

	var got []received
	failed, killed := 0, 0
	for k, fault := range schedule {
		at := start.Add(time.Duration(k) * step)
		write(at, at, func(time.Time) int { return k })
		require.NoError(t, prom.Flush(ctx))
		runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var runErr error
		switch fault {
		case alertFaultStoreDown:
			storeProxy.Set(&testenv.Fault{Down: true})
		case alertFaultStore500:
			storeProxy.Set(&testenv.Fault{Status: 500, Body: "injected"})
		case alertFaultSNS:
			snsProxy.Set(&testenv.Fault{Status: 500, Body: "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code><Message>injected</Message></Error></ErrorResponse>", Match: isPublish})
		case alertFaultRetryLater:
			// Lambda retries the previous scheduled time after this one ran:
			// it must do nothing.
			if k > 0 {
				sum, err := h.Tick(runCtx, at.Add(-step))
				require.NoError(t, err)
				require.True(t, sum.Skipped, "late retry of run %d", k-1)
			}
		}
		if fault == alertFaultKilled {
			// The process dies after publishing, before marking it sent: its sent mark
			// write never happens. Lambda retries the same scheduled time.
			_, runErr = crashed.Tick(runCtx, at)
			killed++
		} else {
			_, runErr = h.Tick(runCtx, at)
		}
		storeProxy.Set(nil)
		snsProxy.Set(nil)
		if alertMustFail[fault] || onTransition[k] != "" {
			require.Error(t, runErr, "run %d with %q must fail visibly", k, fault)
		}
		cancel()
		if runErr != nil {
			t.Logf("run %d (%s) failed: %v", k, fault, runErr)
			failed++
			// Lambda's retry of the failed scheduled time, with a deadline
			// of its own.
			retryCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := h.Tick(retryCtx, at)
			cancel()
			require.NoError(t, err, "retry of run %d (%q)", k, fault)
		}
		// Runs are minutes apart; VictoriaMetrics shows new data within a
		// second. Flushing stands in for that time.
		require.NoError(t, prom.Flush(ctx))
		arrived := drain(t, cfg, queueURL)
		for _, r := range arrived {
			t.Logf("run %d (%s): %s", k, fault, r.Subject)
		}
		got = append(got, arrived...)
	}
	_, snsInjected := snsProxy.Counts()
	require.GreaterOrEqual(t, snsInjected, 2, "SNS refused the publishes of the transitions it was set on")
	t.Logf("%d runs, %d failed visibly and were retried (%d killed between publish and marking sent, %d publishes refused by SNS)", soakRuns, failed, killed, snsInjected)

	// Per series: the distinct notifications by id, and the repeats.
	byID := map[string][]received{}
	for _, r := range got {
		byID[r.ID] = append(byID[r.ID], r)
	}
	type episode struct{ firing, resolved int }
	perInstance := map[string]*episode{"a": {}, "b": {}, "c": {}}
	repeats := 0
	for id, rs := range byID {
		repeats += len(rs) - 1
		r := rs[0]
		inst := ""
		for _, i := range []string{"a", "b", "c"} {
			if strings.Contains(r.Body, fmt.Sprintf(`instance="%s"`, i)) {
				inst = i
			}
		}
		require.NotEmpty(t, inst, "notification %s names a series", id)
		switch r.Status {
		case "firing":
			perInstance[inst].firing++
		case "resolved":
			perInstance[inst].resolved++
		}
		for _, again := range rs[1:] {
			require.Equal(t, r.Body, again.Body, "a repeat carries the same notification")
		}
	}
	require.Equal(t, 2, perInstance["a"].firing, "two spikes on a: two firing notifications")
	require.Equal(t, 2, perInstance["a"].resolved)
	require.Equal(t, 1, perInstance["b"].firing)
	require.Equal(t, 1, perInstance["b"].resolved)
	require.Zero(t, perInstance["c"].firing+perInstance["c"].resolved, "the calm series never pages")
	require.LessOrEqual(t, repeats, killed, "only a kill between publish and marking sent may repeat a notification")
	require.Positive(t, repeats, "the kill on the first firing repeats it, with the same id")
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	t.Logf("checked: %d notifications received, %d distinct ids, %d repeats (same id) from kills; a: %+v, b: %+v, c: %+v",
		len(got), len(ids), repeats, *perInstance["a"], *perInstance["b"], *perInstance["c"])
}
