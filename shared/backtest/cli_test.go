package backtest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// cliRules is a rules file whose anomaly rule has every field set, so the
// test does not depend on the shipped defaults.
const cliRules = `
settings:
  interval: 5m
  repeat_interval: 1h
groups:
  - name: synthetic
    rules:
      - alert: Spike
        expr: synthetic_value
        for: %s
        anomaly:
          method: window
          baseline: 6h
          threshold: 5
          resolve_threshold: 3
          direction: both
          min_history: 2h
          min_stddev: 0.1
          min_relative_stddev: 0
          smoothing: 0s
          sustained: 0s
      - alert: Above
        expr: synthetic_value > 70
      - alert: Ratio
        expr: synthetic_value / 2
`

func writeRules(t *testing.T, forDur string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, cliRules, forDur), 0o644))
	return path
}

// writeSeries writes pts as a NAB-style CSV at dir/rel.
func writeSeries(t *testing.T, dir, rel string, pts []backtest.Point) {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for _, p := range pts {
		fmt.Fprintf(&b, "%s,%s\n", p.Time.Format(backtest.TimeLayout), formatFloat(p.Value))
	}
	path := filepath.Join(dir, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}

// scores reads the anomaly_score column of a result file.
func scores(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read only
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"timestamp", "value", "anomaly_score"}, rows[0])
	out := make([]string, 0, len(rows)-1)
	for _, r := range rows[1:] {
		out = append(out, r[2])
	}
	return out
}

func ones(s []string) []int {
	var out []int
	for i, v := range s {
		if v == "1" {
			out = append(out, i)
		}
	}
	return out
}

func spikeSeries() []backtest.Point {
	spike := map[int]float64{}
	for i := 150; i < 156; i++ {
		spike[i] = 80 // 30σ for half an hour
	}
	return series(240, 1, spike)
}

func TestRunCLICSVFiresAtTheKnownTick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rule      string
		forDur    string
		wantFired []int
		wantOut   []string
	}{
		{name: "anomaly, for 0", rule: "Spike", forDur: "0s", wantFired: []int{150},
			wantOut: []string{"Spike host/cpu.csv: 240 ticks (24 insufficient data, 0 missing), 0 pending, 1 firing, 0 repeat, 1 resolved: 2 notifications",
				"2014-02-15T03:00:00Z  firing   value=80 z="}},
		{name: "anomaly, for 10m", rule: "Spike", forDur: "10m", wantFired: []int{152},
			wantOut: []string{"1 pending, 1 firing", "2014-02-15T03:00:00Z  pending", "2014-02-15T03:10:00Z  firing"}},
		{name: "threshold rule replays its comparison", rule: "Above", forDur: "0s", wantFired: []int{150},
			wantOut: []string{"Above host/cpu.csv: 240 ticks (0 insufficient data, 0 missing), 0 pending, 1 firing, 0 repeat, 1 resolved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, out := t.TempDir(), t.TempDir()
			writeSeries(t, in, "host/cpu.csv", spikeSeries())
			var stdout bytes.Buffer
			err := backtest.RunCLI(context.Background(), backtest.CLIOptions{
				Config: writeRules(t, tt.forDur), Rule: tt.rule, CSVDir: in, Out: out,
			}, &stdout)
			require.NoError(t, err)
			got := scores(t, filepath.Join(out, "host", "cpu.csv"))
			require.Len(t, got, 240)
			require.Equal(t, tt.wantFired, ones(got))
			for _, want := range tt.wantOut {
				require.Contains(t, stdout.String(), want)
			}
			require.Contains(t, stdout.String(), "total: 1 rules, 1 series (1 fired)")
			pngFile, err := os.Open(filepath.Join(out, "host", "cpu.csv.png"))
			require.NoError(t, err)
			defer func() { _ = pngFile.Close() }() // read only
			img, err := png.Decode(pngFile)
			require.NoError(t, err)
			require.Positive(t, img.Bounds().Dx())
		})
	}
}

