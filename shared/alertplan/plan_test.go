package alertplan_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/alertplan"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/detector"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// planRules has one rule of each kind, each over its own metric so that
// each reads only its own series.
const planRules = `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: plan
    rules:
      - alert: Threshold
        expr: plan_thr > 1000
      - alert: Window
        expr: plan_window
        anomaly: {method: window, baseline: 3h, min_history: 1h}
      - alert: Robust
        expr: plan_robust
        anomaly: {method: robust, baseline: 3h, min_history: 1h}
      - alert: Seasonal
        expr: plan_seasonal
        anomaly: {method: seasonal, seasons: 1}
      - alert: Auto
        expr: plan_auto
        anomaly: {method: auto}
`

// TestModelMatchesMeasured is the honest check of the model: each rule is
// evaluated the way the engine evaluates it (alerting.Evaluate at the
// schedule's interval) against a real Prometheus holding all the history
// the rule reaches, and the samples Prometheus reports it read (stats=all)
// are compared with what the plan predicts from the store's series and
// resolution. The plan's series and resolution are also those the store
// has.
func TestModelMatchesMeasured(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	file, err := rules.Load([]byte(planRules))
	require.NoError(t, err)

	// A fixed minute of the hour: the hour of runs below sees the turn of
	// the hour's writes once whatever the clock says (with at at minute 29,
	// the turn fell to the cold start, which is not counted, and the window
	// rule measured 0 samples written an hour against 100 modelled).
	at := time.Now().UTC().Truncate(time.Hour).Add(-45 * time.Minute)
	type metric struct {
		name    string
		series  int
		history time.Duration
		step    time.Duration
	}
	metrics := []metric{
		{"plan_thr", 7, 2 * time.Hour, time.Minute},
		{"plan_window", 5, 6 * time.Hour, time.Minute},
		{"plan_robust", 4, 6 * time.Hour, 5 * time.Minute},
		{"plan_seasonal", 3, 8 * 24 * time.Hour, 5 * time.Minute},
		{"plan_auto", 2, 36 * 24 * time.Hour, 5 * time.Minute},
	}
	// Every metric ascending in one pass, in chunks a stock Prometheus
	// takes behind its newest sample.
	oldest := at.Add(-36 * 24 * time.Hour)
	for start := oldest; !start.After(at); start = start.Add(45 * time.Minute) {
		var batch []remotewrite.Series
		for _, m := range metrics {
			for i := range m.series {
				s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: m.name}, {Name: "i", Value: fmt.Sprint(i)}}}
				for ts := start; ts.Before(start.Add(45*time.Minute)) && !ts.After(at); ts = ts.Add(time.Minute) {
					if ts.Before(at.Add(-m.history)) || ts.Sub(oldest)%m.step != 0 {
						continue
					}
					s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: 10 + float64((ts.Unix()/60+int64(i))%11)})
				}
				if len(s.Samples) > 0 {
					batch = append(batch, s)
				}
			}
		}
		if len(batch) > 0 {
			require.NoError(t, w.Write(ctx, batch))
		}
	}

	plan, err := alertplan.Make(ctx, file, alertplan.Options{Query: q, At: at})
	require.NoError(t, err)
	require.Len(t, plan.Rules, len(metrics))
	var out bytes.Buffer
	require.NoError(t, plan.Print(&out))
	t.Log("\n" + out.String())
	for i, r := range file.Rules() {
		m, rp := metrics[i], plan.Rules[i]
		require.Equal(t, r.Alert, rp.Alert)
		require.Equal(t, "store", rp.From)
		require.Equal(t, alertplan.Shape{Series: m.series, Resolution: m.step}, rp.Shape, "%s: the store's series and resolution", r.Alert)

		var cost promql.Cost
		ev, err := alerting.Evaluate(promql.WithCost(ctx, &cost), q, r, at, plan.Interval)
		require.NoError(t, err)
		require.Len(t, ev.Series, map[bool]int{true: 0, false: m.series}[r.Anomaly == nil], "%s: every series evaluated", r.Alert)
		got := cost.Snapshot()
		require.False(t, got.Estimated())
		// Without a store of detector states, an auto rule is the full
		// replay its first runs read (Cold); its warm runs are checked on
		// the engine, with the states in Prometheus
		// (alertengine.TestAutoIncrementalCost).
		want := rp.Run
		switch {
		case r.Anomaly != nil && (r.Anomaly.Method == anomaly.MethodWindow || r.Anomaly.Method == anomaly.MethodSeasonal || r.Anomaly.Method == anomaly.MethodRobust):
			// Without the store of hour summaries (robust: checkpoints):
			// the full path, the naive figure (the warm runs are measured
			// below; robust's in alerting's BenchmarkRobust10k).
			want = rp.Naive
		case rp.ColdRuns > 0:
			want = rp.Cold
			require.Equal(t, 1, rp.ColdRuns, "%s: two series start cold in one run", r.Alert)
		}
		t.Logf("%-9s measured %d queries, %d samples; model %d queries, %.0f samples", r.Alert, got.Queries, got.Samples, want.Queries, want.Samples)
		require.Equal(t, int64(want.Queries), got.Queries, "%s: queries per run", r.Alert)
		require.InEpsilon(t, float64(got.Samples), want.Samples, 0.01, "%s: samples per run within 1%% of the measured", r.Alert)

		// At the data's cadence: an anomaly rule is evaluated at the runs
		// where its data has a new point; the others read its probe.
		if r.Anomaly == nil {
			require.InDelta(t, 1, rp.Evaluated, 0, "%s: evaluated at every run", r.Alert)
			continue
		}
		require.InDelta(t, math.Min(1, float64(plan.Interval)/float64(m.step)), rp.Evaluated, 1e-12, "%s: share of runs evaluated", r.Alert)
		e := alerting.Evaluator{Query: q, Step: plan.Interval}
		_, mark, skipped, err := e.EvaluateAtCadence(ctx, r, at, 0)
		require.NoError(t, err)
		require.False(t, skipped)
		require.NotZero(t, mark, "%s: a data mark for the next run", r.Alert)
		var skip promql.Cost
		_, _, skipped, err = e.EvaluateAtCadence(promql.WithCost(ctx, &skip), r, at, mark)
		require.NoError(t, err)
		require.True(t, skipped, "%s: the data did not change", r.Alert)
		gotSkip := skip.Snapshot()
		t.Logf("%-9s skipped: measured %d queries, %d samples; model %d queries, %.0f samples", r.Alert, gotSkip.Queries, gotSkip.Samples, rp.Skipped.Queries, rp.Skipped.Samples)
		require.Equal(t, int64(rp.Skipped.Queries), gotSkip.Queries, "%s: queries of a skipped run", r.Alert)
		require.InEpsilon(t, float64(gotSkip.Samples), rp.Skipped.Samples, 0.01, "%s: samples of a skipped run within 1%% of the measured", r.Alert)
	}
	require.Contains(t, out.String(), "samples/run")

	// The window and seasonal rules as the engine evaluates them, from the
	// hour summaries they keep in the store: an hour of one-minute runs,
	// each a new Evaluator, the first a cold start. The warm runs' mean
	// is the model's (Warm, a mean over an hour of runs) within 5%, and
	// what they write per hour its StateWrites.
	for i, r := range file.Rules() {
		if r.Anomaly == nil || (r.Anomaly.Method != anomaly.MethodWindow && r.Anomaly.Method != anomaly.MethodSeasonal) {
			continue
		}
		rp := plan.Rules[i]
		var samples, queries, written int64
		runs := 0
		for j := range 60 {
			run := at.Add(time.Duration(j-59) * time.Minute)
			st := alerting.NewStore(q, "plan")
			e := &alerting.Evaluator{Query: q, Store: st, Step: plan.Interval, Scheduled: run}
			var cost promql.Cost
			ev, err := e.Evaluate(promql.WithCost(ctx, &cost), r, run)
			require.NoError(t, err)
			if ev.Persist != nil {
				records := st.DetectorSeries(run, alerting.RefOf(r), *ev.Persist)
				require.NoError(t, w.Write(ctx, records))
				if j > 0 {
					for _, rs := range records {
						written += int64(len(rs.Samples))
					}
				}
			}
			if j == 0 {
				continue // the cold start
			}
			require.Zero(t, ev.Progress.Full, "%s at %s: warm", r.Alert, run)
			got := cost.Snapshot()
			samples += got.Samples
			queries = max(queries, got.Queries)
			runs++
		}
		mean := float64(samples) / float64(runs)
		t.Logf("%-9s warm runs: %.0f samples a run measured, %.0f modelled; %d queries at most, %d modelled; %d state samples written over %d runs, %.0f modelled an hour",
			r.Alert, mean, rp.Run.Samples, queries, rp.Run.Queries, written, runs, alertplan.Model{Rule: r, Interval: plan.Interval, Shape: rp.Shape}.StateWrites())
		require.InEpsilon(t, rp.Run.Samples, mean, 0.05, "%s: warm samples per run", r.Alert)
		if r.Anomaly.Method == anomaly.MethodWindow {
			require.Less(t, rp.Run.Samples, rp.Naive.Samples)
			require.InDelta(t, float64(written), alertplan.Model{Rule: r, Interval: plan.Interval, Shape: rp.Shape}.StateWrites(), float64(rp.Shape.Series*alerting.HourRecordSamples),
				"%s: an hour's summaries written per hour", r.Alert)
		}
	}
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, notify.Message) error { return nil }

