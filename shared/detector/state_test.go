package detector_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// persisted is what the deployed function keeps of one series between
// ticks: the checkpoint (an encoded compact state, taken after the first
// point of its hour, and the decision at that point) and the hour
// summaries, appended as hours close.
type persisted struct {
	state, decision []float64
	hours           []float64
}

// tick advances p by the points after its checkpoint up to pts[end-1],
// the way alerting's incremental evaluation does, and returns the
// decisions of the points it replayed (by index) and whether it had to
// read the summaries.
func tick(t *testing.T, d *detector.Detector, p *persisted, pts []detector.Point, end int) (map[int]detector.Decision, bool) {
	t.Helper()
	out := map[int]detector.Decision{}
	var s detector.State
	start := 0
	restored := false
	if p.state != nil {
		var err error
		s, err = d.DecodeState(p.state)
		require.NoError(t, err)
		for start < end && !pts[start].Time.After(s.Last) {
			start++
		}
		if start < end && !d.Covers(&s, pts[end-1].Time) {
			hours, err := detector.DecodeHours(p.hours)
			require.NoError(t, err)
			d.Restore(&s, hours)
			restored = true
		}
	}
	var snap *detector.State
	var snapDec detector.Decision
	for i := start; i < end; i++ {
		before := s.Open.Start
		dec := d.Observe(&s, pts[i])
		out[i] = dec
		if !s.Open.Start.Equal(before) {
			c := s.Clone()
			snap, snapDec = &c, dec
		}
	}
	require.False(t, s.Stale())
	if snap != nil {
		// A new hour: its summaries so far go to the store, and the state
		// after the hour's first point is the new checkpoint.
		for _, h := range snap.Hours {
			p.hours = detector.AppendHour(p.hours, h)
		}
		snap.Hours = snap.Hours[:len(snap.Hours):len(snap.Hours)]
		if !snap.IsCompact() {
			require.NoError(t, d.Compact(snap))
		} else {
			snap.Hours = nil
		}
		enc, err := d.AppendState(nil, snap)
		require.NoError(t, err)
		p.state, p.decision = enc, detector.AppendDecision(nil, snapDec)
		return out, restored
	}
	// No new hour: prepare the next one if the checkpoint is not (the job
	// a later tick does once per hour per series).
	cp, err := d.DecodeState(p.state)
	require.NoError(t, err)
	if !d.Prepared(&cp) {
		hours, err := detector.DecodeHours(p.hours)
		require.NoError(t, err)
		d.Restore(&cp, hours)
		require.NoError(t, d.Compact(&cp))
		p.state, err = d.AppendState(nil, &cp)
		require.NoError(t, err)
		restored = true
	}
	return out, restored
}

