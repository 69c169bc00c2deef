package backtest_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestRunCLIAgainstPrometheus runs the Prometheus mode against a real
// Prometheus holding the spike series (written through the project's own
// remote-write sender) and a quiet one: the same firing tick as the CSV
// mode, through real range queries.
func TestRunCLIAgainstPrometheus(t *testing.T) {
	t.Parallel()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Recent data: a stock Prometheus refuses samples far behind its head.
	// The anchor comes from the clock only here; the code under test is
	// given explicit times.
	anchor := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	shift := anchor.Sub(t0)
	toSeries := func(host string, pts []backtest.Point) remotewrite.Series {
		s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "synthetic_value"}, {Name: "host", Value: host}}}
		for _, p := range pts {
			s.Samples = append(s.Samples, remotewrite.Sample{T: p.Time.Add(shift).UnixMilli(), V: p.Value})
		}
		return s
	}
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	require.NoError(t, w.Write(ctx, []remotewrite.Series{toSeries("a", spikeSeries()), toSeries("b", series(240, 2, nil))}))

	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	out := t.TempDir()
	var stdout bytes.Buffer
	require.NoError(t, backtest.RunCLI(ctx, backtest.CLIOptions{
		Config: writeRules(t, "0s"), Rule: "Spike",
		From: anchor.Add(100 * step), To: anchor.Add(200 * step), Out: out, Querier: q,
	}, &stdout))

	spiky := alerting.Fingerprint(map[string]string{"host": "a"})
	got := scores(t, filepath.Join(out, "Spike", spiky+".csv"))
	require.Len(t, got, 101)
	require.Equal(t, []int{50}, ones(got), "the spike at point 150 is tick 50")
	quiet := alerting.Fingerprint(map[string]string{"host": "b"})
	require.Empty(t, ones(scores(t, filepath.Join(out, "Spike", quiet+".csv"))))
	require.FileExists(t, filepath.Join(out, "Spike", spiky+".csv.png"))
	require.Contains(t, stdout.String(), `Spike {host="a"}: 101 ticks (0 insufficient data, 0 missing), 0 pending, 1 firing`)
	require.Contains(t, stdout.String(), "total: 1 rules, 2 series (1 fired)")
}
