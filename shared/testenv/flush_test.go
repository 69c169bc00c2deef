package testenv_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestFlushShowsNewSeries: a query asked before a new series is written,
// asked again after VictoriaMetrics' background flusher made the series
// searchable and then Flush, finds it. With /internal/force_flush alone it
// did not: the cached answer lacked the series (3 of 3 runs).
func TestFlushShowsNewSeries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := testenv.StartVictoriaMetrics(t)
	w, err := remotewrite.NewClient(r.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(r.URL, http.DefaultTransport)
	require.NoError(t, err)
	at := time.Now().Add(-24 * time.Hour).Truncate(time.Minute)
	write := func(id string) {
		t.Helper()
		require.NoError(t, w.Write(ctx, []remotewrite.Series{{
			Labels:  []remotewrite.Label{{Name: "__name__", Value: "flush_probe"}, {Name: "job", Value: "x"}, {Name: "id", Value: id}},
			Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: 1}},
		}}))
	}
	ids := func() []string {
		t.Helper()
		got, err := q.Query(ctx, `flush_probe{job="x"}`, at)
		require.NoError(t, err)
		var out []string
		for _, s := range got {
			out = append(out, s.Labels["id"])
		}
		slices.Sort(out)
		return out
	}
	write("old")
	require.NoError(t, r.Flush(ctx))
	require.Equal(t, []string{"old"}, ids())
	write("new")
	// What a loaded machine does between a write and the flush: the
	// background flusher (each second, once the last flush is 1–2 s old)
	// takes the new series first.
	time.Sleep(3 * time.Second)
	require.NoError(t, r.Flush(ctx))
	require.Equal(t, []string{"new", "old"}, ids())
}