// The deployed function keeps a compact state between ticks and reads the
// hour summaries only to prepare an hour (or after a gap): at every point,
// for ticks of one point, of a collect window of five, of an hour and a
// half (missed ticks), on 5-minute data with a daily cycle, bursts and a
// gap of three hours, and on 1-minute data with a level shift, its
// decisions are a full replay's to the bit. A retry of a tick writes the
// same records.
func TestCompactStateDecidesAsAFullOne(t *testing.T) {
	t.Parallel()
	five := sine(16, 5*time.Minute, 21)
	addBurst(five, t0.Add(9*24*time.Hour+2*time.Hour), 30*time.Minute, 200)
	addBurst(five, t0.Add(15*24*time.Hour+14*time.Hour), 40*time.Minute, -150)
	gapFrom := t0.Add(12*24*time.Hour + 7*time.Hour)
	five = slices.DeleteFunc(five, func(p detector.Point) bool {
		return !p.Time.Before(gapFrom) && p.Time.Before(gapFrom.Add(3*time.Hour))
	})
	one := noise(6*1440, time.Minute, 9, func(i int, at time.Time, z float64) float64 {
		v := 40 + 2*z
		if at.After(t0.Add(5*24*time.Hour + 3*time.Hour)) {
			v += 9
		}
		if i%997 == 0 {
			v = math.NaN()
		}
		return v
	})
	for _, tc := range []struct {
		name  string
		pts   []detector.Point
		sizes []int
	}{
		{"5-minute, one point a tick", five, []int{1}},
		{"5-minute, missed ticks", five, []int{1, 1, 18, 2, 1, 30}},
		{"1-minute, collect windows", one, []int{5}},
		{"1-minute, odd ticks", one, []int{3, 7, 90, 1, 61}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := detector.DefaultConfig()
			c.Baseline = 4 * 24 * time.Hour
			c.Weeks = 1
			c.WeeklyAfter = 5 * 24 * time.Hour
			d, err := detector.New(c)
			require.NoError(t, err)
			want := observeAll(t, d, tc.pts)
			var p persisted
			compared, restores, fired := 0, 0, 0
			end := 0
			for k := 0; end < len(tc.pts); k++ {
				end = min(end+tc.sizes[k%len(tc.sizes)], len(tc.pts))
				before := p
				got, restored := tick(t, d, &p, tc.pts, end)
				if restored {
					restores++
				}
				for i, dec := range got {
					require.Equal(t, comparable(want[i]), comparable(dec), "point %d at %s", i, tc.pts[i].Time)
					compared++
					if dec.Holds {
						fired++
					}
				}
				if k%97 == 0 {
					// A retry of the tick writes what the first attempt wrote.
					again := before
					again.hours = slices.Clip(again.hours)
					tick(t, d, &again, tc.pts, end)
					require.Equal(t, p, again, "a retry of the tick ending at point %d", end)
				}
			}
			require.Greater(t, compared, len(tc.pts)*9/10)
			require.Positive(t, fired)
			hours := int(tc.pts[len(tc.pts)-1].Time.Sub(tc.pts[0].Time).Hours())
			require.Less(t, restores, 3*hours, "the summaries are read about once an hour")
		})
	}
}

// comparable is dec with a NaN value (a missing point's) made equal to
// itself.
func comparable(dec detector.Decision) detector.Decision {
	if math.IsNaN(dec.Value) {
		dec.Value = 0
	}
	return dec
}

// Everything persisted round-trips exactly, and bad input is refused with
// its reason.
func TestStateEncoding(t *testing.T) {
	t.Parallel()
	d, err := detector.New(detector.DefaultConfig())
	require.NoError(t, err)
	var s detector.State
	for _, p := range sine(9, 5*time.Minute, 4) {
		d.Observe(&s, p)
	}
	_, err = d.AppendState(nil, &s)
	require.ErrorContains(t, err, "compact")
	full := s.Clone()
	require.NoError(t, d.Compact(&s))
	require.True(t, d.Prepared(&s))
	enc, err := d.AppendState(nil, &s)
	require.NoError(t, err)
	got, err := d.DecodeState(enc)
	require.NoError(t, err)
	again, err := d.AppendState(nil, &got)
	require.NoError(t, err)
	require.Equal(t, enc, again)
	require.Less(t, len(enc), 150, "a compact state is a few dozen numbers")

	hours, err := detector.DecodeHours(slices.Concat(detector.AppendHour(nil, full.Hours[0]), detector.AppendHour(nil, full.Hours[1])))
	require.NoError(t, err)
	require.True(t, hours[0].Start.Equal(full.Hours[0].Start))
	require.Equal(t, full.Hours[1].Moments, hours[1].Moments)

	for _, tc := range []struct {
		name string
		v    []float64
		want string
	}{
		{"empty", nil, "0 numbers"},
		{"other layout", append([]float64{99}, enc[1:]...), "layout 99"},
		{"not finite", append(slices.Clone(enc[:len(enc)-1]), math.NaN()), "not all finite"},
		{"cut short", enc[:len(enc)-3], "prepared baseline"},
		{"bad flags", append([]float64{enc[0], 1e6}, enc[2:]...), "flags"},
	} {
		_, err := d.DecodeState(tc.v)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	_, err = detector.DecodeHours([]float64{1, 2, 3})
	require.ErrorContains(t, err, "multiple of 7")
	_, err = detector.DecodeDecision([]float64{1})
	require.ErrorContains(t, err, "decision")

	other := detector.DefaultConfig()
	require.Equal(t, other.Fingerprint(), detector.DefaultConfig().Fingerprint())
	other.Threshold++
	require.NotEqual(t, other.Fingerprint(), detector.DefaultConfig().Fingerprint(), "a threshold change is another configuration")
}