func TestRunCLICSVEveryRule(t *testing.T) {
	t.Parallel()
	in, out := t.TempDir(), t.TempDir()
	writeSeries(t, in, "a.csv", spikeSeries())
	writeSeries(t, in, "b/c.csv", series(240, 2, nil))
	var stdout bytes.Buffer
	require.NoError(t, backtest.RunCLI(context.Background(), backtest.CLIOptions{
		Config: writeRules(t, "0s"), CSVDir: in, Out: out,
	}, &stdout))
	// Several rules: one folder per rule, each mirroring the input.
	require.Equal(t, []int{150}, ones(scores(t, filepath.Join(out, "Spike", "a.csv"))))
	require.Empty(t, ones(scores(t, filepath.Join(out, "Spike", "b", "c.csv"))))
	require.Equal(t, []int{150}, ones(scores(t, filepath.Join(out, "Above", "a.csv"))))
	require.FileExists(t, filepath.Join(out, "Spike", "b", "c.csv.png"), "a quiet series gets its chart too")
	require.NoDirExists(t, filepath.Join(out, "Ratio"))
	require.Contains(t, stdout.String(), "rule Ratio: skipped: a threshold rule can be replayed on CSV files only when its expr compares the series with a number")
	require.Contains(t, stdout.String(), "total: 2 rules, 4 series (2 fired)")
}

// TestRunCLINoLookAhead: the decision at tick t does not change when the
// points after t are removed from the input file.
func TestRunCLINoLookAhead(t *testing.T) {
	t.Parallel()
	pts := spikeSeries()
	cfg := writeRules(t, "10m")
	run := func(t *testing.T, pts []backtest.Point) []string {
		in, out := t.TempDir(), t.TempDir()
		writeSeries(t, in, "s.csv", pts)
		require.NoError(t, backtest.RunCLI(context.Background(), backtest.CLIOptions{Config: cfg, Rule: "Spike", CSVDir: in, Out: out}, new(bytes.Buffer)))
		return scores(t, filepath.Join(out, "s.csv"))
	}
	full := run(t, pts)
	require.Equal(t, []int{152}, ones(full))
	for _, cut := range []int{30, 151, 152, 153, 200} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, full[:cut], run(t, pts[:cut]))
		})
	}
}

