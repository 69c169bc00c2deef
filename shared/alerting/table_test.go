package alerting

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestReadsShareOneLabelSetPerSeries reads, as one window rule's run
// does, a real Prometheus's answers for the same series again and again —
// the smoothing window's mean, latest point and median, a baseline count —
// and checks that the run holds one label set per series whatever the
// number of reads: the table has one entry a series, and the three
// current values share its label map. (Before the table, every read kept
// a label map and a fingerprint of its own per series: ten reads of
// 100,000 series held a million.)
func TestReadsShareOneLabelSetPerSeries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)

	const n = 40
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	var series []remotewrite.Series
	for i := range n {
		s := remotewrite.Series{Labels: []remotewrite.Label{
			{Name: "__name__", Value: "sw_table"}, {Name: "instance", Value: fmt.Sprintf("i-%02d", i)}, {Name: "zone", Value: string(rune('a' + i%3))},
		}}
		for ts := end.Add(-2 * time.Hour); !ts.After(end); ts = ts.Add(time.Minute) {
			s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: float64(i) + float64(ts.Minute()%7)})
		}
		series = append(series, s)
	}
	require.NoError(t, w.Write(ctx, series))

	e := &evaluator{q: q, at: end, ev: &Evaluation{}}
	b, err := newBuilder("sw_table", time.Minute)
	require.NoError(t, err)
	lookback := 5 * time.Minute
	mean := e.current(ctx, b, 10*time.Minute, anomaly.SmoothingMean, lookback)
	latest := e.current(ctx, b, 10*time.Minute, smoothingLatest, lookback)
	median := e.current(ctx, b, 10*time.Minute, anomaly.SmoothingMedian, lookback)
	counts, _ := e.values(ctx, b, func(b builder) string { return b.rangeExpr(time.Hour, 0, "count_over_time") })
	require.NoError(t, e.err)
	require.Len(t, e.ev.Queries, 4)
	require.Len(t, mean, n)

	same := func(a, b map[string]string) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	for fp, c := range mean {
		labels := e.tab.labelsOf(c.id)
		require.Equal(t, fp, Fingerprint(labels))
		require.Equal(t, map[string]string{"instance": labels["instance"], "zone": labels["zone"]}, labels)
		require.Equal(t, c.id, latest[fp].id, "the latest point's read is another series for %v", labels)
		require.Equal(t, c.id, median[fp].id, "the median's read is another series for %v", labels)
		require.True(t, same(labels, e.tab.labelsOf(median[fp].id)), "one label map a series")
		require.Equal(t, 60.0, counts[fp], "%v", labels)
	}
	require.Equal(t, n, e.tab.len(), "one entry a series, whatever the number of reads")
}

// TestSeriesTableIntern: label sets are one series when SeriesLabels makes
// them one, and two whenever their kept labels differ, whatever bytes the
// values hold.
func TestSeriesTableIntern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b map[string]string
		same bool
	}{
		{name: "the metric name is not the series'", a: map[string]string{"__name__": "x", "k": "v"}, b: map[string]string{"k": "v"}, same: true},
		{name: "nor is an empty label", a: map[string]string{"k": "v", "e": ""}, b: map[string]string{"k": "v"}, same: true},
		{name: "nor the store's own group label", a: map[string]string{"k": "v", GroupLabel: "g"}, b: map[string]string{"k": "v"}, same: true},
		{name: "another value", a: map[string]string{"k": "v"}, b: map[string]string{"k": "w"}, same: false},
		{name: "a value that holds what would separate two labels", a: map[string]string{"a": "1\x00b\x001"}, b: map[string]string{"a": "1", "b": "1"}, same: false},
		{name: "lengths that would shift a label's bounds", a: map[string]string{"a": "\x01b"}, b: map[string]string{"a\x01": "b"}, same: false},
		{name: "another label name", a: map[string]string{"k": "v"}, b: map[string]string{"j": "v"}, same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tab := newSeriesTable()
			a, b := tab.intern(tt.a), tab.intern(tt.b)
			require.Equal(t, tt.same, a == b)
			require.Equal(t, Fingerprint(SeriesLabels(tt.a)), tab.fp(a))
			require.Equal(t, SeriesLabels(tt.b), tab.labelsOf(b))
			require.Equal(t, a, tab.intern(tt.a), "found again")
		})
	}
}

// TestFingerprintUnchanged: the fingerprint the table computes from a
// query's labels is the one stored states were written under (sha256 of
// "len:name;len:value;" per label, sorted by name).
func TestFingerprintUnchanged(t *testing.T) {
	t.Parallel()
	for _, ls := range []map[string]string{
		{},
		{"instance": "i-0abc", "region": "eu-west-1"},
		{"dimension_LoadBalancer": "app/wëb/1;2:3", "k": ""},
	} {
		h := sha256.New()
		for _, k := range slices.Sorted(maps.Keys(ls)) {
			_, _ = fmt.Fprintf(h, "%d:%s;%d:%s;", len(k), k, len(ls[k]), ls[k])
		}
		want := hex.EncodeToString(h.Sum(nil)[:16])
		require.Equal(t, want, Fingerprint(ls))
		tab := newSeriesTable()
		require.Equal(t, Fingerprint(SeriesLabels(ls)), tab.fp(tab.intern(ls)))
	}
}
