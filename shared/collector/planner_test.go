package collector

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func m(d time.Duration) time.Time { return t0.Add(d) }

// planFixture is one job (metrics entries from YAML) and a listing.
type planFixture struct {
	c   *Collector
	job *config.Job
	// listing is the job's series, by instance, for every metrics entry.
	listing []listed
}

func newPlanFixture(t *testing.T, yaml string, instances ...string) *planFixture {
	t.Helper()
	cfg, err := config.LoadCollect([]byte(yaml))
	require.NoError(t, err)
	c := &Collector{cfg: cfg, deployment: "test"}
	f := &planFixture{c: c, job: &cfg.Jobs[0]}
	for i, mc := range f.job.Metrics {
		for _, id := range instances {
			m := cloudwatch.NewMetric(f.job.Namespace, mc.Name, []cloudwatch.Dimension{{Name: "InstanceId", Value: id}})
			f.listing = append(f.listing, listed{metric: &m, cfg: i})
		}
	}
	return f
}

func (f *planFixture) plan(at time.Time, p *targetProgress) *targetPlan {
	in := f.c.jobPlanInput(f.job)
	in.at = at
	in.listing = f.listing
	if p == nil {
		p = &targetProgress{}
	}
	in.progress = p
	in.labels = newLabeler(f.job, "us-east-1", "123456789012", "", nil)
	return planTarget(in)
}

// windows maps "series name|instance" to the planned window.
func windows(p *targetPlan) map[string]cloudwatch.Window {
	out := map[string]cloudwatch.Window{}
	for _, q := range p.queries {
		out[queryName(q)+"|"+q.Metric.Dimensions[0].Value] = cloudwatch.Window{Start: q.Start, End: q.End}
	}
	return out
}

func queryName(q cloudwatch.Query) string {
	return naming.MetricName(q.Metric.Namespace, q.Metric.Name, q.Stat)
}

// progressOf is stored progress: every unit of metric under shards covered
// until t.
func progressOf(metric string, shards int, t time.Time) *targetProgress {
	p := &targetProgress{}
	for s := range shards {
		p.add(unitKey{metric: metric, shards: shards, shard: s}, t)
	}
	return p
}

// oneMetric's receiver takes samples of any age, so that the window maths
// is seen without the age limit (tested on its own).
const oneMetric = `
receiver: {kind: victoriametrics}
max_catch_up: 45m
progress_shards: 4
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: ec2
    regions: [us-east-1]
    namespace: AWS/EC2
    dimensions: [InstanceId]
    metrics:
      - {name: CPUUtilization, statistics: [Average]}
`

func TestPlanFirstRunAndRetry(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t, oneMetric, "i-1", "i-2", "i-3")
	at := m(20 * time.Minute)
	p := f.plan(at, nil)
	w := cloudwatch.Window{Start: m(5 * time.Minute), End: m(10 * time.Minute)}
	require.Equal(t, map[string]cloudwatch.Window{
		"aws_ec2_cpuutilization_average|i-1": w, "aws_ec2_cpuutilization_average|i-2": w, "aws_ec2_cpuutilization_average|i-3": w,
	}, windows(p))
	require.NotEmpty(t, p.units)
	for i := 1; i < len(p.meta); i++ {
		require.LessOrEqual(t, p.meta[i-1].unit, p.meta[i].unit, "one window: unit after unit, so units complete while the data streams in")
	}
	for _, u := range p.units {
		require.True(t, u.hasBaseline, "a unit without progress records where it starts first")
		require.Equal(t, m(5*time.Minute), u.baseline)
		require.Equal(t, m(10*time.Minute), u.end)
	}
	// The retry of T finds every unit covered until the window's end.
	p = f.plan(at, progressOf("CPUUtilization", 4, m(10*time.Minute)))
	require.Empty(t, p.units)
	require.Empty(t, p.queries)
}

