package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
)

func TestFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			rf, err := LoadFile(f)
			if strings.HasSuffix(f, ".good.yml") {
				require.NoError(t, err)
				require.NoError(t, rf.Validate(), "a loaded file must stay valid")
				return
			}
			require.True(t, strings.HasSuffix(f, ".bad.yml"), "fixture must be .good.yml or .bad.yml")
			want, rerr := os.ReadFile(strings.TrimSuffix(f, ".yml") + ".err")
			require.NoError(t, rerr, "every .bad.yml needs a .err with the expected substring")
			require.Error(t, err)
			require.Contains(t, err.Error(), strings.TrimSpace(string(want)))
			require.True(t, strings.HasPrefix(err.Error(), f+": "), "error must start with the path: %v", err)
		})
	}
}

func TestIssueExample(t *testing.T) {
	t.Parallel()
	f, err := LoadFile("testdata/issue_example.good.yml")
	require.NoError(t, err)
	d := func(x time.Duration) config.Duration { return config.Duration(x) }
	want := []Rule{
		{
			Group: "ec2", Alert: "EC2CPUAnomaly", Expr: "aws_ec2_cpuutilization_average",
			For: d(10 * time.Minute), KeepFiringFor: d(5 * time.Minute), RepeatInterval: d(4 * time.Hour),
			Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{
				"summary":     "CPU on {{ $labels.dimension_InstanceId }} is unusual",
				"runbook_url": "https://runbooks.example.com/ec2-cpu",
			},
			MissingData: MissingKeep,
			Anomaly: &Anomaly{
				Method: anomaly.MethodWindow, Baseline: d(7 * 24 * time.Hour), Threshold: 4, ResolveThreshold: 3,
				Direction: anomaly.DirectionBoth, MinHistory: d(24 * time.Hour), MinStddev: anomaly.DefaultMinStdDev,
				MinRelativeStddev: anomaly.DefaultMinRelativeStdDev, Smoothing: Window(anomaly.DefaultSmoothing),
				Sustained: Window(anomaly.DefaultSustained), SustainedThreshold: anomaly.DefaultSustainedThreshold,
			},
			LookbackDelta: DefaultLookbackDelta,
			Routing:       DefaultRouting(),
		},
		{
			Group: "ec2", Alert: "ALBErrorsHigh", Expr: "aws_applicationelb_httpcode_target_5_xx_count_sum > 10",
			For: d(5 * time.Minute), RepeatInterval: d(4 * time.Hour), LookbackDelta: DefaultLookbackDelta,
			Labels: map[string]string{"severity": "warning"}, MissingData: MissingKeep, Routing: DefaultRouting(),
		},
	}
	got := f.Rules()
	require.Empty(t, cmp.Diff(want, got, cmp.AllowUnexported(Rule{}, removedPoints{})))
	require.True(t, got[0].IsAnomaly())
	require.False(t, got[1].IsAnomaly())
	require.Equal(t, DefaultSettings(), f.Settings)
}

func TestEffectiveValues(t *testing.T) {
	t.Parallel()
	f, err := LoadFile("testdata/everything.good.yml")
	require.NoError(t, err)
	rs := f.Rules()
	require.Len(t, rs, 4)
	byName := map[string]Rule{}
	for _, r := range rs {
		byName[r.Alert] = r
	}
	require.Equal(t, "rds", byName["RDSWriteLatency"].Group)
	require.Equal(t, 30*time.Minute, byName["RDSWriteLatency"].RepeatInterval.D(), "override kept")
	require.Equal(t, time.Hour, byName["SQSSeasonal"].RepeatInterval.D(), "inherited from settings")
	require.Equal(t, MissingResolve, byName["RDSWriteLatency"].MissingData)

	robust := byName["RDSWriteLatency"].Anomaly
	require.Equal(t, 0.0, robust.MinRelativeStddev, "explicit zero is kept, not defaulted")
	require.Equal(t, 3.0, robust.ResolveThreshold)
	require.Equal(t, 90*time.Minute, robust.Sustained.D())
	require.Equal(t, 15*time.Minute, robust.Smoothing.D())
	require.Equal(t, 1.5, robust.SustainedThreshold)

	seasonal := byName["SQSSeasonal"].Anomaly
	require.Equal(t, 2, seasonal.Seasons)
	require.Equal(t, 14*24*time.Hour, seasonal.Baseline.D())
	require.Equal(t, 7*24*time.Hour, seasonal.MinHistory.D())
	require.Equal(t, anomaly.DefaultThreshold*0.5, seasonal.ResolveThreshold, "threshold × settings.resolve_ratio 0.5")

	def := byName["LambdaDurationAnomaly"].Anomaly
	dp := anomaly.DefaultParams()
	require.Equal(t, Anomaly{
		Method: dp.Method, Baseline: config.Duration(dp.Baseline), Threshold: dp.Threshold,
		ResolveThreshold: dp.Threshold * 0.5, Direction: dp.Direction, MinHistory: config.Duration(dp.MinHistory),
		MinStddev: dp.MinStdDev, MinRelativeStddev: dp.MinRelativeStdDev, Smoothing: Window(dp.Smoothing),
		Sustained: Window(dp.Sustained), SustainedThreshold: dp.SustainedThreshold,
	}, *def)
	dp.ResolveThreshold = dp.Threshold * 0.5
	require.Equal(t, dp, def.Detector(), "an empty anomaly block is the default detector")
	require.Equal(t, 10*time.Minute, byName["RDSWriteLatency"].LookbackDelta.D(), "override kept")
	require.Equal(t, 45*time.Minute, byName["SQSSeasonal"].LookbackDelta.D(), "inherited from settings")

	fromBaseline := byName["LambdaDurationSeasonal"].Anomaly
	require.Equal(t, 4, fromBaseline.Seasons, "seasons derived from a 4w baseline")

	dms := f.Settings.DeadMansSwitch
	require.NotNil(t, dms)
	require.Equal(t, DefaultDeadMansSwitchAlert, dms.Alert)
	require.Equal(t, "warning", dms.Severity)
	require.Equal(t, 20*time.Minute, dms.MaxAge.D())

	// Rules returns copies: changing them leaves the file alone.
	rs[0].Anomaly.Threshold = 99
	require.NotEqual(t, 99.0, f.Groups[0].Rules[0].Anomaly.Threshold)
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	yml := `
settings:
  interval: 0s
  max_alerts_per_notification: 0
groups:
  - name: g
    rules:
      - alert: ""
        expr: ""
      - alert: B
        expr: up
        labels: {__x: y, "bad-name": z}
        anomaly: {method: window, threshold: -1, direction: sideways, smoothing: 7h, exclude_recent: 8d}
  - name: g
    rules:
      - alert: C
        expr: up
`
	_, err := Load([]byte(yml))
	require.Error(t, err)
	want := []string{
		"settings.interval: must be > 0 (got 0s)",
		"settings.max_alerts_per_notification: must be >= 1 (got 0)",
		"groups[0].rules[0] ().alert: required",
		"groups[0].rules[0] ().expr: required",
		"groups[0].rules[1] (B).labels.__x: label names starting with __ are reserved",
		`groups[0].rules[1] (B).labels.bad-name: "bad-name" is not a valid label name`,
		"groups[0].rules[1] (B).anomaly.threshold: must be > 0 (got -1)",
		"groups[0].rules[1] (B).anomaly.resolve_threshold: must be > 0 (got -0.75)",
		`groups[0].rules[1] (B).anomaly.direction: "sideways" is not up, down or both`,
		"groups[0].rules[1] (B).anomaly.smoothing: must be between 0 (the latest point) and 6h (got 7h)",
		"groups[0].rules[1] (B).anomaly.exclude_recent: 8d leaves nothing of the baseline 1w",
		`groups[1].name: duplicate group "g" (also groups[0])`,
	}
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, len(want), "one line per problem: %v", err)
	for i, w := range want {
		require.Contains(t, lines[i], w)
	}
}

func TestExprKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		expr    string
		anomaly bool
		wantErr string
	}{
		{name: "selector", expr: `aws_ec2_cpuutilization_average{dimension_InstanceId="i-1"}`, anomaly: true},
		{name: "aggregation", expr: "sum by (region) (rate(x[5m]))", anomaly: true},
		{name: "arithmetic", expr: "a / b * 100", anomaly: true},
		{name: "threshold comparison", expr: "a > 10"},
		{name: "bool comparison on anomaly", expr: "a > bool 10", anomaly: true, wantErr: "must not be a comparison"},
		{name: "nested comparison is fine", expr: "sum(a > 10)", anomaly: true},
		{name: "string", expr: `"x"`, wantErr: "must be an instant vector expression (got string)"},
		{name: "parse error", expr: "sum(", wantErr: "parse error"},
		{name: "unknown function", expr: "nosuchfn(a)", wantErr: "unknown function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yml := "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: '" + tt.expr + "'\n"
			if tt.anomaly {
				yml += "    anomaly: {}\n"
			}
			_, err := Load([]byte(yml))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "groups[0].rules[0] (A).expr: ")
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	data := TemplateData{
		Labels:      map[string]string{"dimension_InstanceId": "i-123", "severity": "critical"},
		ExternalURL: "https://grafana.example.com",
		Value:       1234567,
	}
	tests := []struct {
		name, text, want string
	}{
		{"labels", "CPU on {{ $labels.dimension_InstanceId }}", "CPU on i-123"},
		{"missing label is empty", "[{{ $labels.nope }}]", "[]"},
		{"value", "{{ $value }}", "1.234567e+06"},
		{"humanize", "{{ humanize $value }}", "1.235M"},
		{"humanize small", "{{ humanize 0.0012 }}", "1.2m"},
		{"humanize1024", "{{ humanize1024 2048.0 }}", "2ki"},
		{"humanizeDuration", "{{ humanizeDuration 90061.0 }}", "1d 1h 1m 1s"},
		{"humanizeDuration ms", "{{ humanizeDuration 0.25 }}", "250ms"},
		{"humanizePercentage", "{{ humanizePercentage 0.256 }}", "25.6%"},
		{"humanizeTimestamp", "{{ humanizeTimestamp 0.0 }}", "1970-01-01 00:00:00 +0000 UTC"},
		{"pipes", "{{ $labels.severity | toUpper }} {{ title \"disk full\" }}", "CRITICAL Disk Full"},
		{"regex", `{{ reReplaceAll "i-(.*)" "$1" $labels.dimension_InstanceId }}`, "123"},
		{"external url", "{{ $externalURL }}/d/x", "https://grafana.example.com/d/x"},
		{"strip", `{{ stripPort "host.example.com:9090" }} {{ stripDomain "host.example.com:9090" }}`, "host.example.com host:9090"},
		{"args", `{{ with args 1 "a" }}{{ .arg1 }}{{ end }}`, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Expand("t", tt.text, data)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := Expand("t", "{{ humanize \"x\" }}", data)
	require.ErrorContains(t, err, "expand template t")
	_, err = Expand("t", "{{", data)
	require.ErrorContains(t, err, "parse template t")
}

func TestLoadFileMissing(t *testing.T) {
	t.Parallel()
	_, err := LoadFile("testdata/nope.yml")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "testdata/nope.yml: ")
}
