package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			c, err := LoadCollectFile(f)
			if strings.HasSuffix(f, ".good.yml") {
				require.NoError(t, err)
				require.NoError(t, c.Validate(), "a loaded config must stay valid")
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

func TestLoadIssueExample(t *testing.T) {
	t.Parallel()
	c, err := LoadCollectFile("testdata/issue_example.good.yml")
	require.NoError(t, err)
	min := Duration(time.Minute)
	want := &Collect{
		Interval:     5 * min,
		MaxCatchUp:   45 * min,
		DiscoveryTTL: 60 * min,
		Shards:       16,
		Concurrency:  5,
		Defaults:     Defaults{Period: min, Length: 5 * min, Delay: 10 * min, Timestamp: TimestampCloudWatch},
		Jobs: []Job{
			{
				Name: "ec2", Regions: []string{"us-east-1"}, Namespace: "AWS/EC2",
				Dimensions: []string{"InstanceId"},
				Metrics: []Metric{
					{Name: "CPUUtilization", Statistics: []string{"Average", "Maximum"}, Period: min, Length: 5 * min, Delay: 10 * min, Timestamp: TimestampCloudWatch},
					{Name: "NetworkIn", Statistics: []string{"Sum"}, Period: 5 * min, Length: 5 * min, Delay: 10 * min, Timestamp: TimestampCloudWatch},
				},
			},
			{
				Name: "orders", Regions: []string{"us-east-1"},
				RoleARN:   "arn:aws:iam::111122223333:role/sigmawatch-read",
				Namespace: "MyApp/Orders",
				Static:    []map[string]string{{"Service": "checkout"}},
				Metrics: []Metric{
					{Name: "OrdersPlaced", Statistics: []string{"Sum", "SampleCount", "p99"}, Period: min, Length: 5 * min, Delay: 10 * min, Timestamp: TimestampCloudWatch},
				},
			},
		},
	}
	opt := cmp.Comparer(func(a, b fieldSet) bool { return true })
	require.Empty(t, cmp.Diff(want, c, cmp.AllowUnexported(Job{}, Metric{}), opt))
}

func TestEffectiveValues(t *testing.T) {
	t.Parallel()
	const head = "defaults: {period: 1m, length: 5m, delay: 10m}\njobs:\n- name: j\n  regions: [us-east-1]\n  namespace: N\n  dimensions: []\n"
	tests := []struct {
		name       string
		job        string
		metric     string
		p, l, d    time.Duration
		wantErrSub string
	}{
		{name: "defaults", p: time.Minute, l: 5 * time.Minute, d: 10 * time.Minute},
		{name: "job overrides", job: "  period: 5m\n  length: 10m\n  delay: 3m\n", p: 5 * time.Minute, l: 10 * time.Minute, d: 3 * time.Minute},
		{name: "metric beats job", job: "  period: 5m\n  length: 10m\n", metric: ", period: 1m, length: 2m", p: time.Minute, l: 2 * time.Minute, d: 10 * time.Minute},
		{name: "explicit zero delay on job is kept", job: "  delay: 0s\n", p: time.Minute, l: 5 * time.Minute},
		{name: "explicit zero delay on metric is kept", job: "  delay: 3m\n", metric: ", delay: 0s", p: time.Minute, l: 5 * time.Minute},
		{name: "explicit zero period is an error, not inherit", metric: ", period: 0s", wantErrSub: "jobs[0].metrics[0].period: 0s is not a CloudWatch period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yml := head + tt.job + "  metrics:\n  - {name: M, statistics: [Sum]" + tt.metric + "}\n"
			c, err := LoadCollect([]byte(yml))
			if tt.wantErrSub != "" {
				require.ErrorContains(t, err, tt.wantErrSub)
				return
			}
			require.NoError(t, err)
			m := c.Jobs[0].Metrics[0]
			require.Equal(t, []time.Duration{tt.p, tt.l, tt.d}, []time.Duration{m.Period.D(), m.Length.D(), m.Delay.D()})
		})
	}
}