// TestPlanConfigChanges: each config change of issue 11 item 2, from the
// progress a run before the change stored (covered until 10:10).
func TestPlanConfigChanges(t *testing.T) {
	t.Parallel()
	stored := progressOf("CPUUtilization", 4, m(10*time.Minute))
	tests := []struct {
		name    string
		yaml    string
		at      time.Time
		p       *targetProgress
		want    *cloudwatch.Window // nil: nothing due
		skipped time.Duration
	}{
		{"unchanged", oneMetric, m(25 * time.Minute), stored, &cloudwatch.Window{Start: m(10 * time.Minute), End: m(15 * time.Minute)}, 0},
		{"delay 10m to 5m: five more minutes, no gap", replace(oneMetric, "delay: 10m", "delay: 5m"), m(25 * time.Minute), stored, &cloudwatch.Window{Start: m(10 * time.Minute), End: m(20 * time.Minute)}, 0},
		{"delay 10m to 15m: nothing until the clock catches up", replace(oneMetric, "delay: 10m", "delay: 15m"), m(25 * time.Minute), stored, nil, 0},
		{"delay 10m to 15m, next run", replace(oneMetric, "delay: 10m", "delay: 15m"), m(30 * time.Minute), stored, &cloudwatch.Window{Start: m(10 * time.Minute), End: m(15 * time.Minute)}, 0},
		{"length changed: only first runs use it", replace(oneMetric, "length: 5m", "length: 15m"), m(25 * time.Minute), stored, &cloudwatch.Window{Start: m(10 * time.Minute), End: m(15 * time.Minute)}, 0},
		{"period 1m to 1h, within the hour", replace(replace(oneMetric, "period: 1m", "period: 1h"), "length: 5m", "length: 1h"), m(40 * time.Minute), stored, nil, 0},
		{"period 1m to 1h, after the hour: the half-covered hour is given up", replace(replace(replace(oneMetric, "period: 1m", "period: 1h"), "length: 5m", "length: 1h"), "max_catch_up: 45m", "max_catch_up: 2h"),
			m(135 * time.Minute), stored, &cloudwatch.Window{Start: m(time.Hour), End: m(2 * time.Hour)}, 50 * time.Minute},
		{"shards 4 to 8: each series continues from its old shard", replace(oneMetric, "progress_shards: 4", "progress_shards: 8"), m(25 * time.Minute), stored, &cloudwatch.Window{Start: m(10 * time.Minute), End: m(15 * time.Minute)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newPlanFixture(t, tt.yaml, "i-1", "i-2", "i-3")
			p := f.plan(tt.at, tt.p)
			if tt.want == nil {
				require.Empty(t, p.queries)
				require.Empty(t, p.units, "no progress is written backwards")
				return
			}
			for k, w := range windows(p) {
				require.Equal(t, *tt.want, w, k)
			}
			require.Len(t, p.queries, 3)
			require.Equal(t, tt.skipped, p.skipped)
		})
	}
}

// TestPlanShardsBackAndForth: progress_shards 4 → 8 → 4 within the lookback.
// The stale 4-shard progress must lose to the newer 8-shard progress (it
// used to win: 400s on a stock Prometheus, then a false "given up").
func TestPlanShardsBackAndForth(t *testing.T) {
	t.Parallel()
	p := progressOf("CPUUtilization", 4, m(10*time.Minute))
	for s := range 8 {
		p.add(unitKey{metric: "CPUUtilization", shards: 8, shard: s}, m(30*time.Minute))
	}
	f := newPlanFixture(t, oneMetric, "i-1", "i-2", "i-3", "i-4", "i-5")
	plan := f.plan(m(45*time.Minute), p)
	require.Len(t, plan.queries, 5)
	for k, w := range windows(plan) {
		require.Equal(t, cloudwatch.Window{Start: m(30 * time.Minute), End: m(35 * time.Minute)}, w, k)
	}
	require.Zero(t, plan.skipped)
}

// TestPlanStatisticAdded: a statistic added to a metric starts where its
// unit is covered, beside the existing one; nothing is first-run again.
func TestPlanStatisticAdded(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t, replace(oneMetric, "statistics: [Average]", "statistics: [Average, Maximum]"), "i-1")
	plan := f.plan(m(25*time.Minute), progressOf("CPUUtilization", 4, m(10*time.Minute)))
	w := cloudwatch.Window{Start: m(10 * time.Minute), End: m(15 * time.Minute)}
	require.Equal(t, map[string]cloudwatch.Window{"aws_ec2_cpuutilization_average|i-1": w, "aws_ec2_cpuutilization_maximum|i-1": w}, windows(plan))
}

