package alerting_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// TestRecentReadsOnlyListedSeries: the sparkline query of a message selects
// the series it lists, by their labels, and samples them at the requested
// width, whatever the data's resolution — here 1-minute data of 50 series,
// of which a message lists two.
func TestRecentReadsOnlyListedSeries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, q := clients(t)
	at := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	var series []remotewrite.Series
	for i := range 50 {
		s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_recent"}, {Name: "instance", Value: fmt.Sprintf("i-%02d", i)},
			{Name: "zone", Value: `a"b\c`}}}
		for ts := at.Add(-3 * time.Hour); !ts.After(at); ts = ts.Add(time.Minute) {
			s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: float64(i*1000) + float64(ts.Sub(at)/time.Minute)})
		}
		series = append(series, s)
	}
	require.NoError(t, w.Write(ctx, series))

	listed := []map[string]string{lbl("instance", "i-07", "zone", `a"b\c`), lbl("instance", "i-42", "zone", `a"b\c`)}
	for _, expr := range []string{"sw_recent", `sum by (instance, zone) (sw_recent) > 0`} {
		got, err := alerting.Recent(ctx, q, expr, at, 3*time.Hour, 36, listed)
		require.NoError(t, err, expr)
		require.Len(t, got, 2, "%s: only the listed series are read", expr)
		for _, ls := range listed {
			pts := got[alerting.Fingerprint(ls)]
			require.Len(t, pts, 36, "%s: 36 points, one every 5 minutes", expr)
			require.InDelta(t, 0, pts[35]-pts[34]-5, 1e-9, "%s: 5 minutes apart", expr)
		}
	}
	none, err := alerting.Recent(ctx, q, "sw_recent", at, 3*time.Hour, 36, nil)
	require.NoError(t, err)
	require.Empty(t, none, "no listed series, no query")
}
