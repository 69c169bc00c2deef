package alertengine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
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
// the live tickets, writes a ticket later than all of them, and waits until
// no live run is still choosing and none holds a smaller (ticket, run id).
// It releases after its state, outbox and sent marks are written. The
// series are a few long-lived slots whose samples carry the run id
// (alerting/lease.go): a claim is a new sample of a series the store
// already knows, which VictoriaMetrics shows after about a second, where a
// new series took about ten.
//
// The bakery needs each run's claim and ticket to be visible to every other
// run before the run goes on. So a run waits until the store shows it its
// own claim, and its own ticket, before it reads the others: on a store
// where what one query sees every later query sees (Prometheus, Cortex,
// Mimir, AMP, single-node VictoriaMetrics), that is mutual exclusion.
//
// Lease samples are stamped a minute before the scheduled time, because
// VictoriaMetrics hides samples newer than its -search.latencyOffset (30 s
// by default) from queries, and after the newest sample of their slot,
// because a stock Prometheus refuses an older one: per slot, times only
// grow, whatever the order of the runs' scheduled times (not the wall
// clock: a run at a simulated past time must not push a stock
// Prometheus's head past the hour in which its state write is accepted).
// A write refused all the same (another run wrote the slot between the
// read and the write: 400), or dropped (a stock Prometheus answers 204 and
// keeps only one of two in-flight samples of a series at one time or out
// of order), is made again after a fresh read, at most leaseAttempts
// times. A dropped write shows as a sample of the same field in the slot,
// as new as the run's own or newer, where the run's own is missing.
//
// A store that does not show a run its own write fails the run loudly
// rather than let it run unprotected: when a read that began more than
// leaseVisibility after the write was acknowledged does not show it. A read
// that began earlier does not count however long its answer took: a loaded
// store's slow queries are not a store hiding writes. A claim lapses at its
// run's deadline, so a run that dies holding the lease delays the others
// by at most that.
const (
	// defaultLeaseTTL is a claim's lifetime when the run has no deadline.
	defaultLeaseTTL = 5 * time.Minute
	// leaseVisibility is how long after a write's acknowledgement the store
	// may take to show it.
	leaseVisibility = 15 * time.Second
	// leaseBackdate stamps lease series before the scheduled time, out of
	// VictoriaMetrics' default 30 s latency offset.
	leaseBackdate = time.Minute
	// leasePoll is the first wait between reads of the lease; it doubles up
	// to leasePollMax.
	leasePoll    = 50 * time.Millisecond
	leasePollMax = time.Second
	// leaseAttempts bounds the writes of one lease step the store refuses
	// or drops because another run wrote the same slot meanwhile.
	leaseAttempts = 5
)

// lease is a held turn; release gives it back.
type lease struct {
	e *Engine
	// at is the scheduled time, which places the lease's reads.
	at  time.Time
	run alerting.RunID
	// slot is where the run writes; base is the earliest time its samples
	// are stamped at; newest is the newest time it saw in slot; mine is
	// the time of its own newest sample (in any slot: a claim moved to
	// another slot is newer than the one it replaces).
	slot   int
	base   time.Time
	newest time.Time
	mine   time.Time
	// give is when the run stops waiting (its deadline less a margin).
	give time.Time
}

