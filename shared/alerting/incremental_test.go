package alerting_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	sdetector "github.com/sigmawatch/sigmawatch/shared/detector"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// incrementalRun evaluates rule incrementally at at (the run's scheduled
// time, no evaluation delay) with a new Store and Evaluator — what a new
// process does: nothing is carried between runs but the store.
func incrementalRun(t *testing.T, q *promql.Client, rule rules.Rule, at time.Time, budget int) (alerting.Evaluation, []remotewrite.Series) {
	t.Helper()
	st := alerting.NewStore(q, "inc")
	e := &alerting.Evaluator{Query: q, Store: st, Step: time.Minute, Scheduled: at, HistoryBudget: budget}
	ev, err := e.Evaluate(context.Background(), rule, at)
	require.NoError(t, err, "at %s", at)
	require.NotNil(t, ev.Persist, "at %s", at)
	return ev, st.DetectorSeries(at, alerting.RefOf(rule), *ev.Persist)
}

// feed writes series into Prometheus as collect does, up to a time at
// each call, so that the runs' records (stamped at their scheduled time)
// are never older than what the store's head already holds.
type feed struct {
	w      *remotewrite.Client
	series []stored
	done   time.Time
}

// upTo writes the points after the last call's time up to at, in slices
// of six hours.
func (f *feed) upTo(t *testing.T, at time.Time) {
	t.Helper()
	for f.done.Before(at) {
		to := at
		if !f.done.IsZero() {
			to = minTime(at, f.done.Add(6*time.Hour))
		}
		var slice []stored
		for _, s := range f.series {
			var pts []backtest.Point
			for _, p := range s.points {
				if (f.done.IsZero() || p.Time.After(f.done)) && !p.Time.After(to) {
					pts = append(pts, p)
				}
			}
			slice = append(slice, stored{labels: s.labels, points: pts})
		}
		if f.done.IsZero() {
			store(t, f.w, slice)
		} else {
			writeOnce(t, f.w, slice)
		}
		f.done = to
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// writeOnce writes ss in one request.
func writeOnce(t *testing.T, w *remotewrite.Client, ss []stored) {
	t.Helper()
	var batch []remotewrite.Series
	for _, s := range ss {
		if len(s.points) == 0 {
			continue
		}
		rs := remotewrite.Series{}
		for _, k := range slices.Sorted(maps.Keys(s.labels)) {
			rs.Labels = append(rs.Labels, remotewrite.Label{Name: k, Value: s.labels[k]})
		}
		for _, p := range s.points {
			rs.Samples = append(rs.Samples, remotewrite.Sample{T: p.Time.UnixMilli(), V: p.Value})
		}
		batch = append(batch, rs)
	}
	if len(batch) > 0 {
		require.NoError(t, w.Write(context.Background(), batch))
	}
}

// sameObserved requires the incremental evaluation's series to be the full
// replay's, to the bit.
func sameObserved(t *testing.T, want, got []alerting.Observed, format string, args ...any) {
	t.Helper()
	where := fmt.Sprintf(format, args...)
	require.Len(t, got, len(want), where)
	for i := range want {
		w, g := want[i], got[i]
		if math.IsNaN(w.Result.Value) && math.IsNaN(g.Result.Value) {
			w.Result.Value, g.Result.Value = 0, 0
		}
		require.Equal(t, w, g, "%s: %v", where, w.Labels)
	}
}

// TestIncrementalEqualsFullReplay is item 1 of issue 14: an auto rule
// evaluated from the detector state persisted in a real Prometheus (and
// the points stored since) decides at every tick what the full replay of
// the series' history decides, to the bit: from a cold start (no state),
// across hours turned on a prepared state, across an hour and a half of
// missed ticks (the state restored from its hour summaries), in a new
// process at every tick (nothing is carried but the store), and on a late
// retry of a tick after the next one ran (the same decisions and the same
// records, which the store takes as the duplicates they are). On 1-minute
// data read raw and on an aggregation of 5-minute series (the subquery).
func TestIncrementalEqualsFullReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-40 * time.Hour)
	burst := func(from, to time.Time, amount float64) func(time.Time, float64) float64 {
		return func(ts time.Time, v float64) float64 {
			if !ts.Before(from) && ts.Before(to) {
				return v + amount
			}
			return v
		}
	}
	early := burst(end.Add(-260*time.Minute), end.Add(-240*time.Minute), 60)
	late := burst(end.Add(-50*time.Minute), end.Add(-30*time.Minute), 80)
	both := func(ts time.Time, v float64) float64 { return late(ts, early(ts, v)) }
	lb := func(name string, kv ...string) map[string]string {
		return lbl(append([]string{"__name__", name}, kv...)...)
	}
	data := []stored{
		{lb("inc_one", "host", "a"), noisy(11, start, end, time.Minute, 100, 3, both)},
		{lb("inc_one", "host", "b"), noisy(12, start, end, time.Minute, 100, 3, nil)},
		{lb("inc_one", "host", "c"), noisy(13, start.Add(10*time.Hour), end, time.Minute, 50, 2, late)},
		{lb("inc_five", "svc", "x", "part", "1"), noisy(14, start, end, 5*time.Minute, 30, 2, both)},
		{lb("inc_five", "svc", "x", "part", "2"), noisy(15, start, end, 5*time.Minute, 30, 2, nil)},
		{lb("inc_five", "svc", "y", "part", "1"), noisy(16, start, end, 5*time.Minute, 30, 2, nil)},
	}
	missedFrom, missedTo := end.Add(-190*time.Minute), end.Add(-100*time.Minute)
	for _, tc := range []struct {
		name, expr        string
		phase, resolution time.Duration
		data              []stored
	}{
		{"1-minute data", "inc_one", 40 * time.Second, time.Minute, data[:3]},
		// The subquery yields a point only where the data has one.
		{"aggregated 5-minute data", "sum by (svc) (inc_five)", 2*time.Minute + 10*time.Second, 5 * time.Minute, data[3:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A Prometheus each: the store's head takes no sample older
			// than an hour before its newest.
			w, q := clients(t)
			f := feed{w: w, series: tc.data}
			rule := anomalyRule(tc.expr, shippedLike())
			var prev struct {
				at      time.Time
				ev      alerting.Evaluation
				records []remotewrite.Series
			}
			var progress alerting.Progress
			compared, holds, ticks := 0, 0, 0
			// The checkpoints' widths are what the plan's cost model
			// sizes them at (alerting.SizeAuto), for the series' own
			// resolution: unprepared, or prepared with up to PeakRank
			// peaks.
			c := sdetector.FromParams(rule.Anomaly.Detector())
			sz := alerting.SizeAuto(c, tc.resolution)
			widths := map[string]int{}
			for at := end.Add(-5 * time.Hour).Add(tc.phase); !at.After(end); at = at.Add(time.Minute) {
				if !at.Before(missedFrom) && at.Before(missedTo) {
					continue // missed ticks
				}
				f.upTo(t, at)
				ticks++
				full, err := alerting.Evaluate(ctx, q, rule, at, time.Minute)
				require.NoError(t, err)
				ev, records := incrementalRun(t, q, rule, at, 0)
				if ticks == 1 {
					require.Equal(t, len(full.Series), ev.Progress.Cold, "the first run starts every series cold")
				} else {
					// After the missed ticks too: checkpoints older than
					// the window every run reads are looked up further back.
					require.Zero(t, ev.Progress.Cold, "at %s", at)
				}
				require.Zero(t, ev.Progress.Behind, "at %s", at)
				sameObserved(t, full.Series, ev.Series, "at %s", at)
				for _, o := range ev.Series {
					compared++
					if o.Auto != nil && o.Auto.Holds {
						holds++
					}
				}
				p := ev.Progress
				progress.Current += p.Current
				progress.Restored += p.Restored
				progress.Prepared += p.Prepared
				for _, r := range ev.Persist.States {
					width := len(r.Values) + 1
					switch {
					case width == sz.Checkpoint:
						widths["unprepared"]++
					case width <= sz.Prepared && width >= sz.Prepared-c.PeakRank:
						widths["prepared"]++
					default:
						t.Fatalf("at %s: a checkpoint of %d samples; SizeAuto says %d, or %d–%d prepared", at, width, sz.Checkpoint, sz.Prepared-c.PeakRank, sz.Prepared)
					}
				}
				require.NoError(t, w.Write(ctx, records), "at %s", at)

				if !prev.at.IsZero() && ticks%23 == 0 {
					// A late retry of the previous tick, after this one
					// persisted: what it decided and what it would write.
					again, againRecords := incrementalRun(t, q, rule, prev.at, 0)
					sameObserved(t, prev.ev.Series, again.Series, "retry of %s", prev.at)
					require.Equal(t, prev.records, againRecords, "retry of %s", prev.at)
				}
				prev.at, prev.ev, prev.records = at, ev, records
			}
			require.Positive(t, holds, "the bursts page")
			require.Greater(t, compared, ticks)
			require.Positive(t, progress.Current)
			require.Positive(t, progress.Restored, "the missed ticks turn hours the states were not prepared for")
			require.Positive(t, progress.Prepared)
			require.Positive(t, widths["prepared"], "checkpoints sized as SizeAuto says: %v", widths)
			t.Logf("%d ticks, %d series compared, %d holding; progress %+v; checkpoints %v (SizeAuto: %d, prepared ≤ %d)", ticks, compared, holds, progress, widths, sz.Checkpoint, sz.Prepared)
		})
	}
}

