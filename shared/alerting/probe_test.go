package alerting_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// TestProbeFindsNewestAtEveryAge: whatever the age of a series' newest
// point within lookback_delta (inside the store's own five-minute lookback
// and beyond it, on a five-minute edge or between two) and whatever the
// run's phase, an evaluation finds it as its DataAt; a point older than
// lookback_delta is no data. Each series is a rule of its own, so DataAt
// is its newest time. The probe is the largest part of a warm window or
// seasonal run over 10,000 series (BENCHMARKS.md): this is what a cheaper
// one must keep.
func TestProbeFindsNewestAtEveryAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, q := clients(t)
	base := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	ages := []time.Duration{0, 30 * time.Second, 4*time.Minute + 59*time.Second, 5 * time.Minute, 5*time.Minute + time.Second,
		7 * time.Minute, 10 * time.Minute, 12*time.Minute + 30*time.Second, 24*time.Minute + 59*time.Second, 29 * time.Minute, 31 * time.Minute}
	var data []stored
	for i, age := range ages {
		newest := base.Add(-age)
		// Minutely points for an hour, the newest at its age.
		var pts []backtest.Point
		for ts := newest.Add(-time.Hour); !ts.After(newest); ts = ts.Add(time.Minute) {
			pts = append(pts, backtest.Point{Time: ts, Value: float64(i)})
		}
		data = append(data, stored{lbl("__name__", "probe_age", "age", fmt.Sprint(i)), pts})
	}
	store(t, w, data)
	a := baseAnomaly()
	for _, phase := range []time.Duration{0, 20 * time.Second, 2*time.Minute + 37*time.Second, 4*time.Minute + 59*time.Second} {
		at := base.Add(phase)
		for i, age := range ages {
			rule := rules.Rule{Alert: "P", Expr: fmt.Sprintf(`probe_age{age="%d"}`, i), Anomaly: &a}
			ev, err := alerting.Evaluate(ctx, q, rule, at, time.Minute)
			require.NoError(t, err)
			newest := base.Add(-age)
			if at.Sub(newest) >= time.Duration(rules.DefaultLookbackDelta) {
				require.True(t, ev.DataAt.IsZero(), "phase %s, newest %s old: beyond lookback_delta, got %s", phase, at.Sub(newest), ev.DataAt)
				continue
			}
			require.True(t, ev.DataAt.Equal(newest), "phase %s, newest %s old: DataAt %s, want %s", phase, at.Sub(newest), ev.DataAt, newest)
		}
	}
}
