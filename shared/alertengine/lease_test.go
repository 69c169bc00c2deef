package alertengine

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// leaseStores are the stores the lease must hold on: a stock Prometheus,
// single-node VictoriaMetrics (Debian's 1.79: new series searchable after
// about 10 s, new samples of a known series after about 1 s) and Cortex
// (the engine inside AMP).
var leaseStores = []struct {
	name  string
	start func(t testenv.TB) *testenv.Receiver
}{
	{"prometheus", func(t testenv.TB) *testenv.Receiver { return testenv.StartPrometheus(t, testenv.PrometheusOptions{}) }},
	{"victoriametrics", testenv.StartVictoriaMetrics},
	{"cortex", func(t testenv.TB) *testenv.Receiver { return testenv.StartCortex(t, testenv.CortexOptions{}) }},
}

// leaseQuerier counts the lease's queries and, when armed, answers the
// next one late: the query runs at once against the real store and its answer
// is held back, as a loaded store's slow answer would be.
type leaseQuerier struct {
	alerting.Querier
	reads  atomic.Int64
	points atomic.Int64 // returned by the lease's reads
	hold   atomic.Int64 // nanoseconds to hold the next lease read's answer
	held   atomic.Int64
}

func (q *leaseQuerier) lease(query string) {
	if !strings.Contains(query, alerting.LeaseMetric) {
		return
	}
	q.reads.Add(1)
	if d := q.hold.Swap(0); d > 0 {
		q.held.Add(1)
		time.Sleep(time.Duration(d))
	}
}

func (q *leaseQuerier) Query(ctx context.Context, query string, at time.Time) ([]promql.Sample, error) {
	s, err := q.Querier.Query(ctx, query, at)
	q.lease(query)
	return s, err
}

func (q *leaseQuerier) QuerySeries(ctx context.Context, query string, at time.Time) ([]promql.Series, error) {
	s, err := q.Querier.QuerySeries(ctx, query, at)
	if strings.Contains(query, alerting.LeaseMetric) {
		for _, ser := range s {
			q.points.Add(int64(len(ser.Points)))
		}
	}
	q.lease(query)
	return s, err
}

// armingWriter arms q's hold after the first lease write it passes on, once.
type armingWriter struct {
	Writer
	q    *leaseQuerier
	hold time.Duration
	once sync.Once
}

func (w *armingWriter) Write(ctx context.Context, series []remotewrite.Series) error {
	err := w.Writer.Write(ctx, series)
	if err == nil && w.hold > 0 && len(series) > 0 && series[0].Labels[0].Value == alerting.LeaseMetric {
		w.once.Do(func() { w.q.hold.Store(int64(w.hold)) })
	}
	return err
}

