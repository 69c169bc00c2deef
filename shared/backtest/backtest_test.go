package backtest_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
)

var t0 = time.Date(2014, 2, 14, 14, 30, 0, 0, time.UTC)

const step = 5 * time.Minute

// series is n points 5 minutes apart of noise around 50, with values
// overridden at the given indices.
func series(n int, seed uint64, override map[int]float64) []backtest.Point {
	r := rand.New(rand.NewPCG(seed, 7))
	pts := make([]backtest.Point, n)
	for i := range pts {
		v := 50 + r.NormFloat64()
		if o, ok := override[i]; ok {
			v = o
		}
		pts[i] = backtest.Point{Time: t0.Add(time.Duration(i) * step), Value: v}
	}
	return pts
}

func rule(method anomaly.Method, forDur time.Duration) backtest.Rule {
	p := anomaly.DefaultParams()
	p.Method = method
	p.Threshold = 5
	p.ResolveThreshold = 3
	p.MinStdDev = 0.1
	p.MinRelativeStdDev = 0
	p.MinPoints = 12
	p.Smoothing = 0
	p.Sustained, p.SustainedThreshold = 0, 0 // tests of the sustained check set their own
	p.Baseline = 6 * time.Hour
	p.MinHistory = 2 * time.Hour
	return backtest.Rule{
		Name:   "synthetic",
		Params: p,
		Timing: alerting.Timing{For: forDur, RepeatInterval: time.Hour},
	}
}

func firedAt(ticks []backtest.Tick) []int {
	var out []int
	for i, t := range ticks {
		if t.Fired {
			out = append(out, i)
		}
	}
	return out
}

func TestSyntheticSpikeFiresAtTheKnownTick(t *testing.T) {
	t.Parallel()
	spike := map[int]float64{}
	for i := 150; i < 156; i++ {
		spike[i] = 80 // 30σ for half an hour
	}
	pts := series(240, 1, spike)
	tests := []struct {
		name      string
		rule      backtest.Rule
		wantFired []int
		wantState map[int]alerting.State
		wantSumm  backtest.Summary
		checkSumm bool
	}{
		{
			name:      "window, for=0 fires at the first spike point",
			rule:      rule(anomaly.MethodWindow, 0),
			wantFired: []int{150},
			wantState: map[int]alerting.State{149: alerting.StateInactive, 150: alerting.StateFiring, 155: alerting.StateFiring, 156: alerting.StateInactive},
		},
		{
			name:      "robust, for=10m fires two ticks later",
			rule:      rule(anomaly.MethodRobust, 10*time.Minute),
			wantFired: []int{152},
			wantState: map[int]alerting.State{150: alerting.StatePending, 151: alerting.StatePending, 152: alerting.StateFiring, 156: alerting.StateInactive},
			checkSumm: true,
			// 42 ticks insufficient: the robust baseline ends two whole
			// hours before the tick's hour (anomaly.Params.RobustEnd), so
			// the first window with MinPoints points, (…, 16:00], is tick
			// 42's (18:00).
			wantSumm: backtest.Summary{Ticks: 240, Insufficient: 42, Pendings: 1, Firings: 1, Resolves: 1, Notifications: 2},
		},
		{
			name: "for longer than the spike never fires",
			rule: rule(anomaly.MethodRobust, time.Hour),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ticks, sum, err := backtest.Run(pts, tt.rule)
			require.NoError(t, err)
			require.Len(t, ticks, len(pts))
			require.Equal(t, tt.wantFired, firedAt(ticks))
			for i, s := range tt.wantState {
				require.Equal(t, s, ticks[i].State, "tick %d", i)
			}
			if tt.checkSumm {
				require.Equal(t, tt.wantSumm, sum)
			}
			// The first 2h (24 ticks) are insufficient history, never
			// anomalous; the robust baseline's first full window is tick 42's.
			first := 24
			if tt.rule.Params.Method == anomaly.MethodRobust {
				first = 42
			}
			for i := range first {
				require.False(t, ticks[i].Result.OK(), "tick %d", i)
			}
			require.True(t, ticks[first].Result.OK())
			require.Greater(t, ticks[150].Result.Z, 5.0)
		})
	}
}

// TestNoLookAhead: the decision at every tick t is the same whether or not
// the points after t exist.
func TestNoLookAhead(t *testing.T) {
	t.Parallel()
	override := map[int]float64{90: 70, 91: 75, 92: 72, 130: math.NaN(), 160: 20, 161: 21}
	pts := series(200, 2, override)
	for _, m := range []anomaly.Method{anomaly.MethodWindow, anomaly.MethodRobust} {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			r := rule(m, 5*time.Minute)
			r.Params.Smoothing = 15 * time.Minute
			r.Params.Gap = 10 * time.Minute
			full, _, err := backtest.Run(pts, r)
			require.NoError(t, err)
			require.NotEmpty(t, firedAt(full), "the series must exercise firing")
			for _, cut := range []int{0, 1, 30, 89, 90, 91, 92, 93, 129, 130, 159, 160, 199} {
				prefix, _, err := backtest.Run(pts[:cut+1], r)
				require.NoError(t, err)
				require.Equal(t, full[:cut+1], prefix, "ticks up to %d", cut)
			}
		})
	}
}

