package alertengine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// kept records what was published.
type kept struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (k *kept) Publish(_ context.Context, m notify.Message) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sent = append(k.sent, m)
	return nil
}

// drain returns what was published since the last call, one line each:
// the rule, the status (a repeat said so), and each series' label s, state
// and what the message says of it.
func (k *kept) drain() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, m := range k.sent {
		var series []string
		for _, a := range m.Alerts {
			state := "firing"
			if a.Resolved {
				state = "resolved"
			}
			// What the message says of the series: its value, and for a
			// scored one the baseline and z (the same in both deployments).
			detail := fmt.Sprintf("%.6g", a.Value)
			if a.Scored {
				detail += fmt.Sprintf(" z=%.6g %.6g±%.6g", a.Z, a.Center, a.Spread)
			}
			series = append(series, a.Labels["s"]+"="+state+"("+detail+")")
		}
		slices.Sort(series)
		kind := string(m.Status)
		if m.Repeat {
			kind = "repeat"
		}
		out = append(out, fmt.Sprintf("%s %s %s", m.Rule, kind, strings.Join(series, ",")))
	}
	k.sent = nil
	slices.Sort(out)
	return out
}

// ruleLine is a run's "rule evaluated" debug line.
type ruleLine struct {
	Msg          string `json:"msg"`
	Alertname    string `json:"alertname"`
	Skipped      bool   `json:"skipped"`
	QuerySamples int64  `json:"query_samples"`
}

func ruleLines(t *testing.T, logs *bytes.Buffer) map[string]ruleLine {
	t.Helper()
	out := map[string]ruleLine{}
	for _, line := range strings.Split(logs.String(), "\n") {
		var l ruleLine
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "rule evaluated" {
			out[l.Alertname] = l
		}
	}
	logs.Reset()
	return out
}