// A cold start is bounded by the history budget: the series beyond it wait
// for a later run as insufficient data (never paging on a partial
// history), and each decides as the full replay does once it is caught up.
func TestIncrementalColdStartWithinBudget(t *testing.T) {
	t.Parallel()
	w, q := clients(t)
	ctx := context.Background()
	end := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	start := end.Add(-30 * time.Hour)
	var ss []stored
	for i := range 4 {
		// Every series is far off its baseline at the end: a decision on
		// a partial history would page.
		ss = append(ss, stored{lbl("__name__", "cold_one", "host", fmt.Sprint(i)), noisy(uint64(20+i), start, end, time.Minute, 100, 3,
			func(ts time.Time, v float64) float64 {
				if ts.After(end.Add(-40 * time.Minute)) {
					return v + 90
				}
				return v
			})})
	}
	f := feed{w: w, series: ss}
	rule := anomalyRule("cold_one", shippedLike())
	// Room for one series' 30 hours of 1-minute points a run (the first
	// read of a run takes one series whatever its estimate, five weeks).
	const budget = 2_500
	caughtUp := map[string]bool{}
	for k, at := 0, end.Add(-10*time.Minute); !at.After(end); k, at = k+1, at.Add(time.Minute) {
		f.upTo(t, at)
		full, err := alerting.Evaluate(ctx, q, rule, at, time.Minute)
		require.NoError(t, err)
		ev, records := incrementalRun(t, q, rule, at, budget)
		require.Len(t, ev.Series, len(full.Series))
		if k < len(ss) {
			require.Equal(t, 1, ev.Progress.Cold, "at %s: one cold start a run", at)
			require.Equal(t, len(ss)-1-k, ev.Progress.Behind, "at %s", at)
		}
		for i, o := range ev.Series {
			if o.Auto == nil && o.Missing && o.Result.Status == anomaly.StatusInsufficientData && !caughtUp[o.Fingerprint] {
				continue // behind
			}
			caughtUp[o.Fingerprint] = true
			require.Equal(t, full.Series[i], o, "at %s", at)
		}
		require.NoError(t, w.Write(ctx, records))
	}
	require.Len(t, caughtUp, len(ss))
}

// An Evaluator with a Store and no scheduled time is refused, with the
// field it lacks: it would read its own records, or none.
func TestEvaluatorNeedsItsScheduledTime(t *testing.T) {
	t.Parallel()
	q := &fakeQuerier{}
	e := alerting.Evaluator{Query: q, Store: alerting.NewStore(q, "x"), Step: time.Minute}
	_, err := e.Evaluate(context.Background(), anomalyRule("sw_x", shippedLike()), evalAt)
	require.ErrorContains(t, err, "Evaluator.Scheduled")
	require.Empty(t, q.asked, "before any query")
}