// countingHandler counts the log records with message msg.
type countingHandler struct {
	msg string
	n   atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

type discardPublisher struct{}

func (discardPublisher) Publish(context.Context, notify.Message) error { return nil }

// leaseEngine is an engine of deployment on r, with one threshold rule over
// a series nobody writes: its runs do little but take and give back the
// lease.
func leaseEngine(t testing.TB, r *testenv.Receiver, deployment string, hold time.Duration) (*Engine, *leaseQuerier) {
	t.Helper()
	file, err := rules.Load([]byte(`
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: g
    rules:
      - alert: Nothing
        expr: sw_lease_nothing > 1
`))
	require.NoError(t, err)
	c, err := promql.NewClient(r.URL, http.DefaultTransport)
	require.NoError(t, err)
	w, err := remotewrite.NewClient(r.RemoteWriteURL)
	require.NoError(t, err)
	q := &leaseQuerier{Querier: c}
	e, err := New(Options{Rules: file, Query: q, Write: &armingWriter{Writer: w, q: q, hold: hold}, Publish: discardPublisher{}, Deployment: deployment})
	require.NoError(t, err)
	return e, q
}

// leaseSeries counts the lease series of deployment the store holds.
func leaseSeries(t *testing.T, r *testenv.Receiver, deployment string, at time.Time) int {
	t.Helper()
	require.NoError(t, r.Flush(context.Background()))
	c, err := promql.NewClient(r.URL, http.DefaultTransport)
	require.NoError(t, err)
	s, err := c.Query(context.Background(), fmt.Sprintf(`count(last_over_time(%s{sigmawatch_deployment=%q}[2h]))`, alerting.LeaseMetric, deployment), at.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, s, 1, "the lease series")
	return int(s[0].V)
}

// TestLeaseReusesItsSeries (issue 14's alert lease on VictoriaMetrics): runs
// one minute apart must take the lease by writing new samples of the
// series the first run created, not new series: VictoriaMetrics makes a new
// series searchable only after about 10 s, and each run waited for its
// claim and its ticket to show, 20 s of a 55 s timeout. Counted, not
// timed: the store's lease series after five runs are those after the
// first, and on VictoriaMetrics a run after the first queries the lease at
// most 24 times (16-17 measured, each whole read being two queries; the
// two waits for new series took about 30 at the lease's polling).
func TestLeaseReusesItsSeries(t *testing.T) {
	t.Parallel()
	for _, store := range leaseStores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			r := store.start(t)
			e, q := leaseEngine(t, r, "reuse", 0)
			ctx := context.Background()
			at := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
			var first int
			for i := range 5 {
				before := q.reads.Load()
				sum, err := e.Tick(ctx, at.Add(time.Duration(i)*time.Minute))
				require.NoError(t, err, "run %d", i)
				reads := q.reads.Load() - before
				t.Logf("run %d: %d lease reads, waited %d ms", i, reads, sum.LeaseWaitMS)
				if i == 0 {
					first = leaseSeries(t, r, "reuse", at)
					continue
				}
				// Runs are a minute apart in production: the previous run's
				// release shows (VictoriaMetrics: within a second) before
				// the next run reads. Flushing stands in for that minute;
				// this run's own writes were not flushed.
				require.NoError(t, r.Flush(ctx))
				require.LessOrEqual(t, reads, int64(24), "run %d read the lease %d times: it waited for its own writes as long as for a new series", i, reads)
			}
			require.Equal(t, first, leaseSeries(t, r, "reuse", at), "the runs after the first wrote new lease series")
		})
	}
}

// TestLeaseSlowReadsAreNotInvisibleWrites: under load (the parallel -race
// test packages of make test) a read of the lease can take longer than the
// store takes to show a write. The limit on the store's visibility must
// count from the write's acknowledgement to the start of a read that does
// not show it, not the reads' latency: here the first read after the claim
// is answered 16 s late, although the store evaluated it at once (before
// VictoriaMetrics showed the new sample), and the run must go on.
func TestLeaseSlowReadsAreNotInvisibleWrites(t *testing.T) {
	t.Parallel()
	r := testenv.StartVictoriaMetrics(t)
	e, _ := leaseEngine(t, r, "slow", 0)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	_, err := e.Tick(ctx, at)
	require.NoError(t, err, "the first run")

	slow, q2 := leaseEngine(t, r, "slow", leaseVisibility+time.Second)
	_, err = slow.Tick(ctx, at.Add(time.Minute))
	require.NoError(t, err, "a read answered late is not a store hiding the claim")
	require.EqualValues(t, 1, q2.held.Load(), "the read after the claim was held")
}

// TestLeaseMutualExclusion: more runs than slots take the lease at once,
// twice over, so that runs share slots (they all start from the same view,
// in which slot 0 is free): on a stock Prometheus the store refuses the
// writes of all but one of them and they write again after a fresh read;
// on VictoriaMetrics both samples are kept and the readers tell the runs
// apart by their ids. Never two hold the turn at once, and every run gets
// it.
func TestLeaseMutualExclusion(t *testing.T) {
	t.Parallel()
	for _, store := range leaseStores[:2] {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			r := store.start(t)
			const runs = alerting.LeaseSlots + 2
			engines := make([]*Engine, runs)
			rewrites := &countingHandler{msg: "lease: another run wrote the slot; writing again after it"}
			for i := range engines {
				engines[i], _ = leaseEngine(t, r, "mutex", 0)
				engines[i].log = slog.New(rewrites)
			}
			at := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
			var holders, most, turns atomic.Int64
			for round := range 2 {
				var wg sync.WaitGroup
				errs := make([]error, runs)
				for i, e := range engines {
					wg.Go(func() {
						ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
						defer cancel()
						// A duplicate delivery, a retry of the time before, the next run.
						l, err := e.acquire(ctx, at.Add(time.Duration(round*2+i%3-1)*time.Minute))
						if err != nil {
							errs[i] = err
							return
						}
						n := holders.Add(1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						turns.Add(1)
						time.Sleep(100 * time.Millisecond)
						holders.Add(-1)
						l.release(ctx)
					})
				}
				wg.Wait()
				for i, err := range errs {
					require.NoError(t, err, "round %d, run %d", round, i)
				}
			}
			t.Logf("%d turns; %d lease writes refused or dropped by the store and made again", turns.Load(), rewrites.n.Load())
			require.EqualValues(t, 2*runs, turns.Load(), "every run had its turn")
			require.EqualValues(t, 1, most.Load(), "two runs held the turn at once")
		})
	}
}