// acquire takes this deployment's turn for the run of at, waiting for the
// runs ahead of it until ctx's deadline less a margin.
func (e *Engine) acquire(ctx context.Context, at time.Time) (*lease, error) {
	run, err := alerting.NewRunID()
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	// Up to a second later by run id: duplicate deliveries of one time,
	// starting together, rarely stamp one slot at the same millisecond.
	base := at.Add(-leaseBackdate + time.Duration(run%1000)*time.Millisecond)
	l := &lease{e: e, at: at, run: run, base: base}
	expires := e.now().Add(defaultLeaseTTL)
	l.give = e.now().Add(defaultLeaseTTL - deadlineMargin)
	if d, ok := ctx.Deadline(); ok {
		expires, l.give = d, d.Add(-deadlineMargin)
	}
	fail := func(err error) (*lease, error) {
		l.release(ctx)
		return nil, err
	}

	// Enter, in the lowest slot without a live claim.
	view, err := l.read(ctx)
	if err != nil {
		return nil, err
	}
	var entered time.Time
	_, err = l.put(ctx, view, "claim", func(view alerting.Lease) []remotewrite.Series {
		l.slot = freeSlot(view, e.now())
		l.newest = view.Newest[l.slot]
		entered = l.stamp()
		return e.store.EnteringSeries(l.slot, entered, run, expires)
	}, func(v alerting.Lease) (shown, complete bool) {
		c, ok := v.Claim(run)
		return ok && c.Entered.Equal(entered), ok && !c.Expires.IsZero()
	}, func(v alerting.Lease) time.Time { return v.NewestEntering[l.slot] })
	if err != nil {
		return fail(err)
	}
	// The live tickets, now that the claim shows.
	if view, err = l.read(ctx); err != nil {
		return fail(err)
	}
	// Choosing: the claim shows, the ticket does not, so reading the
	// tickets again (after a refused or lost ticket) is part of choosing.
	var ticket time.Time
	if _, err = l.put(ctx, view, "ticket", func(view alerting.Lease) []remotewrite.Series {
		ticket = l.stamp()
		for _, c := range live(view.Claims, e.now(), run) {
			if !c.Ticket.IsZero() && !c.Ticket.Before(ticket) {
				ticket = c.Ticket.Add(l.step())
			}
		}
		return e.store.TicketSeries(l.slot, ticket, run)
	}, func(v alerting.Lease) (shown, complete bool) {
		t := v.Tickets[run]
		return t.Equal(ticket), true
	}, func(v alerting.Lease) time.Time { return v.NewestTicket[l.slot] }); err != nil {
		return fail(err)
	}

	me := alerting.Claim{Run: run, Ticket: ticket}
	for wait := leasePoll; ; wait = min(2*wait, leasePollMax) {
		view, err := l.read(ctx)
		if err != nil {
			return fail(err)
		}
		var ahead *alerting.Claim
		for _, c := range live(view.Claims, e.now(), run) {
			if c.Ticket.IsZero() || c.Before(me) {
				ahead = &c
				break
			}
		}
		if ahead == nil {
			return l, nil
		}
		if e.now().Add(wait).After(l.give) {
			return fail(fmt.Errorf("lease: run %s of this deployment still holds the turn; giving up before the deadline (the retry or the next run goes on)", ahead.Run))
		}
		e.log.DebugContext(ctx, "waiting for another run of this deployment", "ahead", ahead.Run.String(), "run", run.String())
		if err := sleep(ctx, wait); err != nil {
			return fail(fmt.Errorf("lease: %w", err))
		}
	}
}

// errLost: the store shows a sample of the run's slot as new as the one
// the run is waiting for, or newer, and not the run's own: a stock
// Prometheus drops a sample when another request committed one of the same
// series at the same time or later while both were in flight, and still
// answers 204.
var errLost = errors.New("lease: the store dropped the write (another run wrote the slot after it)")

// put writes what write builds from view (the lease step what) and waits
// until the store shows it, with all that was written with it (shows). A write the store
// refuses, or drops, is built and made again after a fresh read, at most
// leaseAttempts times.
func (l *lease) put(ctx context.Context, view alerting.Lease, what string, write func(alerting.Lease) []remotewrite.Series, shows func(alerting.Lease) (shown, complete bool), newest func(alerting.Lease) time.Time) (alerting.Lease, error) {
	for attempt := 1; ; attempt++ {
		series := write(view)
		err := l.e.write.Write(ctx, series)
		if err == nil {
			l.mine = time.UnixMilli(series[0].Samples[0].T).UTC()
			l.newest = maxTime(l.newest, l.mine)
			view, err = l.await(ctx, what, shows, newest)
			if err == nil {
				return view, nil
			}
			if !errors.Is(err, errLost) || attempt == leaseAttempts {
				return view, err
			}
		} else if !refused(err) || attempt == leaseAttempts {
			return view, fmt.Errorf("lease: %s: %w", what, err)
		}
		if view, err = l.read(ctx); err != nil {
			return view, err
		}
		l.e.log.DebugContext(ctx, "lease: another run wrote the slot; writing again after it", "step", what, "run", l.run.String(), "slot", l.slot, "attempt", attempt)
	}
}

// read reads the lease and notes the newest time of the run's slot.
func (l *lease) read(ctx context.Context) (alerting.Lease, error) {
	view, err := l.e.store.Lease(ctx, l.at, l.e.now(), lateRetryWindow)
	if err != nil {
		return view, fmt.Errorf("lease: %w", err)
	}
	l.newest = maxTime(l.newest, view.Newest[l.slot])
	return view, nil
}

// stamp is the time of the run's next sample in its slot: after the
// slot's newest and the run's own, never before the run's base.
func (l *lease) stamp() time.Time {
	return maxTime(l.base, maxTime(l.newest, l.mine).Add(l.step()))
}

