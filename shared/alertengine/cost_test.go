package alertengine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/alertplan"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestRunCostIsVisible (issue 14, cost made visible): a run's summary gives
// the samples its queries read — the store's own figure on Prometheus, the
// points returned (flagged as estimated) on VictoriaMetrics, which does not
// report it — and the run persists it, under its deployment, as a health
// series. A window rule over an hour of one-minute points reads that hour
// three times (mean, σ, count): the figure must show at least that.
func TestRunCostIsVisible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		start         func(testenv.TB) *testenv.Receiver
		wantEstimated bool
	}{
		{"prometheus", func(t testenv.TB) *testenv.Receiver { return testenv.StartPrometheus(t, testenv.PrometheusOptions{}) }, false},
		{"victoriametrics", testenv.StartVictoriaMetrics, true},
	}
	for _, tt := range tests {
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
  - name: cost
    rules:
      - alert: CostWindow
        expr: sw_cost
        anomaly: {method: window, baseline: 1h, min_history: 30m, threshold: 4}
`)
			s := newStack(t, alertengine.Options{Rules: file, Deployment: "cost-" + tt.name}, store.URL, store.RemoteWriteURL)
			at := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
			series := []map[string]string{{"i": "1"}, {"i": "2"}}
			writePoints(t, w, "sw_cost", series, at.Add(-2*time.Hour), at, time.Minute, func(_ map[string]string, ts time.Time) (float64, bool) {
				return float64(ts.Unix()%7) + 10, true
			})
			require.NoError(t, store.Flush(ctx))

			sum, err := s.eng.Tick(ctx, at)
			require.NoError(t, err)
			require.Equal(t, 2, sum.Series)
			require.Equal(t, tt.wantEstimated, sum.QuerySamplesEstimated)
			require.Positive(t, sum.Queries)
			if !tt.wantEstimated {
				require.GreaterOrEqual(t, sum.QuerySamples, int64(3*2*59), "the baseline's hour, three aggregates, two series")
			} else {
				require.Positive(t, sum.QuerySamples)
			}

			require.NoError(t, store.Flush(ctx))
			q, err := promql.NewClient(store.URL, http.DefaultTransport)
			require.NoError(t, err)
			// VictoriaMetrics shows a new series within a second or two of
			// its write, even flushed.
			var got []promql.Sample
			require.Eventually(t, func() bool {
				got, err = q.Query(ctx, `last_over_time(`+alertengine.QuerySamplesMetric+`{sigmawatch_deployment="cost-`+tt.name+`"}[5m])`, at)
				return err == nil && len(got) == 1
			}, 10*time.Second, 200*time.Millisecond, "the health series, under the deployment")
			// Nothing was notified, so nothing was read after the state
			// was persisted: the health series is the run's figure.
			require.Zero(t, sum.Planned)
			require.InDelta(t, float64(sum.QuerySamples), got[0].V, 0)
		})
	}
}

// TestAutoIncrementalCost (issue 14's must-show, side by side in one run):
// an auto rule over five weeks of one-minute data reads, at its cold
// start, the full replay alert -plan models (the naive figure); warm, from
// the detector states it persisted, at least 20 times fewer samples per
// run, the hour's preparation included. Measured on Prometheus, each run's
// rule share as its debug line gives it.
//
// The warm runs are also what alert -plan models (alertplan.Model.Warm and
// StateWrites): the mean of one hour of warm runs, each position in the
// hour once, within 10% of the model's mean, and the detector states
// written over that hour within 5% of its figure. A warm run's read
// depends on where in the hour it falls (the points since the hour's
// checkpoint grow through the hour, the first 20 minutes read two
// checkpoints, and one run reads the hour summaries), so the model is a
// mean over an hour and is compared with one; and it sizes the hour
// summaries as written hour by hour (8 samples an hour, four weeks and two
// hours of them), where here they are the cold start's one burst of five
// weeks (7 an hour), about 3% more of the run's read.
func TestAutoIncrementalCost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	const n = 5
	var series []map[string]string
	for i := range n {
		series = append(series, map[string]string{"i": fmt.Sprint(i)})
	}
	at := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	value := func(ts time.Time) float64 { return 10 + float64((ts.Unix()/60)%13) }
	writePoints(t, w, "sw_inc", series, at.Add(-36*24*time.Hour), at, time.Minute, func(_ map[string]string, ts time.Time) (float64, bool) {
		return value(ts), true
	})
	var logs bytes.Buffer
	file := mustLoad(t, `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: g
    rules:
      - alert: Inc
        expr: sw_inc
        anomaly: {method: auto}
`)
	s := newStack(t, alertengine.Options{Rules: file, Deployment: "inc", Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		prom.URL, prom.RemoteWriteURL)
	var queries int // of the last run
	ruleSamples := func() float64 {
		for _, line := range strings.Split(logs.String(), "\n") {
			var l struct {
				Msg          string  `json:"msg"`
				Queries      int     `json:"queries"`
				QuerySamples float64 `json:"query_samples"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "rule evaluated" {
				queries = l.Queries
				return l.QuerySamples
			}
		}
		t.Fatalf("no rule evaluated line in\n%s", logs.String())
		return 0
	}
	model := alertplan.Model{Rule: file.Rules()[0], Interval: time.Minute, Shape: alertplan.Shape{Series: n, Resolution: time.Minute}}
	naive := model.Naive().Samples
	var cold, warm, most, hour float64
	// Past the next hour's preparation; runs 21 to 80 are an hour of
	// warm runs, each position in the hour once, with the checkpoints of
	// the hour before theirs stored (the cold start's).
	const runs = 80
	for i := 0; i <= runs; i++ {
		now := at.Add(time.Duration(i) * time.Minute)
		if i > 0 {
			writePoints(t, w, "sw_inc", series, now, now, time.Minute, func(_ map[string]string, ts time.Time) (float64, bool) { return value(ts), true })
		}
		logs.Reset()
		_, err := s.eng.Tick(ctx, now)
		require.NoError(t, err)
		got := ruleSamples()
		if i == 0 {
			cold = got
			continue
		}
		warm += got
		most = max(most, got)
		if i > runs-60 {
			hour += got
			if i != 60 {
				// The hour's preparation adds its reads of the hour
				// summaries; every other warm run makes the model's.
				require.Equal(t, model.Warm().Queries, queries, "queries of the warm run %d", i)
			}
		}
	}
	mean := warm / runs
	hour /= 60
	t.Logf("auto rule, %d one-minute series: cold start %.0f samples (model of the full replay %.0f); warm runs: mean %.0f, largest %.0f (the hour's preparation): %.0f× fewer on average",
		n, cold, naive, mean, most, cold/mean)
	// Quiet runs measure 252,300 against the model's 252,150; one run on a
	// heavily loaded machine (59 s instead of 12) measured 247,921, 1.7%
	// under. The cause is not yet confirmed (suspected: the store compacting
	// its out-of-order head, where this history was written, during the
	// test), so the bound is 3% until it is.
	require.InEpsilon(t, naive, cold, 0.03, "the cold start reads what the plan's naive figure says")
	require.LessOrEqual(t, mean*20, cold, "warm runs read at least 20× fewer samples than the full replay")

	// What the plan models of warm runs, and of the states they write.
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	end := at.Add(runs * time.Minute)
	written, err := q.Query(ctx, `sum(count_over_time(`+alerting.DetectorStateMetric+`{alertname="Inc"}[1h])) + sum(count_over_time(`+alerting.DetectorHoursMetric+`{alertname="Inc"}[1h]))`, end)
	require.NoError(t, err)
	require.Len(t, written, 1)
	t.Logf("an hour of warm runs: %.0f samples a run measured, %.0f modelled; %.0f state samples written, %.0f modelled",
		hour, model.Warm().Samples, written[0].V, model.StateWrites())
	require.InEpsilon(t, model.Warm().Samples, hour, 0.10, "a warm run's samples, on average over an hour, within 10%% of the plan's model")
	require.InEpsilon(t, model.StateWrites(), written[0].V, 0.05, "the state samples written in an hour within 5%% of the plan's model")
}