func TestSeasonalNeedsWeeks(t *testing.T) {
	t.Parallel()
	// Three weeks and a day of a daily sine at 1h steps, then a jump.
	var pts []backtest.Point
	n := 22 * 24
	for i := range n {
		v := 100 + 20*math.Sin(2*math.Pi*float64(i%24)/24)
		if i == n-1 {
			v += 60
		}
		pts = append(pts, backtest.Point{Time: t0.Add(time.Duration(i) * time.Hour), Value: v})
	}
	r := rule(anomaly.MethodSeasonal, 0)
	r.Params.SeasonWindow = 3 * time.Hour
	r.Params.MinPoints = 3
	r.Params.MinSeasons = 2
	r.Params.MinStdDev = 1
	ticks, _, err := backtest.Run(pts, r)
	require.NoError(t, err)
	// Before two full weeks there are not two seasons.
	require.False(t, ticks[14*24-3].Result.OK())
	require.True(t, ticks[14*24+1].Result.OK())
	// The daily cycle itself never fires; the jump does.
	require.Equal(t, []int{n - 1}, firedAt(ticks))
}

func TestRuleValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, backtest.DefaultRule().Validate())
	r := backtest.DefaultRule()
	r.Params.Baseline = 0
	r.Params.Gap = -time.Minute
	r.Timing.For = -time.Minute
	r.Params.Threshold = 0
	err := r.Validate()
	require.Error(t, err)
	for _, want := range []string{"anomaly: baseline:", "exclude_recent:", "for:", "threshold: must be a positive number"} {
		require.Contains(t, err.Error(), want)
	}
	_, _, err = backtest.Run(nil, r)
	require.Error(t, err)
}

func TestReadCSV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		n       int
		wantErr string
	}{
		{name: "nab", in: "timestamp,value\n2014-02-14 14:30:00,0.132\n2014-02-14 14:35:00,0.134\n", n: 2},
		{name: "columns swapped and RFC 3339", in: "value,timestamp\n1,2014-02-14T14:30:00Z\n", n: 1},
		{name: "bad value is a missing tick", in: "timestamp,value\n2014-02-14 14:30:00,\n", n: 1},
		{name: "no header", in: "", wantErr: "read header"},
		{name: "wrong header", in: "time,v\n", wantErr: "want columns timestamp and value"},
		{name: "bad timestamp", in: "timestamp,value\nyesterday,1\n", wantErr: "line 2: timestamp"},
		{name: "short row", in: "timestamp,value\n2014-02-14 14:30:00\n", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recs, err := backtest.ReadCSV(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, recs, tt.n)
		})
	}
}

func TestRunDirMirrorsInput(t *testing.T) {
	t.Parallel()
	in, out := t.TempDir(), t.TempDir()
	spike := map[int]float64{150: 90}
	var buf bytes.Buffer
	buf.WriteString("timestamp,value\n")
	for _, p := range series(200, 3, spike) {
		buf.WriteString(p.Time.Format(backtest.TimeLayout) + "," + formatFloat(p.Value) + "\n")
	}
	require.NoError(t, os.MkdirAll(filepath.Join(in, "cat", "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(in, "cat", "sub", "a.csv"), buf.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(in, "b.csv"), []byte("timestamp,value\n2014-02-14 14:30:00,1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(in, "notes.txt"), []byte("ignored"), 0o644))

	sums, err := backtest.RunDir(in, out, rule(anomaly.MethodRobust, 0), 2)
	require.NoError(t, err)
	require.Len(t, sums, 2)
	require.Equal(t, "b.csv", sums[0].Path)
	require.Equal(t, "cat/sub/a.csv", sums[1].Path)
	require.Equal(t, 1, sums[1].Firings)

	got, err := os.ReadFile(filepath.Join(out, "cat", "sub", "a.csv"))
	require.NoError(t, err)
	inLines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	outLines := strings.Split(strings.TrimSpace(string(got)), "\n")
	require.Len(t, outLines, len(inLines))
	require.Equal(t, "timestamp,value,anomaly_score", outLines[0])
	for i := 1; i < len(inLines); i++ {
		want := inLines[i] + ",0"
		if i-1 == 150 {
			want = inLines[i] + ",1"
		}
		require.Equal(t, want, outLines[i], "row %d", i)
	}
	_, err = os.Stat(filepath.Join(out, "notes.txt"))
	require.ErrorIs(t, err, os.ErrNotExist)

	// A broken file fails alone; the good ones are still written.
	require.NoError(t, os.WriteFile(filepath.Join(in, "c.csv"), []byte("nope\n"), 0o644))
	sums, err = backtest.RunDir(in, t.TempDir(), rule(anomaly.MethodRobust, 0), 1)
	require.ErrorContains(t, err, "backtest c.csv")
	require.Len(t, sums, 3)
	require.Equal(t, 1, sums[2].Firings)
}

func TestWriteCSVLengthMismatch(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.Error(t, backtest.WriteCSV(&buf, make([]backtest.Record, 2), nil))
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