func TestCLIOptionsValidate(t *testing.T) {
	t.Parallel()
	from := t0
	q := &fakeQuerier{}
	tests := []struct {
		name string
		opts backtest.CLIOptions
		want []string
	}{
		{name: "csv ok", opts: backtest.CLIOptions{Config: "r.yaml", CSVDir: "d", Out: "o"}},
		{name: "prometheus ok", opts: backtest.CLIOptions{Config: "r.yaml", From: from, To: from.Add(time.Hour), Out: "o", Querier: q}},
		{name: "nothing", want: []string{"-config: required", "-out: required", "-csv DIR or -from and -to"}},
		{name: "both sources", opts: backtest.CLIOptions{Config: "r", Out: "o", CSVDir: "d", From: from}, want: []string{"give one source, not both"}},
		{name: "from only", opts: backtest.CLIOptions{Config: "r", Out: "o", From: from, Querier: q}, want: []string{"-from and -to: both are required"}},
		{name: "reversed", opts: backtest.CLIOptions{Config: "r", Out: "o", From: from, To: from, Querier: q}, want: []string{"-to: must be after -from"}},
		{name: "no querier", opts: backtest.CLIOptions{Config: "r", Out: "o", From: from, To: from.Add(time.Hour)}, want: []string{"a Prometheus querier is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.opts.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestRunCLIErrors(t *testing.T) {
	t.Parallel()
	in := t.TempDir()
	writeSeries(t, in, "a.csv", series(50, 1, nil))
	tests := []struct {
		name string
		opts backtest.CLIOptions
		want string
	}{
		{name: "unknown rule", opts: backtest.CLIOptions{Config: writeRules(t, "0s"), Rule: "Nope", CSVDir: in, Out: t.TempDir()}, want: "-rule Nope: no such rule"},
		{name: "missing config", opts: backtest.CLIOptions{Config: filepath.Join(in, "none.yaml"), CSVDir: in, Out: t.TempDir()}, want: "none.yaml"},
		{name: "empty input", opts: backtest.CLIOptions{Config: writeRules(t, "0s"), Rule: "Spike", CSVDir: t.TempDir(), Out: t.TempDir()}, want: "no .csv files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.ErrorContains(t, backtest.RunCLI(context.Background(), tt.opts, new(bytes.Buffer)), tt.want)
		})
	}
}

// fakeQuerier serves a range query from fixed series, sampled on the
// query's own grid as Prometheus does, and records the calls.
type fakeQuerier struct {
	mu     sync.Mutex
	series []promql.Series
	calls  [][2]time.Time
}

func (f *fakeQuerier) QueryRange(_ context.Context, _ string, start, end time.Time, step time.Duration) ([]promql.Series, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, [2]time.Time{start, end})
	var out []promql.Series
	for _, s := range f.series {
		var pts []promql.Point
		for _, p := range s.Points {
			if !p.T.Before(start) && !p.T.After(end) && p.T.Sub(start)%step == 0 {
				pts = append(pts, p)
			}
		}
		if len(pts) > 0 {
			out = append(out, promql.Series{Labels: s.Labels, Points: pts})
		}
	}
	return out, nil
}

func TestRunCLIPrometheus(t *testing.T) {
	t.Parallel()
	toProm := func(pts []backtest.Point) []promql.Point {
		out := make([]promql.Point, len(pts))
		for i, p := range pts {
			out[i] = promql.Point{T: p.Time, V: p.Value}
		}
		return out
	}
	spiky := map[string]string{"__name__": "synthetic_value", "host": "a"}
	quiet := map[string]string{"__name__": "synthetic_value", "host": "b"}
	q := &fakeQuerier{series: []promql.Series{
		{Labels: spiky, Points: toProm(spikeSeries())},
		{Labels: quiet, Points: toProm(series(240, 2, nil))},
	}}
	out := t.TempDir()
	from, to := t0.Add(100*step), t0.Add(200*step)
	var stdout bytes.Buffer
	require.NoError(t, backtest.RunCLI(context.Background(), backtest.CLIOptions{
		Config: writeRules(t, "0s"), Rule: "Spike", From: from, To: to, Out: out, Querier: q,
	}, &stdout))
	// Look-back: baseline 6h + min_history 2h before the first tick.
	require.Equal(t, [][2]time.Time{{from.Add(-8 * time.Hour), to}}, q.calls)
	fp := alerting.Fingerprint(alerting.SeriesLabels(spiky))
	got := scores(t, filepath.Join(out, "Spike", fp+".csv"))
	require.Len(t, got, 101, "one tick per interval in [from, to]")
	require.Equal(t, []int{50}, ones(got), "the spike at point 150 is tick 50")
	require.FileExists(t, filepath.Join(out, "Spike", fp+".csv.png"))
	quietFP := alerting.Fingerprint(alerting.SeriesLabels(quiet))
	require.Empty(t, ones(scores(t, filepath.Join(out, "Spike", quietFP+".csv"))))
	require.Contains(t, stdout.String(), `Spike {host="a"}: 101 ticks (0 insufficient data, 0 missing), 0 pending, 1 firing`)

	// The same decisions as the CSV mode over the whole file: the warm-up
	// gives the first tick the history a deployed function would have.
	csvTicks, _, err := backtest.Run(spikeSeries(), mustRule(t, writeRules(t, "0s"), "Spike"))
	require.NoError(t, err)
	for i, tk := range csvTicks[100:201] {
		require.Equal(t, tk.Fired, got[i] == "1", "tick %d", i)
	}
}

func TestRunCLIPrometheusThresholdRule(t *testing.T) {
	t.Parallel()
	// Prometheus applies the comparison: the series is returned only where
	// it holds.
	var pts []promql.Point
	for i := 150; i < 156; i++ {
		pts = append(pts, promql.Point{T: t0.Add(time.Duration(i) * step), V: 80})
	}
	q := &fakeQuerier{series: []promql.Series{{Labels: map[string]string{"host": "a"}, Points: pts}}}
	out := t.TempDir()
	require.NoError(t, backtest.RunCLI(context.Background(), backtest.CLIOptions{
		Config: writeRules(t, "0s"), Rule: "Above", From: t0.Add(100 * step), To: t0.Add(200 * step), Out: out, Querier: q,
	}, new(bytes.Buffer)))
	fp := alerting.Fingerprint(map[string]string{"host": "a"})
	got := scores(t, filepath.Join(out, "Above", fp+".csv"))
	require.Len(t, got, 101)
	require.Equal(t, []int{50}, ones(got))
}

func mustRule(t *testing.T, path, name string) backtest.Rule {
	t.Helper()
	f, err := rules.LoadFile(path)
	require.NoError(t, err)
	for _, r := range f.Rules() {
		if r.Alert == name {
			br, err := backtest.RuleFromConfig(r, f.Settings)
			require.NoError(t, err)
			return br
		}
	}
	t.Fatalf("no rule %s", name)
	return backtest.Rule{}
}

func TestRuleFromConfig(t *testing.T) {
	t.Parallel()
	const file = `
settings: {interval: 1m, repeat_interval: 3h, resolve_ratio: 0.5}
groups:
  - name: g
    rules:
      - alert: Window
        expr: x
        for: 10m
        keep_firing_for: 1h
        missing_data: resolve
        lookback_delta: 1h
        anomaly: {method: window, baseline: 2d, threshold: 6, min_history: 12h, min_relative_stddev: 0.1, smoothing: 15m, exclude_recent: 30m, direction: up}
      - alert: Seasonal
        expr: x
        repeat_interval: 1h
        anomaly: {method: seasonal, seasons: 2}
      - alert: Threshold
        expr: x > 1
`
	f, err := rules.Load([]byte(file))
	require.NoError(t, err)
	rs := f.Rules()

	w, err := backtest.RuleFromConfig(rs[0], f.Settings)
	require.NoError(t, err)
	want := anomaly.DefaultParamsFor(anomaly.MethodWindow)
	want.Direction, want.Threshold, want.ResolveThreshold = anomaly.DirectionUp, 6, 3
	want.Baseline, want.Gap, want.MinHistory = 48*time.Hour, 30*time.Minute, 12*time.Hour
	want.MinRelativeStdDev, want.Smoothing = 0.1, 15*time.Minute
	require.Equal(t, backtest.Rule{
		Name:   "Window",
		Params: want,
		Timing: alerting.Timing{
			For: 10 * time.Minute, KeepFiringFor: time.Hour, RepeatInterval: 3 * time.Hour,
			MissingData: alerting.MissingDataResolve, MissingDataTimeout: time.Hour,
		},
		Lookback: time.Hour,
	}, w)
	require.Equal(t, *alerting.SpecOf(rs[0]).Detector, w.Params, "the deployed function's detector, exactly")

	s, err := backtest.RuleFromConfig(rs[1], f.Settings)
	require.NoError(t, err)
	require.Equal(t, anomaly.MethodSeasonal, s.Params.Method)
	require.Equal(t, anomaly.DefaultSeasonWindow, s.Params.SeasonWindow)
	require.Equal(t, 2, s.Params.Seasons)
	require.Equal(t, anomaly.DefaultSeason, s.Params.Season)
	require.Equal(t, time.Hour, s.Timing.RepeatInterval)
	require.Equal(t, 30*time.Minute, s.Lookback, "settings' default lookback")

	_, err = backtest.RuleFromConfig(rs[2], f.Settings)
	require.ErrorContains(t, err, "rule Threshold: not an anomaly rule")
}

func TestParseComparison(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		want    backtest.Comparison
		wantErr string
	}{
		{expr: "x > 90", want: backtest.Comparison{Op: ">", Value: 90}},
		{expr: "(rate(x[5m]) <= 0.5)", want: backtest.Comparison{Op: "<=", Value: 0.5}},
		{expr: "90 < x", want: backtest.Comparison{Op: ">", Value: 90}},
		{expr: "x != 0", want: backtest.Comparison{Op: "!=", Value: 0}},
		{expr: "x > bool 1", wantErr: "not a comparison with a number"},
		{expr: "x > y", wantErr: "not a comparison with a number"},
		{expr: "x", wantErr: "not a comparison with a number"},
		{expr: "x >", wantErr: "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			got, err := backtest.ParseComparison(tt.expr)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestNABRulesAreTheDefaultRule: the rules file that reproduces the NAB
// score through the CLI maps to exactly the rule nabrun runs by default.
func TestNABRulesAreTheDefaultRule(t *testing.T) {
	t.Parallel()
	got := mustRule(t, filepath.Join("testdata", "nab.rules.yaml"), "NABAnomaly")
	want := backtest.DefaultRule()
	want.Name = "NABAnomaly"
	want.Timing.MissingData = alerting.MissingDataKeep
	require.Equal(t, want, got)
}

// TestExampleRulesShipTheScoredDefault: every anomaly rule of the example
// rules users deploy maps to exactly the rule whose NAB score BENCHMARKS.md
// and the README quote — and so does an anomaly block left to its defaults.
func TestExampleRulesShipTheScoredDefault(t *testing.T) {
	t.Parallel()
	for _, path := range []string{
		filepath.Join("..", "..", "infra", "examples", "rules.yaml"),
		filepath.Join("testdata", "defaults.rules.yaml"),
	} {
		f, err := rules.LoadFile(path)
		require.NoError(t, err)
		n := 0
		for _, r := range f.Rules() {
			if r.Anomaly == nil {
				continue
			}
			n++
			got, err := backtest.RuleFromConfig(r, f.Settings)
			require.NoError(t, err)
			want := backtest.DefaultRule()
			want.Name = r.Alert
			want.Fingerprint = got.Fingerprint
			want.Timing.MissingData = alerting.MissingDataKeep
			require.Equal(t, want, got, "%s: %s", path, r.Alert)
		}
		require.Positive(t, n, path)
	}
}

// TestRunCLIMissingDataTimeout: a series that stops reporting while its
// alert fires resolves "no data" after missing_data_timeout (1h by
// default) in the backtest, as it does deployed (alerting.Advance), not
// when the data comes back.
func TestRunCLIMissingDataTimeout(t *testing.T) {
	t.Parallel()
	gap := map[int]float64{}
	for i := 150; i < 156; i++ {
		gap[i] = 80
	}
	for i := 156; i < 180; i++ {
		gap[i] = math.NaN() // two hours without data
	}
	tests := []struct {
		rule, resolvedAt string
	}{
		// The last point is at 03:25; an anomaly rule reads it as current
		// while it is younger than its lookback (30m): last seen at 03:50.
		{rule: "Spike", resolvedAt: "2014-02-15T04:50:00Z  resolved"},
		{rule: "Above", resolvedAt: "2014-02-15T04:25:00Z  resolved"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			in, out := t.TempDir(), t.TempDir()
			writeSeries(t, in, "host/cpu.csv", series(240, 1, gap))
			var stdout bytes.Buffer
			require.NoError(t, backtest.RunCLI(context.Background(), backtest.CLIOptions{
				Config: writeRules(t, "0s"), Rule: tt.rule, CSVDir: in, Out: out,
			}, &stdout))
			// One hour after the last data the alert resolves (one repeat
			// on the way, repeat_interval 1h), not when the data returns.
			require.Contains(t, stdout.String(), tt.resolvedAt, stdout.String())
			require.Contains(t, stdout.String(), "1 firing, 1 repeat, 1 resolved", stdout.String())
		})
	}
}