// TestOwnSamplesMeasured: what a run reads of its own bookkeeping (last
// runs, lease, outbox) grows by what the plan says per earlier run stored,
// measured as the run's samples less its rule's on a real Prometheus.
func TestOwnSamplesMeasured(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	file, err := rules.Load([]byte("settings: {interval: 1m, evaluation_delay: 0s}\ngroups:\n  - name: g\n    rules:\n      - alert: Quiet\n        expr: vector(1) > 2\n"))
	require.NoError(t, err)
	eng, err := alertengine.New(alertengine.Options{Rules: file, Query: q, Write: w, Publish: nopPublisher{}, Deployment: "own"})
	require.NoError(t, err)
	at := time.Now().UTC().Truncate(time.Minute).Add(-40 * time.Minute)
	var own []int64
	for i := range 21 {
		sum, err := eng.Tick(ctx, at.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
		require.False(t, sum.QuerySamplesEstimated)
		own = append(own, sum.QuerySamples) // the rule reads no stored series
	}
	perRun := float64(own[20]-own[0]) / 20
	plan := alertplan.Plan{Interval: time.Minute}
	t.Logf("own samples: first run %d, 21st %d: %.1f per earlier run; the plan says %.0f a run at a day of runs", own[0], own[20], perRun, plan.OwnSamplesPerRun())
	// The 20 earlier runs are within the lease's recent part.
	require.InDelta(t, float64(alertplan.OwnSamplesPerRecentRun), perRun, 2, "samples per earlier run")
}

// TestWarmModelScales: an auto rule's warm figures follow the evaluator's
// sizes (alerting.SizeAuto): a prepared checkpoint and an hour summary per
// series-hour while the hour's preparations fit the run that turns the
// hour, and an unprepared checkpoint more for the series beyond its history
// budget; the read grows with the checkpoints written, and the first runs
// spread the full replay over runs of the budget.
func TestWarmModelScales(t *testing.T) {
	t.Parallel()
	file, err := rules.Load([]byte(planRules))
	require.NoError(t, err)
	auto := file.Rules()[4]
	require.Equal(t, "Auto", auto.Alert)
	sz := alerting.SizeAuto(detector.FromParams(auto.Anomaly.Detector()), time.Minute)
	hoursRead := float64(sz.HoursWindow/time.Hour) * float64(sz.Hour)
	fit := int(float64(sz.HistoryBudget) / hoursRead)
	require.Greater(t, fit, 1)
	for _, tc := range []struct {
		name    string
		series  int
		perHour float64
	}{
		{"one series", 1, float64(sz.Prepared + sz.Hour)},
		{"as many as one run prepares", fit, float64(sz.Prepared + sz.Hour)},
		{"ten times more", 10 * fit, float64(sz.Prepared+sz.Hour) + 0.9*float64(sz.Checkpoint)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := alertplan.Model{Rule: auto, Interval: time.Minute, Shape: alertplan.Shape{Series: tc.series, Resolution: time.Minute}}
			require.InDelta(t, tc.perHour*float64(tc.series), m.StateWrites(), 1e-6*m.StateWrites(), "state samples written per hour")
			warm, naive := m.Warm(), m.Naive()
			require.Equal(t, warm, m.Evaluated())
			require.Equal(t, 1+sz.StateQueries+1, warm.Queries, "the probe, the checkpoints', the points'")
			// The checkpoints read back: 80 minutes' worth of those written.
			checkpoints := (tc.perHour - float64(sz.Hour)) * float64(sz.StateWindow) / float64(time.Hour) * float64(tc.series)
			require.Greater(t, warm.Samples, checkpoints)
			require.Less(t, warm.Samples*20, naive.Samples, "warm runs read at least 20× less than the full replay")
			cold, runs := m.Cold()
			require.Equal(t, naive, cold)
			history := float64(tc.series) * float64(sz.History/time.Minute)
			require.Equal(t, int(math.Ceil(history/float64(sz.HistoryBudget))), runs)
		})
	}
	// A window rule's warm run reads its baseline from hour summaries and
	// checkpoints: per series and hour, a record of the hour written and a
	// burst of two checkpoints (a 3h baseline: the hours moved when the
	// newest closed, and the next hour's, prepared from the hour that
	// closed; the oldest leaving finds that one), and, over seven days of
	// one-minute points, at least 20× less than the naive run.
	window := alertplan.Model{Rule: file.Rules()[1], Interval: time.Minute, Shape: alertplan.Shape{Series: 5, Resolution: time.Minute}}
	require.Equal(t, window.Warm(), window.Evaluated())
	require.Less(t, window.Warm().Samples, window.Naive().Samples)
	require.InDelta(t, float64(5*(alerting.HourRecordSamples+1+2*alerting.CheckpointWidth)), window.StateWrites(), 0)
	_, runs := window.Cold()
	require.Equal(t, 1, runs, "five series' three hours summarised in one run")
	week := window
	a := *week.Rule.Anomaly
	a.Baseline = config.Duration(7 * 24 * time.Hour)
	week.Rule.Anomaly = &a
	require.Less(t, week.Warm().Samples*20, week.Naive().Samples, "seven days of one-minute points: at least 20× less")
	// Robust rules read checkpoints, and each series' window once an hour.
	robust := alertplan.Model{Rule: file.Rules()[2], Interval: time.Minute, Shape: alertplan.Shape{Series: 5, Resolution: time.Minute}}
	require.Equal(t, robust.Warm(), robust.Evaluated())
	require.Less(t, robust.Warm().Samples, robust.Naive().Samples)
	require.InDelta(t, float64(5*(alerting.RobustWidth+1)), robust.StateWrites(), 0)
	_, runs = robust.Cold()
	require.Equal(t, 1, runs)
	robust.Shape = alertplan.Shape{Series: 10_000, Resolution: 5 * time.Minute}
	a = *robust.Rule.Anomaly
	a.Baseline = config.Duration(7 * 24 * time.Hour)
	robust.Rule.Anomaly = &a
	_, runs = robust.Cold()
	require.Equal(t, 11, runs, "20.16M points at 2M a run")
	// Each series' window is still read once an hour (12 evaluated runs
	// over 5-minute data), against every evaluated run by the full path
	// (with its history check): 17× less, 32× against the former
	// quantile_over_time path's three reads of the window.
	require.Less(t, robust.Warm().Samples*15, robust.Naive().Samples, "seven days of 5-minute points: at least 15× less")
}