// TestEvaluateAtDataCadence (issue 14, evaluate at the data's cadence):
// 5-minute data, a run every minute, at every collect phase. Two deployments share one
// Prometheus: one evaluates every rule at every run, the other skips the
// anomaly rules whose data did not change since the previous run. At
// every collect phase, for a window rule with for, keep_firing_for,
// repeat_interval and a missing-data timeout, a window rule resolving on
// missing data after keep_firing_for, and the shipped auto rule, both
// deployments must send the same notifications at the same runs, saying
// the same of each series (value, baseline, z): a burst
// that pages and resolves, and a series that bursts and then stops
// reporting. Timings that are not multiples of 5 minutes put the page, the
// repeats and the resolutions on runs without new data. The skipped
// evaluations must read at least 4× fewer query samples than the same
// evaluations run in full.
func TestEvaluateAtDataCadence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	phases := []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4*time.Minute + 30*time.Second}
	var yaml strings.Builder
	yaml.WriteString(`
settings:
  interval: 1m
  evaluation_delay: 0s
  repeat_interval: 13m
  lookback_delta: 12m
groups:
  - name: cadence
    rules:
`)
	for i, ph := range phases {
		fmt.Fprintf(&yaml, `
      - alert: Window%[1]d
        expr: sw_cad{phase=%[2]q}
        for: 7m
        keep_firing_for: 12m
        missing_data_timeout: 23m
        anomaly: {method: window, baseline: 1d, min_history: 6h, threshold: 4}
      - alert: Resolve%[1]d
        expr: sw_cad{phase=%[2]q}
        missing_data: resolve
        keep_firing_for: 6m
        anomaly: {method: window, baseline: 1d, min_history: 6h, threshold: 4}
      - alert: Auto%[1]d
        expr: sw_cad{phase=%[2]q}
        anomaly: {method: auto}
`, i, ph.String())
	}
	file := mustLoad(t, yaml.String())

	const level, noise = 50.0, 2.5
	burst := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	start := burst.Add(-7*24*time.Hour - 2*time.Hour)
	end := burst.Add(100 * time.Minute)
	kinds := map[string]time.Duration{"burst": 30 * time.Minute, "gone": 20 * time.Minute} // how long the burst lasts
	value := func(s string, ph time.Duration, ts time.Time) (float64, bool) {
		if s == "gone" && !ts.Before(burst.Add(kinds[s])) {
			return 0, false // the series stopped reporting
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(s + ph.String()))
		v := level + noise*rand.New(rand.NewPCG(h.Sum64(), uint64(ts.Unix()))).NormFloat64()
		if !ts.Before(burst) && ts.Before(burst.Add(kinds[s])) {
			v += 40 * noise
		}
		return v, true
	}
	// write stores every point up to now, each phase on its own 5-minute
	// grid (a metric's series are collected by one schedule).
	written := start
	write := func(now time.Time) {
		var batch []remotewrite.Series
		for _, ph := range phases {
			for s := range kinds {
				rs := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_cad"}, {Name: "phase", Value: ph.String()}, {Name: "s", Value: s}}}
				for ts := written.Truncate(5 * time.Minute).Add(ph); !ts.After(now); ts = ts.Add(5 * time.Minute) {
					if !ts.After(written) {
						continue
					}
					if v, ok := value(s, ph, ts); ok {
						rs.Samples = append(rs.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: v})
					}
				}
				if len(rs.Samples) > 0 {
					batch = append(batch, rs)
				}
			}
		}
		for _, part := range remotewrite.Batches(batch, 100_000, 0) {
			require.NoError(t, w.Write(ctx, part))
		}
		written = now
	}
	for now := start.Add(12 * time.Hour); now.Before(burst.Add(-10 * time.Minute)); now = now.Add(12 * time.Hour) {
		write(now)
	}

	var everyLogs, cadenceLogs bytes.Buffer
	logger := func(b *bytes.Buffer) *slog.Logger {
		return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	everyPub, cadencePub := &kept{}, &kept{}
	every := newStack(t, alertengine.Options{Rules: file, Deployment: "every", EvaluateEveryTick: true, Publish: everyPub, Logger: logger(&everyLogs)},
		prom.URL, prom.RemoteWriteURL)
	cadence := newStack(t, alertengine.Options{Rules: file, Deployment: "cadence", Publish: cadencePub, Logger: logger(&cadenceLogs)},
		prom.URL, prom.RemoteWriteURL)

	var everySent, cadenceSent []string
	skips := map[string]int{}
	var skippedFull, skippedRead int64 // the skipped evaluations' samples, in full and as skipped
	var everyTotal, cadenceTotal int64 // all the rules' samples over all runs
	runs := 0
	for at := burst.Add(-10 * time.Minute); !at.After(end); at = at.Add(time.Minute) {
		write(at)
		runs++
		se, err := every.eng.Tick(ctx, at)
		require.NoError(t, err)
		require.Zero(t, se.RulesSkipped)
		sc, err := cadence.eng.Tick(ctx, at)
		require.NoError(t, err)
		require.Len(t, sc.SkippedRules, sc.RulesSkipped)
		offset := at.Sub(burst)
		for _, m := range everyPub.drain() {
			everySent = append(everySent, fmt.Sprintf("+%s %s", offset, m))
		}
		for _, m := range cadencePub.drain() {
			cadenceSent = append(cadenceSent, fmt.Sprintf("+%s %s", offset, m))
		}
		el, cl := ruleLines(t, &everyLogs), ruleLines(t, &cadenceLogs)
		require.Len(t, cl, len(el))
		for name, e := range el {
			everyTotal += e.QuerySamples
			cadenceTotal += cl[name].QuerySamples
		}
		for name, c := range cl {
			if c.Skipped {
				skips[name]++
				skippedFull += el[name].QuerySamples
				skippedRead += c.QuerySamples
			}
		}
	}
	t.Logf("notifications (either deployment):\n%s", strings.Join(everySent, "\n"))
	t.Logf("%d runs; skipped runs per rule: %v; the skipped evaluations read %d samples, %d in full (%.1f× fewer)",
		runs, skips, skippedRead, skippedFull, float64(skippedFull)/float64(max(skippedRead, 1)))
	t.Logf("all the runs' rule evaluations: %d samples evaluated every run, %d at the data's cadence (%.1f× fewer)",
		everyTotal, cadenceTotal, float64(everyTotal)/float64(max(cadenceTotal, 1)))
	require.Equal(t, everySent, cadenceSent, "the same notifications at the same runs")

	// What the runs had to show, at every phase.
	for i := range phases {
		for _, want := range [][2]string{
			// A message lists the rule's firing and resolved series.
			{fmt.Sprintf("Window%d firing", i), "burst=firing"}, {fmt.Sprintf("Window%d repeat", i), "burst=firing"},
			{fmt.Sprintf("Window%d", i), "burst=resolved"}, {fmt.Sprintf("Window%d", i), "gone=resolved"},
			{fmt.Sprintf("Resolve%d", i), "burst=resolved"}, {fmt.Sprintf("Resolve%d", i), "gone=resolved"},
			{fmt.Sprintf("Auto%d firing", i), "burst=firing"}, {fmt.Sprintf("Auto%d", i), "gone=resolved"},
		} {
			require.True(t, slices.ContainsFunc(everySent, func(s string) bool {
				return strings.Contains(s, want[0]+" ") && strings.Contains(s, want[1])
			}), "%v sent", want)
		}
		for _, r := range []string{"Window", "Resolve", "Auto"} {
			// Four runs of five have no new point; the ones where a
			// series enters or leaves the lookback, the auto rule's
			// hour preparation and the first run are evaluated.
			require.GreaterOrEqual(t, skips[fmt.Sprintf("%s%d", r, i)], runs*3/5, "%s%d skipped", r, i)
		}
	}
	require.GreaterOrEqual(t, skippedFull, 4*skippedRead, "skipped evaluations read at least 4× fewer samples")

	// The health series counts the skipped rules, under the deployment.
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	require.NoError(t, prom.Flush(ctx))
	got, err := q.Query(ctx, `sum(sum_over_time(`+alertengine.RulesSkippedMetric+`{sigmawatch_deployment="cadence"}[3h]))`, end)
	require.NoError(t, err)
	require.Len(t, got, 1)
	total := 0
	for _, n := range skips {
		total += n
	}
	require.InDelta(t, float64(total), got[0].V, 0)

	// The auto rules' detector states: a skipped run writes none, and an
	// evaluation without a new point would have written none either.
	for _, metric := range []string{alerting.DetectorStateMetric, alerting.DetectorHoursMetric} {
		count := func(deployment string) float64 {
			got, err := q.Query(ctx, fmt.Sprintf(`sum(count_over_time(%s{sigmawatch_deployment=%q}[3h]))`, metric, deployment), end)
			require.NoError(t, err)
			require.Len(t, got, 1)
			return got[0].V
		}
		every, cadence := count("every"), count("cadence")
		t.Logf("%s: %.0f samples written evaluating every run, %.0f at the data's cadence", metric, every, cadence)
		require.InDelta(t, every, cadence, 0, metric)
	}
}