// step is how far after a time seen in the store the run stamps: 1 to 16
// ms by run id, so that runs which read the same newest sample rarely
// stamp the same millisecond (a stock Prometheus keeps one of them).
func (l *lease) step() time.Duration {
	return time.Duration(1+l.run%16) * time.Millisecond
}

// await reads the run's slot until the store shows this run's own write
// (shows), and returns what it read (of the slot, from the write on). Only the store's visibility is limited,
// not the reads' latency: the run fails when a read that began more than
// leaseVisibility after the write was acknowledged does not show it. It
// returns errLost when the store shows a sample of the same field in the
// run's slot (newest) as new as the run's own or newer, and not the run's
// own.
func (l *lease) await(ctx context.Context, what string, shows func(alerting.Lease) (shown, complete bool), newest func(alerting.Lease) time.Time) (alerting.Lease, error) {
	acked, mine := l.e.now(), l.mine
	reads := 0
	for wait := leasePoll; ; wait = min(2*wait, leasePollMax) {
		began := l.e.now()
		// Only the slot's samples from the run's own on: a few samples.
		view, err := l.e.store.LeaseSince(ctx, l.slot, mine, l.at, lateRetryWindow)
		if err != nil {
			return view, fmt.Errorf("lease: %w", err)
		}
		reads++
		shown, complete := shows(view)
		if shown && complete {
			l.newest = maxTime(l.newest, view.Newest[l.slot])
			return view, nil
		}
		if !shown && !newest(view).Before(mine) {
			l.newest = maxTime(l.newest, view.Newest[l.slot])
			return view, errLost
		}
		after, took := began.Sub(acked), l.e.now().Sub(began)
		if after > leaseVisibility {
			return view, fmt.Errorf("lease: the store does not show this run's own %s (run %s, slot %d): a read that began %s after the write was acknowledged "+
				"(limit %s; %d reads, the last answered in %s) did not show it; alert runs cannot take turns on a store that hides what was just written "+
				"(check that SIGMAWATCH_PROMETHEUS_URL reads what SIGMAWATCH_REMOTE_WRITE_URL writes, tenant headers included; VictoriaMetrics: -search.latencyOffset under a minute)",
				what, l.run, l.slot, after.Round(time.Millisecond), leaseVisibility, reads, took.Round(time.Millisecond))
		}
		if l.e.now().Add(wait).After(l.give) {
			return view, fmt.Errorf("lease: the store has not shown this run's own %s (run %s, slot %d) %s after the write was acknowledged (%d reads, the last answered in %s), "+
				"and the run's deadline is near", what, l.run, l.slot, l.e.now().Sub(acked).Round(time.Millisecond), reads, took.Round(time.Millisecond))
		}
		if err := sleep(ctx, wait); err != nil {
			return view, fmt.Errorf("lease: %w", err)
		}
	}
}

// release gives the turn back. A failure only delays the next run until
// the claim expires, so it is logged, not returned.
func (l *lease) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deadlineMargin)
	defer cancel()
	var err error
	for attempt := 1; attempt <= leaseAttempts; attempt++ {
		at := l.stamp()
		if err = l.e.write.Write(ctx, l.e.store.ReleasedSeries(l.slot, at, l.run)); err == nil {
			return
		}
		if !refused(err) {
			break
		}
		if _, rerr := l.read(ctx); rerr != nil {
			err = errors.Join(err, rerr)
			break
		}
	}
	l.e.log.WarnContext(ctx, "lease: release failed; the next run waits until this run's claim expires", "run", l.run.String(), "err", err)
}

// freeSlot is the lowest slot without a live claim; when every slot has
// one, the one with fewest (runs share it: see alerting/lease.go).
func freeSlot(view alerting.Lease, now time.Time) int {
	var n [alerting.LeaseSlots]int
	for _, c := range view.Claims {
		if c.Live(now) {
			n[c.Slot]++
		}
	}
	best := 0
	for s := range n {
		if n[s] < n[best] {
			best = s
		}
	}
	return best
}

// refused reports whether the store refused a lease write as a whole
// (HTTP 400: a stock Prometheus's out-of-order or duplicate sample; Cortex,
// Mimir and AMP say the same per series).
func refused(err error) bool {
	var werr *remotewrite.Error
	return errors.As(err, &werr) && werr.StatusCode == http.StatusBadRequest
}

// live are the claims of other runs that have not expired.
func live(claims []alerting.Claim, now time.Time, self alerting.RunID) []alerting.Claim {
	var out []alerting.Claim
	for _, c := range claims {
		if c.Run != self && c.Live(now) {
			out = append(out, c)
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
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