// TestDefaultRegions: a job without regions collects in the function's own
// region; without one, the error names every job that needs it.
func TestDefaultRegions(t *testing.T) {
	t.Parallel()
	c, err := LoadCollectFile("testdata/no_regions.good.yml")
	require.NoError(t, err)
	require.Empty(t, c.Jobs[0].Regions)
	require.ErrorContains(t, c.DefaultRegions(""), "jobs[0].regions: not set, and there is no default region (set AWS_REGION, or list the regions)")
	require.NoError(t, c.DefaultRegions("eu-central-1"))
	require.Equal(t, []string{"eu-central-1"}, c.Jobs[0].Regions)
	c, err = LoadCollectFile("testdata/issue_example.good.yml")
	require.NoError(t, err)
	require.NoError(t, c.DefaultRegions("eu-central-1"))
	require.Equal(t, []string{"us-east-1"}, c.Jobs[0].Regions, "listed regions stay")
}

// TestResolveReceiver: an empty kind follows the remote-write URL, and an
// Amazon Managed Service for Prometheus workspace is never taken for an
// all-or-nothing store.
func TestResolveReceiver(t *testing.T) {
	t.Parallel()
	const amp = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"
	tests := []struct {
		kind, url, want, wantErr string
	}{
		{"", amp, ReceiverMimir, ""},
		{"", "http://prometheus:9090/api/v1/write", ReceiverPrometheus, ""},
		{ReceiverVictoriaMetrics, "http://vm:8428/api/v1/write", ReceiverVictoriaMetrics, ""},
		{ReceiverPrometheus, amp, "", "receiver.kind: prometheus, but SIGMAWATCH_REMOTE_WRITE_URL is an Amazon Managed Service for Prometheus workspace, which stores series by series: use mimir"},
	}
	for _, tt := range tests {
		c := DefaultCollect()
		c.Receiver.Kind = tt.kind
		err := c.ResolveReceiver(tt.url)
		if tt.wantErr != "" {
			require.EqualError(t, err, tt.wantErr)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, c.Receiver.Kind)
	}
	require.Equal(t, 55*time.Minute, Receiver{Kind: ReceiverPrometheus}.MaxAge())
	require.Equal(t, 115*time.Minute, Receiver{Kind: ReceiverMimir, OutOfOrderWindow: Duration(2 * time.Hour)}.MaxAge())
	require.Zero(t, Receiver{Kind: ReceiverVictoriaMetrics}.MaxAge())
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	yml := `
interval: 0s
progress_shards: 5000
jobs:
  - name: ""
    regions: []
    namespace: ""
    dimensions: [A, A]
    metrics:
      - name: M
        statistics: []
      - name: M
        statistics: [Avg, Sum, Sum]
        period: 7s
`
	_, err := LoadCollect([]byte(yml))
	require.Error(t, err)
	want := []string{
		"interval: must be > 0 (got 0s)",
		"progress_shards: must be between 1 and 4096 (got 5000)",
		"jobs[0].name: required",
		"jobs[0].namespace: required",
		`jobs[0].dimensions[1]: duplicate dimension "A"`,
		"jobs[0].metrics[0].statistics: at least one statistic is required",
		`jobs[0].metrics[1].name: duplicate metric "M" (also metrics[0])`,
		`jobs[0].metrics[1].statistics[0]: unknown statistic "Avg" (not a CloudWatch statistic`,
		`jobs[0].metrics[1].statistics[2]: duplicate statistic "Sum"`,
		"jobs[0].metrics[1].period: 7s is not a CloudWatch period",
	}
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, len(want), "one line per problem: %v", err)
	for i, w := range want {
		require.Contains(t, lines[i], w)
	}
}

func TestValidateStatistic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stat string
		ok   bool
	}{
		{"SampleCount", true}, {"Average", true}, {"Sum", true}, {"Minimum", true}, {"Maximum", true},
		{"IQM", true}, {"p99", true}, {"p99.9", true}, {"p0.1", true}, {"p100", true}, {"p50.1234567891", true},
		{"tm99", true}, {"wm90", true}, {"tc10.5", true}, {"ts1", true},
		{"TM(10%:90%)", true}, {"TM(:95%)", true}, {"WM(5%:)", true}, {"TC(0%:100%)", true}, {"TS(1.5%:99.5%)", true},
		{"PR(:300)", true}, {"PR(100:2000)", true}, {"PR(0.5:)", true},
		{"", false}, {"average", false}, {"P99", false}, {"p0", false}, {"p100.1", false}, {"p1000", false},
		{"p99.", false}, {"p-1", false}, {"p99.12345678901", false}, {"tm0", false}, {"iqm", false},
		{"TM(:)", false}, {"TM(90%:10%)", false}, {"TM(10:90)", false}, {"TM(10%:101%)", false},
		{"PR(5:5)", false}, {"PR()", false}, {"PR(:)", false}, {"tm(10%:90%)", false},
	}
	for _, tt := range tests {
		t.Run(tt.stat, func(t *testing.T) {
			t.Parallel()
			err := ValidateStatistic(tt.stat)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "unknown statistic")
		})
	}
}