// TestPlanMetricAddedAndGap: a metrics entry added to the job has no
// progress: a first run of its own, while the old one catches up a gap.
func TestPlanMetricAddedAndGap(t *testing.T) {
	t.Parallel()
	yaml := oneMetric + "      - {name: NetworkIn, statistics: [Sum]}\n"
	f := newPlanFixture(t, yaml, "i-1")
	plan := f.plan(m(120*time.Minute), progressOf("CPUUtilization", 4, m(10*time.Minute)))
	require.Equal(t, map[string]cloudwatch.Window{
		"aws_ec2_cpuutilization_average|i-1": {Start: m(65 * time.Minute), End: m(110 * time.Minute)},
		"aws_ec2_network_in_sum|i-1":         {Start: m(105 * time.Minute), End: m(110 * time.Minute)},
	}, windows(plan))
	require.Equal(t, 55*time.Minute, plan.skipped, "the old metric gives up [10:10, 11:05)")
	require.Equal(t, "aws_ec2_cpuutilization_average", queryName(plan.queries[0]), "the most lagging query comes first")
}

// TestPlanBaselineNeverAhead: a unit without progress of its own, whose
// series are covered from an older shard count from before an outage,
// records a baseline no later than their coverage, so a cut-short run
// still counts the gap.
func TestPlanBaselineNeverAhead(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t, replace(oneMetric, "progress_shards: 4", "progress_shards: 8"), "i-1")
	plan := f.plan(m(50*time.Minute), progressOf("CPUUtilization", 4, m(10*time.Minute)))
	require.Len(t, plan.units, 1)
	require.True(t, plan.units[0].hasBaseline)
	require.Equal(t, m(10*time.Minute), plan.units[0].baseline)
}

// TestPlanReceiverAge: behind a stock Prometheus, catch-up stops where the
// receiver would refuse the samples, and what lies beyond is counted.
func TestPlanReceiverAge(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t, replace(replace(oneMetric, "receiver: {kind: victoriametrics}", "receiver: {kind: prometheus}"), "period: 1m", "period: 5m"), "i-1")
	plan := f.plan(m(120*time.Minute), progressOf("CPUUtilization", 4, m(30*time.Minute)))
	// max_catch_up would start at 11:05, 55 minutes before T; the
	// receiver's age limit (1h less a 5m margin) allows the same.
	require.Equal(t, map[string]cloudwatch.Window{"aws_ec2_cpuutilization_average|i-1": {Start: m(65 * time.Minute), End: m(110 * time.Minute)}}, windows(plan))
	f = newPlanFixture(t, replace(replace(replace(oneMetric, "receiver: {kind: victoriametrics}", "receiver: {kind: prometheus}"), "period: 1m", "period: 5m"), "delay: 10m", "delay: 20m"), "i-1")
	plan = f.plan(m(120*time.Minute), progressOf("CPUUtilization", 4, m(30*time.Minute)))
	require.Equal(t, map[string]cloudwatch.Window{"aws_ec2_cpuutilization_average|i-1": {Start: m(65 * time.Minute), End: m(100 * time.Minute)}}, windows(plan),
		"with a 20m delay, max_catch_up alone would start at 10:55, 65 minutes before T: refused by the receiver")
	require.Equal(t, 35*time.Minute, plan.skipped)
}

// TestPlanFreshSeries: a fresh series (new to its unit, nothing of it
// stored) is fetched from the catch-up limit, not from its unit's progress.
func TestPlanFreshSeries(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t, oneMetric, "i-1", "i-new")
	f.listing[1].fresh = true
	plan := f.plan(m(60*time.Minute), progressOf("CPUUtilization", 4, m(45*time.Minute)))
	require.Equal(t, map[string]cloudwatch.Window{
		"aws_ec2_cpuutilization_average|i-1":   {Start: m(45 * time.Minute), End: m(50 * time.Minute)},
		"aws_ec2_cpuutilization_average|i-new": {Start: m(5 * time.Minute), End: m(50 * time.Minute)},
	}, windows(plan))
	require.Zero(t, plan.skipped, "nothing is known to be lost of a new series")
}

