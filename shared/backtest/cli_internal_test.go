package backtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promql"
)

type gridQuerier struct{ calls [][2]time.Time }

// QueryRange returns one series with a point at every step of the query.
func (g *gridQuerier) QueryRange(_ context.Context, _ string, start, end time.Time, step time.Duration) ([]promql.Series, error) {
	g.calls = append(g.calls, [2]time.Time{start, end})
	var pts []promql.Point
	for t := start; !t.After(end); t = t.Add(step) {
		pts = append(pts, promql.Point{T: t, V: 1})
	}
	return []promql.Series{{Labels: map[string]string{"a": "b"}, Points: pts}}, nil
}

func TestQueryChunked(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		steps     int
		wantCalls int
	}{
		{name: "one point", steps: 1, wantCalls: 1},
		{name: "exactly the limit", steps: maxQueryPoints, wantCalls: 1},
		{name: "one over", steps: maxQueryPoints + 1, wantCalls: 2},
		{name: "two and a half", steps: 25_000, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := &gridQuerier{}
			end := start.Add(time.Duration(tt.steps-1) * time.Minute)
			got, err := queryChunked(context.Background(), g, "x", start, end, time.Minute)
			require.NoError(t, err)
			require.Len(t, g.calls, tt.wantCalls)
			for i, c := range g.calls {
				require.LessOrEqual(t, int(c[1].Sub(c[0])/time.Minute)+1, maxQueryPoints, "call %d", i)
				if i > 0 {
					require.Equal(t, g.calls[i-1][1].Add(time.Minute), c[0], "contiguous, no overlap")
				}
			}
			require.Len(t, got, 1)
			for _, f := range got {
				require.Len(t, f.points, tt.steps)
			}
		})
	}
}
