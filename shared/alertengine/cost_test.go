package alertengine_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
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
