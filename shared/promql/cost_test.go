package promql_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestCostOnRealStores: the samples a query processed, as the store itself
// reports them (Prometheus: stats=all), and, on VictoriaMetrics, which does
// not report them, the points returned, said to be a lower bound. A rule's
// share and the run's total count the same queries.
func TestCostOnRealStores(t *testing.T) {
	t.Parallel()
	end := time.Now().UTC().Truncate(time.Minute)
	var series []remotewrite.Series
	for _, name := range []string{"a", "b"} {
		s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "cost_test"}, {Name: "s", Value: name}}}
		for i := 59; i >= 0; i-- {
			s.Samples = append(s.Samples, remotewrite.Sample{T: end.Add(-time.Duration(i) * time.Minute).UnixMilli(), V: float64(i)})
		}
		series = append(series, s)
	}
	tests := []struct {
		name  string
		start func(testenv.TB) *testenv.Receiver
		// want is what the two queries count: count_over_time over the
		// hour (120 samples read, 2 points returned), then the instant
		// selector (2 read, 2 returned).
		want promql.CostSnapshot
	}{
		{"prometheus reports what it read", func(t testenv.TB) *testenv.Receiver { return testenv.StartPrometheus(t, testenv.PrometheusOptions{}) },
			promql.CostSnapshot{Queries: 2, Samples: 122}},
		{"victoriametrics: the points returned, a lower bound", testenv.StartVictoriaMetrics,
			promql.CostSnapshot{Queries: 2, Samples: 4, Unreported: 2, Returned: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := tt.start(t)
			w, err := remotewrite.NewClient(store.RemoteWriteURL)
			require.NoError(t, err)
			require.NoError(t, w.Write(ctx, series))
			require.NoError(t, store.Flush(ctx))
			c, err := promql.NewClient(store.URL, http.DefaultTransport)
			require.NoError(t, err)

			var run, rule promql.Cost
			runCtx := promql.WithCost(ctx, &run)
			got, err := c.Query(promql.WithCost(runCtx, &rule), `count_over_time(cost_test[1h])`, end)
			require.NoError(t, err)
			require.Len(t, got, 2)
			_, err = c.QuerySeries(runCtx, `cost_test`, end)
			require.NoError(t, err)
			require.Equal(t, tt.want, run.Snapshot())
			require.Equal(t, tt.want.Estimated(), run.Snapshot().Estimated())
			first := tt.want.Samples - 2
			wantRule := promql.CostSnapshot{Queries: 1, Samples: first}
			if tt.want.Unreported > 0 {
				wantRule.Unreported, wantRule.Returned = 1, first
			}
			require.Equal(t, wantRule, rule.Snapshot(), "the rule's share")

			// QueryEach, whose samples are decoded as they are given, is
			// counted as Query is.
			var each promql.Cost
			var given []promql.Sample
			require.NoError(t, c.QueryEach(promql.WithCost(ctx, &each), `count_over_time(cost_test[1h])`, end, func(labels map[string]string, ts time.Time, v float64) {
				given = append(given, promql.Sample{Labels: maps.Clone(labels), T: ts, V: v})
			}))
			require.Equal(t, wantRule, each.Snapshot())
			require.ElementsMatch(t, got, given)

			// Without a Cost, nothing is asked or counted.
			_, err = c.Query(ctx, `cost_test`, end)
			require.NoError(t, err)
			require.Equal(t, tt.want, run.Snapshot())
		})
	}
}

// TestCostReadsTheStatsNotALabel: the statistics are the last "stats" key
// of the answer; a series with a label named stats (a store that reports
// nothing) is not mistaken for them, and the parameter is only sent when a
// Cost asks for it.
func TestCostReadsTheStatsNotALabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       promql.CostSnapshot
	}{
		{"stats after the result", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"stats":"x"},"value":[1,"1"]}],` +
			`"stats":{"timings":{"evalTotalTime":0.1},"samples":{"totalQueryableSamples":4321,"totalQueryableSamplesPerStep":[[1,4321]]}}},"warnings":["\"stats\": no"]}`,
			promql.CostSnapshot{Queries: 1, Samples: 4321}},
		{"a label named stats only", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"stats":"x"},"value":[1,"1"]},{"metric":{"stats":"y"},"value":[1,"2"]}]}}`,
			promql.CostSnapshot{Queries: 1, Samples: 2, Unreported: 1, Returned: 2}},
		{"series fetched, not samples (VictoriaMetrics)", `{"status":"success","isPartial":false,"data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]},"stats":{"seriesFetched":"7","executionTimeMsec":1}}`,
			promql.CostSnapshot{Queries: 1, Samples: 1, Unreported: 1, Returned: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var asked []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.NoError(t, r.ParseForm())
				asked = append(asked, r.Form.Get("stats"))
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			c, err := promql.NewClient(srv.URL, http.DefaultTransport)
			require.NoError(t, err)
			var cost promql.Cost
			_, err = c.Query(promql.WithCost(context.Background(), &cost), "up", time.Unix(1, 0))
			require.NoError(t, err)
			require.Equal(t, tt.want, cost.Snapshot())
			_, err = c.Query(context.Background(), "up", time.Unix(1, 0))
			require.NoError(t, err)
			require.Equal(t, []string{"all", ""}, asked)
		})
	}
}
