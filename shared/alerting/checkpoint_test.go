package alerting_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// TestWindowCheckpoints: a warm window rule reads a checkpoint of its
// baseline's whole hours per series, not the 168 hour summaries of seven
// days. Two deployments evaluate the same rule at every minute of two and
// a half hours (both hour turns, twice: the newest hour closing at :30,
// the oldest leaving at :00), each run a new process: one keeps its
// checkpoints, the other's are never written (its runs read the hour
// summaries, the path before checkpoints). Both score every series as
// the full path does, to 1e-9, also after a run whose write the store
// refused (its new checkpoint and the next hour's are lost) and after a
// change of the baseline's length (the checkpoints no longer start at
// its first hour: the hour summaries serve it, and new checkpoints are
// written). A run that starts every series from a checkpoint and reads
// no hour summary to prepare the next reads at least 2 times fewer
// samples than the hour summaries' path (the edges' and current value's
// reads are the same: the difference is the summaries not read); before
// checkpoints, both paths read the same and this failed.
func TestWindowCheckpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, q := clients(t)
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-7*24*time.Hour - 4*time.Hour)
	lb := func(host string) map[string]string { return lbl("__name__", "ckpt", "host", host) }
	f := feed{w: w, series: []stored{
		{lb("a"), noisy(61, start, end, time.Minute, 100, 3, nil)},
		{lb("b"), noisy(62, start, end, time.Minute, 1e6, 3, nil)},
		{lb("c"), noisy(63, start, end, time.Minute, 20, 1, nil)},
	}}
	a := shippedLike()
	a.Method, a.Baseline, a.MinHistory = anomaly.MethodWindow, config.Duration(7*24*time.Hour), config.Duration(24*time.Hour)
	rule := anomalyRule("ckpt", a)
	changeAt := end.Add(-25 * time.Minute)

	run := func(deployment string, at time.Time) (alerting.Evaluation, []remotewrite.Series, int64) {
		st := alerting.NewStore(q, deployment)
		e := &alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at}
		var cost promql.Cost
		ev, err := e.Evaluate(promql.WithCost(ctx, &cost), rule, at)
		require.NoError(t, err, "%s at %s", deployment, at)
		var records []remotewrite.Series
		if ev.Persist != nil {
			records = st.DetectorSeries(at, alerting.RefOf(rule), *ev.Persist)
		}
		return ev, records, cost.Snapshot().Samples
	}
	var (
		refused        time.Time
		ratios         []float64
		saved          []int64
		fromCheckpoint int
		changed        bool
	)
	for at := end.Add(-150 * time.Minute).Add(20 * time.Second); !at.After(end); at = at.Add(time.Minute) {
		if !changed && at.After(changeAt) {
			b := *rule.Anomaly
			b.Baseline -= config.Duration(3 * time.Hour)
			rule.Anomaly, changed = &b, true
		}
		f.upTo(t, at)
		want, err := alerting.Evaluate(ctx, q, rule, at, time.Minute)
		require.NoError(t, err)
		ev, records, samples := run("with", at)
		sameScores(t, want.Series, ev.Series, "with checkpoints at %s", at)
		hours, hourRecords, hourSamples := run("without", at)
		sameScores(t, want.Series, hours.Series, "without at %s", at)
		require.Zero(t, hours.Progress.Checkpoints, "at %s: no checkpoint written, none read", at)

		require.Zero(t, ev.Progress.Full, "at %s: warm after the first run", at)
		if ev.Progress.Checkpoints == len(ev.Series) {
			fromCheckpoint++
			if ev.Progress.Prepared == 0 && ev.Progress.Summarized == 0 {
				ratios = append(ratios, float64(hourSamples)/float64(samples))
				saved = append(saved, hourSamples-samples)
			}
		}
		// The store refuses the write of the run after the oldest hour
		// left (at 10:00), which wrote new checkpoints.
		if refused.IsZero() && at.After(end.Add(-2*time.Hour)) && len(records) > 0 {
			refused = at
			continue
		}
		for _, rs := range [][]remotewrite.Series{records, filterMetric(hourRecords, alerting.DetectorHoursMetric)} {
			if len(rs) > 0 {
				require.NoError(t, w.Write(ctx, rs), "at %s", at)
			}
		}
	}
	require.False(t, refused.IsZero(), "a write refused")
	require.Greater(t, fromCheckpoint, 100, "runs from checkpoints")
	require.NotEmpty(t, ratios)
	slices.Sort(ratios)
	require.GreaterOrEqual(t, ratios[0], 2.0, "a run from checkpoints reads at least 2× fewer samples than from hour summaries")
	// What it does not read: the numbers of the summaries of (at least)
	// the 160 whole hours of the shorter baseline, less its checkpoints.
	slices.Sort(saved)
	require.Greater(t, saved[0], int64(3*160*alerting.HourMomentsWidth*9/10), "the hour summaries are not read")
	t.Logf("%d runs from checkpoints; those preparing nothing read %.1f–%.1f× fewer samples than from hour summaries (%d–%d fewer)", fromCheckpoint, ratios[0], ratios[len(ratios)-1], saved[0], saved[len(saved)-1])
}

// filterMetric keeps the series of metric.
func filterMetric(series []remotewrite.Series, metric string) []remotewrite.Series {
	var out []remotewrite.Series
	for _, s := range series {
		for _, l := range s.Labels {
			if l.Name == "__name__" && l.Value == metric {
				out = append(out, s)
			}
		}
	}
	return out
}
