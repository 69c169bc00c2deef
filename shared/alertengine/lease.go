package alertengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
)

// Runs of one deployment may overlap: without reserved concurrency a Lambda
// retry of T can run beside the run of T+1m, and EventBridge Scheduler
// delivers at least once. Deterministic ids do not make that safe: an SQS
// subscriber could deduplicate them, an email inbox or a phone cannot; and
// two runs persisting from the same restored state lose one's state (a
// stock Prometheus refuses the older run's samples and rolls its whole
// request back). So runs take turns through a lease kept in the store.
//
// The store has no compare-and-swap; the lease is Lamport's bakery, which
// needs none. A run writes "entering" (with its expiry, its deadline), reads
// the live tickets, writes max+1 as its ticket, and waits until no live run
// is still choosing and none holds a smaller (ticket, run id). It releases
// after its state, outbox and sent marks are written.
//
// The bakery needs each run's claim and ticket to be visible to every other
// run before the run goes on. So a run waits until the store shows it its
// own claim, and its own ticket, before it reads the others: on a store
// where what one query sees every later query sees (Prometheus, Cortex,
// Mimir, AMP, single-node VictoriaMetrics, which shows new samples after
// about a second), that is mutual exclusion. Lease series are stamped a
// minute before the scheduled time, because VictoriaMetrics hides samples
// newer than its -search.latencyOffset (30 s by default) from queries. A
// store that does not show a run its own writes within leaseVisibility fails
// the run loudly rather than let it run unprotected. A claim lapses at its
// run's deadline, so a run that dies holding the lease delays the others by
// at most that.
const (
	// defaultLeaseTTL is a claim's lifetime when the run has no deadline.
	defaultLeaseTTL = 5 * time.Minute
	// leaseVisibility is how long a run waits for its own writes to show.
	leaseVisibility = 15 * time.Second
	// leaseBackdate stamps lease series before the scheduled time, out of
	// VictoriaMetrics' default 30 s latency offset.
	leaseBackdate = time.Minute
	// leasePoll is the first wait between reads of the lease; it doubles up
	// to leasePollMax.
	leasePoll    = 50 * time.Millisecond
	leasePollMax = time.Second
)

// lease is a held turn; release gives it back.
type lease struct {
	e   *Engine
	at  time.Time
	run string
}

// acquire takes this deployment's turn for the run of at, waiting for the
// runs ahead of it until ctx's deadline less a margin.
func (e *Engine) acquire(ctx context.Context, at time.Time) (*lease, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("lease: run id: %w", err)
	}
	l := &lease{e: e, at: at.Add(-leaseBackdate), run: hex.EncodeToString(id[:])}
	expires := e.now().Add(defaultLeaseTTL)
	give := e.now().Add(defaultLeaseTTL - deadlineMargin)
	if d, ok := ctx.Deadline(); ok {
		expires, give = d, d.Add(-deadlineMargin)
	}
	if err := e.write.Write(ctx, e.store.EnteringSeries(l.at, l.run, expires)); err != nil {
		return nil, fmt.Errorf("lease: claim: %w", err)
	}
	// The live tickets, once our own claim shows.
	claims, err := l.await(ctx, func(c alerting.Claim) bool { return true })
	if err != nil {
		l.release(ctx)
		return nil, err
	}
	ticket := 1
	for _, c := range live(claims, e.now(), l.run) {
		ticket = max(ticket, c.Ticket+1)
	}
	if err := e.write.Write(ctx, e.store.TicketSeries(l.at, l.run, ticket)); err != nil {
		l.release(ctx)
		return nil, fmt.Errorf("lease: ticket: %w", err)
	}
	if _, err := l.await(ctx, func(c alerting.Claim) bool { return c.Ticket == ticket }); err != nil {
		l.release(ctx)
		return nil, err
	}
	me := alerting.Claim{Run: l.run, Ticket: ticket}
	for wait := leasePoll; ; wait = min(2*wait, leasePollMax) {
		claims, err := e.store.Claims(ctx, l.at, lateRetryWindow)
		if err != nil {
			l.release(ctx)
			return nil, fmt.Errorf("lease: %w", err)
		}
		ahead := ""
		for _, c := range live(claims, e.now(), l.run) {
			if c.Ticket == 0 || c.Before(me) {
				ahead = c.Run
				break
			}
		}
		if ahead == "" {
			return l, nil
		}
		if e.now().Add(wait).After(give) {
			l.release(ctx)
			return nil, fmt.Errorf("lease: run %s of this deployment still holds the turn; giving up before the deadline (the retry or the next run goes on)", ahead)
		}
		e.log.DebugContext(ctx, "waiting for another run of this deployment", "ahead", ahead, "run", l.run)
		if err := sleep(ctx, wait); err != nil {
			l.release(ctx)
			return nil, fmt.Errorf("lease: %w", err)
		}
	}
}

// await reads the claims until the store shows this run's own claim in the
// state ok wants, and returns them.
func (l *lease) await(ctx context.Context, ok func(alerting.Claim) bool) ([]alerting.Claim, error) {
	since := l.e.now()
	for wait := leasePoll; ; wait = min(2*wait, leasePollMax) {
		claims, err := l.e.store.Claims(ctx, l.at, lateRetryWindow)
		if err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
		for _, c := range claims {
			if c.Run == l.run && ok(c) {
				return claims, nil
			}
		}
		if l.e.now().Sub(since) > leaseVisibility {
			return nil, fmt.Errorf("lease: the store does not show this run's own claim %s after %s; alert runs cannot take turns on a store "+
				"that hides what was just written (check that SIGMAWATCH_PROMETHEUS_URL reads what SIGMAWATCH_REMOTE_WRITE_URL writes, "+
				"tenant headers included; VictoriaMetrics: -search.latencyOffset under a minute)", l.run, leaseVisibility)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
	}
}

// release gives the turn back. A failure only delays the next run until
// the claim expires, so it is logged, not returned.
func (l *lease) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deadlineMargin)
	defer cancel()
	if err := l.e.write.Write(ctx, l.e.store.ReleasedSeries(l.at, l.run)); err != nil {
		l.e.log.WarnContext(ctx, "lease: release failed; the next run waits until this run's claim expires", "run", l.run, "err", err)
	}
}

// live are the claims of other runs that have not expired.
func live(claims []alerting.Claim, now time.Time, self string) []alerting.Claim {
	var out []alerting.Claim
	for _, c := range claims {
		if c.Run != self && c.Expires.After(now) {
			out = append(out, c)
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errors.Join(errors.New("interrupted while waiting for the lease"), ctx.Err())
	case <-t.C:
		return nil
	}
}