// TestCadenceOnRealStores: the data mark is persisted and read back, and
// a run whose rule has no new point skips it, on Prometheus and on
// VictoriaMetrics (whose range and instant semantics differ); a new point
// makes the next run evaluate again.
func TestCadenceOnRealStores(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		start func(testenv.TB) *testenv.Receiver
	}{
		{"prometheus", func(t testenv.TB) *testenv.Receiver { return testenv.StartPrometheus(t, testenv.PrometheusOptions{}) }},
		{"victoriametrics", testenv.StartVictoriaMetrics},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := tt.start(t)
			w, err := remotewrite.NewClient(store.RemoteWriteURL)
			require.NoError(t, err)
			file := mustLoad(t, `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: cadence
    rules:
      - alert: Cadence
        expr: sw_cadence_store
        anomaly: {method: window, baseline: 2h, min_history: 30m}
`)
			q, err := promql.NewClient(store.URL, http.DefaultTransport)
			require.NoError(t, err)
			pub := &kept{}
			// One run at a time: the lease is not what this test is about,
			// and on VictoriaMetrics each run waits about 20 s for it (the
			// wait below stands in for the minute between runs).
			s := newStack(t, alertengine.Options{Rules: file, Deployment: "cadence-" + tt.name, Publish: pub, NoLease: true}, store.URL, store.RemoteWriteURL)
			at := time.Now().UTC().Truncate(5 * time.Minute).Add(-30 * time.Minute)
			series := []map[string]string{{"i": "1"}, {"i": "2"}}
			value := func(_ map[string]string, ts time.Time) (float64, bool) { return float64(ts.Unix()/300%5) + 10, true }
			writePoints(t, w, "sw_cadence_store", series, at.Add(-3*time.Hour), at, 5*time.Minute, value)
			require.NoError(t, store.Flush(ctx))
			var skipped []int
			for i := range 7 {
				now := at.Add(time.Duration(i) * time.Minute)
				if i == 5 {
					writePoints(t, w, "sw_cadence_store", series, now, now, 5*time.Minute, value)
					require.NoError(t, store.Flush(ctx))
				}
				sum, err := s.eng.Tick(ctx, now)
				require.NoError(t, err)
				skipped = append(skipped, sum.RulesSkipped)
				// Runs are a minute apart in production: wait until the
				// store shows this one's mark (VictoriaMetrics shows a
				// write after a second or two).
				require.Eventually(t, func() bool {
					got, err := q.Query(ctx, fmt.Sprintf(`last_over_time(%s{sigmawatch_deployment="cadence-%s",sigmawatch_field="run"}[5m])`, alerting.RuleDataMetric, tt.name), now.Add(time.Minute))
					return err == nil && len(got) == 1 && got[0].V == float64(now.Unix())
				}, 10*time.Second, 100*time.Millisecond, "the run's data mark shows")
				if sum.RulesSkipped == 1 {
					require.Equal(t, []string{"cadence/Cadence"}, sum.SkippedRules)
				}
			}
			require.Equal(t, []int{0, 1, 1, 1, 1, 0, 1}, skipped, "evaluated at the first run and at the new point")
		})
	}
}
