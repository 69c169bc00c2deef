package cloudwatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAlign(t *testing.T) {
	t.Parallel()
	require.Equal(t, t0, Align(t0.Add(59*time.Second), time.Minute))
	require.Equal(t, t0, Align(t0.Add(4*time.Minute), 5*time.Minute))
	require.Equal(t, t0.Add(5*time.Minute), Align(t0.Add(5*time.Minute), 5*time.Minute))
	require.Equal(t, t0.Add(5*time.Minute), AlignUp(t0.Add(time.Second), 5*time.Minute))
	require.Equal(t, t0, AlignUp(t0, 5*time.Minute))
}

func TestTimingFirst(t *testing.T) {
	t.Parallel()
	m := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name   string
		timing Timing
		at     time.Time
		want   Window
	}{
		{"own window", Timing{Period: time.Minute, Delay: 10 * time.Minute, Length: 5 * time.Minute, MaxCatchUp: 45 * time.Minute}, m(17*time.Minute + 30*time.Second), Window{m(2 * time.Minute), m(7 * time.Minute)}},
		{"hourly", Timing{Period: time.Hour, Delay: 10 * time.Minute, Length: time.Hour, MaxCatchUp: 45 * time.Minute}, m(75 * time.Minute), Window{t0, m(time.Hour)}},
		{"latest only", Timing{Period: time.Minute, Delay: 10 * time.Minute, Length: 5 * time.Minute, MaxCatchUp: 45 * time.Minute, Latest: true}, m(20 * time.Minute), Window{m(9 * time.Minute), m(10 * time.Minute)}},
		{"receiver's age limit", Timing{Period: time.Minute, Delay: 10 * time.Minute, Length: 30 * time.Minute, MaxCatchUp: 45 * time.Minute, MaxAge: 20 * time.Minute}, m(60 * time.Minute), Window{m(40 * time.Minute), m(50 * time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.timing.First(tt.at))
		})
	}
}

// TestTimingNext: the window after stored coverage, for each config change
// of issue 11 item 2 (the stored coverage is data time, so it means the same
// whatever the delay or period was when it was written).
func TestTimingNext(t *testing.T) {
	t.Parallel()
	m := func(d time.Duration) time.Time { return t0.Add(d) }
	base := Timing{Period: time.Minute, Delay: 10 * time.Minute, Length: 5 * time.Minute, MaxCatchUp: 45 * time.Minute}
	with := func(f func(*Timing)) Timing { tt := base; f(&tt); return tt }
	tests := []struct {
		name        string
		timing      Timing
		at, covered time.Time
		want        Window
		skipped     time.Duration
	}{
		{"steady", base, m(20 * time.Minute), m(5 * time.Minute), Window{m(5 * time.Minute), m(10 * time.Minute)}, 0},
		{"retry of the same T", base, m(20 * time.Minute), m(10 * time.Minute), Window{m(10 * time.Minute), m(10 * time.Minute)}, 0},
		{"delay 10m to 5m: the 5 extra minutes are fetched", with(func(t *Timing) { t.Delay = 5 * time.Minute }), m(20 * time.Minute), m(5 * time.Minute), Window{m(5 * time.Minute), m(15 * time.Minute)}, 0},
		{"delay 10m to 15m: nothing until the clock catches up", with(func(t *Timing) { t.Delay = 15 * time.Minute }), m(20 * time.Minute), m(10 * time.Minute), Window{m(5 * time.Minute), m(5 * time.Minute)}, 0},
		{"period 5m to 1h: the half-covered hour is given up", with(func(t *Timing) { t.Period = time.Hour }), m(130 * time.Minute), m(35 * time.Minute), Window{m(time.Hour), m(2 * time.Hour)}, 25 * time.Minute},
		{"period 5m to 1h before the hour ends: nothing yet", with(func(t *Timing) { t.Period = time.Hour }), m(65 * time.Minute), m(35 * time.Minute), Window{t0, t0}, 0},
		{"period 1h to 5m", with(func(t *Timing) { t.Period = 5 * time.Minute }), m(80 * time.Minute), m(time.Hour), Window{m(time.Hour), m(70 * time.Minute)}, 0},
		{"gap within max_catch_up", base, m(60 * time.Minute), m(10 * time.Minute), Window{m(10 * time.Minute), m(50 * time.Minute)}, 0},
		{"gap beyond max_catch_up", base, m(120 * time.Minute), m(40 * time.Minute), Window{m(65 * time.Minute), m(110 * time.Minute)}, 25 * time.Minute},
		{"hourly catch-up keeps one whole period", with(func(t *Timing) { t.Period = time.Hour }), m(310 * time.Minute), m(time.Hour), Window{m(4 * time.Hour), m(5 * time.Hour)}, 3 * time.Hour},
		{"receiver's age limit", with(func(t *Timing) { t.Period = 5 * time.Minute; t.MaxAge = 55 * time.Minute }), m(120 * time.Minute), m(50 * time.Minute), Window{m(65 * time.Minute), m(110 * time.Minute)}, 15 * time.Minute},
		{"latest only after an outage", with(func(t *Timing) { t.Period = time.Hour; t.Latest = true; t.MaxCatchUp = 3 * time.Hour }), m(190 * time.Minute), m(time.Hour), Window{m(2 * time.Hour), m(3 * time.Hour)}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, skipped := tt.timing.Next(tt.at, tt.covered)
			require.Equal(t, tt.want, w)
			require.Equal(t, tt.skipped, skipped)
		})
	}
}

// TestTimingLatestIgnoresMaxAge: a value stamped at T is never too old for
// the receiver, whatever the period's own age.
func TestTimingLatestIgnoresMaxAge(t *testing.T) {
	t.Parallel()
	hourly := Timing{Period: time.Hour, Delay: 10 * time.Minute, Length: time.Hour, MaxCatchUp: 45 * time.Minute, MaxAge: 55 * time.Minute, Latest: true}
	at := t0.Add(15 * time.Minute)
	require.Equal(t, Window{Start: t0.Add(-time.Hour), End: t0}, hourly.First(at))
	w, skipped := hourly.Next(at, t0.Add(-time.Hour))
	require.Equal(t, Window{Start: t0.Add(-time.Hour), End: t0}, w)
	require.Zero(t, skipped)
}