// TestPlanDropsCollisions: series a receiver would refuse or merge are
// dropped, on every run, before anything is fetched; the rest goes on.
func TestPlanDropsCollisions(t *testing.T) {
	t.Parallel()
	t.Run("two metric names, one series", func(t *testing.T) {
		t.Parallel()
		// -verify-config refuses this config; a config built in code, or
		// a name that only discovery shows, reaches the planner.
		yaml := replace(oneMetric, "{name: CPUUtilization, statistics: [Average]}", "{name: requestCount, statistics: [Sum]}\n      - {name: requestCountX, statistics: [Sum]}\n      - {name: Latency, statistics: [Average]}")
		f := newPlanFixture(t, yaml, "i-1", "i-2")
		f.job.Metrics[1].Name = "request_count"
		for i := range f.listing {
			if f.listing[i].cfg == 1 {
				m := cloudwatch.NewMetric("AWS/EC2", "request_count", f.listing[i].metric.Dimensions)
				f.listing[i].metric = &m
			}
		}
		plan := f.plan(m(20*time.Minute), nil)
		require.Len(t, plan.dropped, 4, "both metrics of each instance")
		for _, d := range plan.dropped {
			require.Contains(t, d.why, "maps to the same series as AWS/EC2 request")
		}
		require.Len(t, plan.queries, 2, "Latency of both instances still goes")
		// Not due does not mean not checked: the next runs drop them too.
		plan = f.plan(m(20*time.Minute), progressOf("requestCount", 4, m(10*time.Minute)))
		require.Len(t, plan.dropped, 4)
	})
	t.Run("two dimensions, one label", func(t *testing.T) {
		t.Parallel()
		f := newPlanFixture(t, oneMetric)
		m1 := cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", []cloudwatch.Dimension{{Name: "Instance-Id", Value: "a"}, {Name: "Instance_Id", Value: "b"}})
		m2 := cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", []cloudwatch.Dimension{{Name: "Instance-Id", Value: "x"}})
		m3 := cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", []cloudwatch.Dimension{{Name: "Instance_Id", Value: "x"}})
		m4 := cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", []cloudwatch.Dimension{{Name: "InstanceId", Value: "ok"}})
		f.listing = []listed{{metric: &m1}, {metric: &m2}, {metric: &m3}, {metric: &m4}}
		plan := f.plan(m(20*time.Minute), nil)
		require.Len(t, plan.dropped, 3)
		require.Contains(t, plan.dropped[0].why, `duplicate label name "dimension_Instance_Id"`)
		require.Contains(t, plan.dropped[1].labels, `dimension_Instance_Id="x"`)
		require.Len(t, plan.queries, 1)
		require.Equal(t, "ok", plan.queries[0].Metric.Dimensions[0].Value)
	})
}

func replace(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic(fmt.Sprintf("replace: %q not found", old))
	}
	return strings.ReplaceAll(s, old, new)
}

