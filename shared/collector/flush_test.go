package collector_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// flushMarker is the series flushStore writes to VictoriaMetrics; no
// test's selector matches it.
const flushMarker = "testenv_flush_marker"

var flushMarkers atomic.Int64

// flushStore makes everything written to r queryable, new series included,
// for queries whose label matchers were asked before.
//
// Receiver.Flush (/internal/force_flush) is not enough on VictoriaMetrics
// (1.79, Debian's): a new series' index entries that its background flusher
// (each second, once the last flush is 1–2 s old) made searchable first do
// not reset the tag-filters cache until a ticker 10 s later, and
// force_flush, finding nothing left to flush, does not reset it either. So
// for up to 10 s a query with matchers asked before the series existed is
// answered from the cache, without it. Whether the background flusher or
// force_flush comes first is the time between the write and the flush: a
// few milliseconds on a quiet machine, seconds on a loaded one, where the
// scenario matrix's S4 found its new instance missing (collector E writes
// it, then lists and fetches the second region before the flush).
//
// A series never written before, flushed at once (force_flush has just
// reset the background flusher's clock), gives force_flush index entries of
// its own, whose flush resets the cache. The markers are asked for with one
// selector, so the newest marker in its answer proves the reset; until it
// is there (the background flusher won again), another is written.
func flushStore(t *testing.T, ctx context.Context, r *testenv.Receiver) {
	t.Helper()
	require.NoError(t, r.Flush(ctx))
	if r.Kind != "victoriametrics" {
		return
	}
	w, q := storeClients(t, r)
	// A day old: a marker stamped now was not found after force_flush
	// (VictoriaMetrics 1.79 updates its set of the current hour's series
	// every 10 s, and force_flush does not).
	at := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		n := fmt.Sprint(flushMarkers.Add(1))
		err := w.Write(ctx, []remotewrite.Series{{
			Labels:  []remotewrite.Label{{Name: "__name__", Value: flushMarker}, {Name: "n", Value: n}},
			Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: 1}},
		}})
		require.NoError(c, err)
		require.NoError(c, r.Flush(ctx))
		got, err := q.Query(ctx, flushMarker, at)
		require.NoError(c, err)
		require.True(c, slices.ContainsFunc(got, func(s promql.Sample) bool { return s.Labels["n"] == n }),
			"marker %s not in the answer: the tag-filters cache was not reset", n)
	}, 15*time.Second, 50*time.Millisecond)
}

// TestFlushStoreShowsNewSeries: a query asked before a new series is
// written, asked again after the background flusher made the series
// searchable and then flushStore, finds it. With Receiver.Flush alone it did
// not (the cached answer lacked the series).
func TestFlushStoreShowsNewSeries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := testenv.StartVictoriaMetrics(t)
	w, q := storeClients(t, r)
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
	flushStore(t, ctx, r)
	require.Equal(t, []string{"old"}, ids())
	write("new")
	// What a loaded machine does between a write and the flush: the
	// background flusher (each second, once the last flush is 1–2 s old)
	// takes the new series first.
	time.Sleep(3 * time.Second)
	flushStore(t, ctx, r)
	require.Equal(t, []string{"new", "old"}, ids())
}
