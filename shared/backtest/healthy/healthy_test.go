package healthy_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/backtest/healthy"
)

// suiteChecksum pins the generated suite: a change to a pattern, a seed or
// the random source changes it, and with it every figure measured on the
// suite, so it must be a deliberate change (update the constant and the
// figures in RESULTS.md together).
const suiteChecksum = "69a835d6b0a96b2efd8009eb34e44ad9bcb0f5735c3b7462041af7500601f508"

// suite and incidents are generated once for every test of the package.
var (
	suite     = sync.OnceValue(healthy.Suite)
	incidents = sync.OnceValue(healthy.Incidents)
)

func TestSuiteIsDeterministic(t *testing.T) {
	t.Parallel()
	all := append(append([]healthy.Series{}, suite()...), incidents()...)
	require.Equal(t, suiteChecksum, healthy.Checksum(all))
}

func TestSuiteShape(t *testing.T) {
	t.Parallel()
	names := map[string]int{}
	for _, s := range suite() {
		names[s.Name]++
		want := healthy.Days * 24 * int(time.Hour/s.Resolution)
		require.Len(t, s.Points, want, s.Name)
		require.Equal(t, healthy.Start, s.Points[0].Time)
		for i := 1; i < len(s.Points); i++ {
			require.Equal(t, s.Resolution, s.Points[i].Time.Sub(s.Points[i-1].Time))
		}
		require.Empty(t, s.Incidents)
	}
	require.Equal(t, map[string]int{
		"business_hours": 2, "nightly_batch": 2, "daily_sine": 2, "weekly_cycle": 2,
		"hourly_cron": 2, "disk_growth": 2, "error_count": 2, "queue_age": 2,
	}, names)
}

func TestFiveMinutesAggregateOneMinute(t *testing.T) {
	t.Parallel()
	byKey := map[string]healthy.Series{}
	for _, s := range suite() {
		byKey[s.Name+s.Resolution.String()] = s
	}
	for _, tt := range []struct {
		name string
		agg  func([]float64) float64
	}{
		{"daily_sine", func(v []float64) float64 { return sum(v) / 5 }},
		{"error_count", sum},
		{"queue_age", func(v []float64) float64 {
			m := v[0]
			for _, x := range v {
				m = max(m, x)
			}
			return m
		}},
	} {
		minute, five := byKey[tt.name+"1m0s"], byKey[tt.name+"5m0s"]
		for i := range 50 {
			vals := make([]float64, 5)
			for k := range 5 {
				vals[k] = minute.Points[5*i+k].Value
			}
			require.InDelta(t, tt.agg(vals), five.Points[i].Value, 1e-9, tt.name)
		}
	}
}

func TestIncidentsLieInTheJudgedSpan(t *testing.T) {
	t.Parallel()
	for _, s := range incidents() {
		require.NotEmpty(t, s.Incidents, s.Name)
		for _, in := range s.Incidents {
			require.False(t, in.From.Before(healthy.JudgedFrom()), s.Name)
			require.True(t, in.To.After(in.From), s.Name)
		}
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}