// TestPlanLegacyProgress: the progress of the release before progress by
// data time (the scheduled time of the last run, per old shard) carries a
// job over the upgrade: the first run continues from the old run's window
// end, catching up what the upgrade's missed runs left, counts a gap beyond
// max_catch_up as given up, and records its baseline there; the newest old
// progress of a series wins across old shard counts.
func TestPlanLegacyProgress(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t, oneMetric, "i-1", "i-2")
	legacy := func(at map[int]time.Time) *targetProgress {
		p := &targetProgress{legacy: map[int]map[int]time.Time{}}
		for shards, t := range at {
			p.legacy[shards] = map[int]time.Time{}
			for s := range shards {
				p.legacy[shards][s] = t
			}
		}
		return p
	}
	// The old release's last run at 10:20 covered until 10:10; the first
	// run of the new one comes at 10:35.
	plan := f.plan(m(35*time.Minute), legacy(map[int]time.Time{16: m(20 * time.Minute)}))
	w := cloudwatch.Window{Start: m(10 * time.Minute), End: m(25 * time.Minute)}
	require.Equal(t, map[string]cloudwatch.Window{"aws_ec2_cpuutilization_average|i-1": w, "aws_ec2_cpuutilization_average|i-2": w}, windows(plan))
	require.Zero(t, plan.skipped)
	for _, u := range plan.units {
		require.True(t, u.hasBaseline)
		require.Equal(t, m(10*time.Minute), u.baseline, "a cut-short run still continues from the old coverage")
	}
	// Under two old shard counts the newer progress wins.
	plan = f.plan(m(35*time.Minute), legacy(map[int]time.Time{16: m(20 * time.Minute), 8: m(5 * time.Minute)}))
	require.Equal(t, w, windows(plan)["aws_ec2_cpuutilization_average|i-1"])
	// An old run long before: the newest max_catch_up is fetched, the rest
	// counted as given up.
	plan = f.plan(m(35*time.Minute), legacy(map[int]time.Time{16: m(-60 * time.Minute)}))
	require.Equal(t, cloudwatch.Window{Start: m(-20 * time.Minute), End: m(25 * time.Minute)}, windows(plan)["aws_ec2_cpuutilization_average|i-1"])
	require.Equal(t, 50*time.Minute, plan.skipped)
	// Progress of the new release wins over the old.
	p := progressOf("CPUUtilization", 4, m(20*time.Minute))
	p.legacy = legacy(map[int]time.Time{16: m(20 * time.Minute)}).legacy
	plan = f.plan(m(35*time.Minute), p)
	require.Equal(t, cloudwatch.Window{Start: m(20 * time.Minute), End: m(25 * time.Minute)}, windows(plan)["aws_ec2_cpuutilization_average|i-1"])
}

// TestPlanChangedSeriesSet: a due unit whose listed series set is not the
// one stored with its progress (a cold process listing a resource that
// appeared while another process ran from its cached listing) names its
// series planned from progress for the store check; a unit whose set is as
// stored names none, and costs no query. A series the check finds new is
// then fetched from the catch-up limit, the others from progress.
func TestPlanChangedSeriesSet(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t, replace(oneMetric, "progress_shards: 4", "progress_shards: 1"), "i-1", "i-new")
	key := unitKey{metric: "CPUUtilization", shards: 1, shard: 0}
	digestOf := func(ls ...listed) uint64 {
		var d uint64
		for _, l := range ls {
			d += metricDigest(l.metric)
		}
		return d & (1<<digestBits - 1)
	}
	gone := cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", []cloudwatch.Dimension{{Name: "InstanceId", Value: "i-gone"}})
	at := m(60 * time.Minute)
	tests := []struct {
		name   string
		stored *uint64 // nil: progress without a digest (written before digests)
		want   []int
	}{
		{"a series appeared", ptr(digestOf(f.listing[0])), []int{0, 1}},
		{"a series went", ptr(digestOf(f.listing[0], f.listing[1], listed{metric: &gone})), []int{0, 1}},
		{"as stored", ptr(digestOf(f.listing[1], f.listing[0])), nil},
		{"no digest stored", nil, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := progressOf("CPUUtilization", 1, m(45*time.Minute))
			if tt.stored != nil {
				p.setDigest(key, *tt.stored)
			}
			plan := f.plan(at, p)
			require.Equal(t, tt.want, plan.check)
			require.Len(t, plan.units, 1)
			require.Equal(t, digestOf(f.listing...), plan.units[0].digest&(1<<digestBits-1), "the listing's digest goes with the progress")
		})
	}
	require.Empty(t, f.plan(at, nil).check, "a first run has no progress to doubt")

	// The store has samples of i-1 only: i-new is fresh.
	f.listing[1].fresh = true
	p := progressOf("CPUUtilization", 1, m(45*time.Minute))
	p.setDigest(key, digestOf(f.listing[0]))
	plan := f.plan(at, p)
	require.Equal(t, map[string]cloudwatch.Window{
		"aws_ec2_cpuutilization_average|i-1":   {Start: m(45 * time.Minute), End: m(50 * time.Minute)},
		"aws_ec2_cpuutilization_average|i-new": {Start: m(5 * time.Minute), End: m(50 * time.Minute)},
	}, windows(plan))
	require.Equal(t, []int{0}, plan.check, "a fresh series is not checked again")
	require.Zero(t, plan.skipped)
}

func ptr[T any](v T) *T { return &v }