func TestPeriods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p  time.Duration
		ok bool
	}{
		{time.Second, true}, {5 * time.Second, true}, {10 * time.Second, true}, {20 * time.Second, true},
		{30 * time.Second, true}, {time.Minute, true}, {5 * time.Minute, true}, {24 * time.Hour, true},
		{0, false}, {2 * time.Second, false}, {45 * time.Second, false}, {90 * time.Second, false}, {-time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.p.String(), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.ok, periodProblem(Duration(tt.p)) == "")
		})
	}
}

func TestValidateInCode(t *testing.T) {
	t.Parallel()
	c := DefaultCollect()
	c.Jobs = []Job{{
		Name: "j", Regions: []string{"us-east-1"}, Namespace: "AWS/EC2", Dimensions: []string{},
		Delay:   Duration(-time.Second),
		Metrics: []Metric{{Name: "CPUUtilization", Statistics: []string{"Average"}}},
	}}
	err := c.Validate()
	require.ErrorContains(t, err, "jobs[0].delay: must be >= 0 (got -1s)")
	c.Jobs[0].Delay = 0
	require.NoError(t, c.Validate(), "zero values inherit the defaults in code")
}

func TestSelectJobs(t *testing.T) {
	t.Parallel()
	c, err := LoadCollectFile("testdata/issue_example.good.yml")
	require.NoError(t, err)
	tests := []struct {
		name    string
		names   []string
		want    []string
		wantErr string
	}{
		{name: "all when empty", want: []string{"ec2", "orders"}},
		{name: "config order", names: []string{"orders", "ec2"}, want: []string{"ec2", "orders"}},
		{name: "one", names: []string{" orders"}, want: []string{"orders"}},
		{name: "duplicates once", names: []string{"ec2", "ec2"}, want: []string{"ec2"}},
		{name: "unknown", names: []string{"ec2", "rds", "lambda"}, wantErr: `unknown job "rds"` + "\n" + `unknown job "lambda"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jobs, err := c.SelectJobs(tt.names)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var got []string
			for _, j := range jobs {
				got = append(got, j.Name)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		str     string
		wantErr bool
	}{
		{in: "30s", want: 30 * time.Second, str: "30s"},
		{in: "5m", want: 5 * time.Minute, str: "5m"},
		{in: "1h30m", want: 90 * time.Minute, str: "1h30m"},
		{in: "1d", want: 24 * time.Hour, str: "1d"},
		{in: "1w", want: 7 * 24 * time.Hour, str: "1w"},
		{in: "0", want: 0, str: "0s"},
		{in: "-5m", wantErr: true},
		{in: "5", wantErr: true},
		{in: "[1m]", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var v struct{ D Duration }
			err := yaml.Unmarshal([]byte("d: "+tt.in), &v)
			if tt.wantErr {
				require.ErrorContains(t, err, "line 1:")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, v.D.D())
			require.Equal(t, tt.str, v.D.String())
			out, err := yaml.Marshal(v)
			require.NoError(t, err)
			require.Equal(t, "d: "+tt.str+"\n", string(out))
			var back Duration
			require.NoError(t, back.UnmarshalText([]byte(v.D.String())))
			require.Equal(t, v.D, back)
		})
	}
	require.Equal(t, "-1m", Duration(-time.Minute).String())
}

func TestLoadCollectFileMissing(t *testing.T) {
	t.Parallel()
	_, err := LoadCollectFile("testdata/does-not-exist.yml")
	require.ErrorContains(t, err, "testdata/does-not-exist.yml: ")
	require.ErrorIs(t, err, os.ErrNotExist)
}