// BenchmarkLeaseAcquire: taking and giving back the lease, one run at a
// time, per store, once the deployment's lease series exist (the first
// run of a deployment creates them, and on VictoriaMetrics waits about
// 10 s twice for them to show) and hold a day of runs at the 1-minute
// schedule (what every read of the whole lease returns). Between runs the
// store is flushed: it stands in for the minute between scheduled runs, in
// which the previous release shows. reads/op are the lease's reads per
// run, points/op the samples they returned.
func BenchmarkLeaseAcquire(b *testing.B) {
	for _, store := range leaseStores {
		b.Run(store.name, func(b *testing.B) {
			r := store.start(b)
			e, q := leaseEngine(b, r, "bench", 0)
			at := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
			run := func(i int) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				l, err := e.acquire(ctx, at.Add(time.Duration(i)*time.Minute))
				require.NoError(b, err)
				l.release(ctx)
			}
			prefillLease(b, r, e, at)
			run(0)
			require.NoError(b, r.Flush(context.Background()))
			reads, points := q.reads.Load(), q.points.Load()
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				run(i)
				b.StopTimer()
				require.NoError(b, r.Flush(context.Background()))
				b.StartTimer()
			}
			b.ReportMetric(float64(q.reads.Load()-reads)/float64(b.N), "reads/op")
			b.ReportMetric(float64(q.points.Load()-points)/float64(b.N), "points/op")
		})
	}
}

// prefillLease writes the lease of a day of released runs one minute apart
// before at, in slot 0, as the runs would have.
func prefillLease(t testing.TB, r *testenv.Receiver, e *Engine, at time.Time) {
	t.Helper()
	w, err := remotewrite.NewClient(r.RemoteWriteURL)
	require.NoError(t, err)
	byField := map[string]*remotewrite.Series{}
	var order []string
	add := func(series []remotewrite.Series) {
		for _, s := range series {
			key := fmt.Sprint(s.Labels)
			if byField[key] == nil {
				byField[key] = &remotewrite.Series{Labels: s.Labels}
				order = append(order, key)
			}
			byField[key].Samples = append(byField[key].Samples, s.Samples...)
		}
	}
	for i := 24 * 60; i > 0; i-- {
		base := at.Add(-time.Duration(i)*time.Minute - leaseBackdate)
		run := alerting.RunID(i)
		add(e.store.EnteringSeries(0, base, run, base.Add(time.Minute)))
		add(e.store.TicketSeries(0, base.Add(time.Millisecond), run))
		add(e.store.ReleasedSeries(0, base.Add(2*time.Millisecond), run))
	}
	var all []remotewrite.Series
	for _, k := range order {
		all = append(all, *byField[k])
	}
	require.NoError(t, w.Write(context.Background(), all))
	require.NoError(t, r.Flush(context.Background()))
}

// TestLeaseSeesALateRetry: a read of the lease returns every sample of the
// last LeaseRecent only, and asks of the older part of the window whether
// a claim entered there is still live. A retry of a time three hours back
// (the store was down meanwhile) holds the lease with samples stamped at
// its own time, in a slot nobody used since: the run of the present time
// must see it and wait (here: give up before its deadline).
func TestLeaseSeesALateRetry(t *testing.T) {
	t.Parallel()
	for _, store := range leaseStores[:2] {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			r := store.start(t)
			late, _ := leaseEngine(t, r, "late", 0)
			next, _ := leaseEngine(t, r, "late", 0)
			at := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			held, err := late.acquire(ctx, at.Add(-3*time.Hour))
			require.NoError(t, err)
			defer held.release(ctx)
			// Long enough for a first use of a slot on VictoriaMetrics.
			short, cancelShort := context.WithTimeout(ctx, 45*time.Second)
			defer cancelShort()
			_, err = next.acquire(short, at)
			require.ErrorContains(t, err, "still holds the turn", "the run of the present time did not see the late retry's claim")
		})
	}
}
