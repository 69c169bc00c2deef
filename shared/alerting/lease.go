package alerting

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// The lease: runs of one deployment take turns through the store, so that
// two overlapping runs (a Lambda retry beside the next scheduled run, a
// duplicate delivery) never evaluate from the same state or publish the
// same notification. The store offers no compare-and-swap, so the lease is
// Lamport's bakery, which needs only that a query sees every write
// acknowledged before it started (see the engine).
//
// Its series are long-lived: a few slots per deployment (and part), four
// series each, written again by every run. A run id in a label would make
// three new series per run, and VictoriaMetrics makes a new series
// searchable only about 10 s after its first write (new samples of a known
// series after about a second): each run waited twice for that. So the run
// id travels in the value (a 52-bit integer, exact as a float) and a claim
// is a new sample of a series the store already knows.
//
// A slot is a log, not a register: a reader takes every sample that can
// matter (see Store.Lease) and groups them by run id, so two runs writing one slot (both
// chose it before seeing the other's claim) hide nothing of each other.
// What a shared slot costs is only that a stock Prometheus (and Cortex,
// Mimir, AMP) refuses a sample older than its series' newest, or another
// value at the same time (or, for two requests in flight at once, keeps
// one and answers 204 to both): the run whose sample is missing reads
// again and writes after the newest ([Lease.Newest]). Runs start in the lowest slot without a live
// claim, so consecutive runs reuse one slot and overlapping ones spread.
const (
	// LeaseMetric holds the lease: one series per slot and field.
	LeaseMetric = "sigmawatch_alert_lease"
	// SlotLabel numbers the lease's slots, 0 to LeaseSlots-1.
	SlotLabel = "sigmawatch_slot"
	// LeaseSlots is how many slots a deployment (or part) has: more than
	// the runs that overlap in practice (a retry, the next run, a
	// duplicate delivery), so that they rarely share one.
	LeaseSlots = 4

	// The fields of a slot. entering: a run began choosing its ticket
	// (value: the run id), with expires at the same time (value: when the
	// claim lapses, Unix seconds); ticket: the run's ticket, which is the
	// sample's time (value: the run id); released: the run is done (value:
	// the run id).
	leaseEntering = "entering"
	leaseExpires  = "expires"
	leaseTicket   = "ticket"
	leaseReleased = "released"

	// maxRunID keeps run ids within float64's exact integers.
	maxRunID = 1<<52 - 1
)

// RunID names one run in the lease: random, 52 bits, so that two runs of
// one window share it with a probability of about 2^-52 per pair.
type RunID uint64

// NewRunID draws a run id.
func NewRunID() (RunID, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("run id: %w", err)
	}
	return RunID(binary.LittleEndian.Uint64(b[:])%maxRunID + 1), nil
}

func (r RunID) String() string { return fmt.Sprintf("%013x", uint64(r)) }

func runID(v float64) (RunID, bool) {
	if !(v >= 1 && v <= maxRunID) || v != math.Trunc(v) {
		return 0, false
	}
	return RunID(v), true
}

// Claim is one unreleased run's claim on the lease.
type Claim struct {
	Run  RunID
	Slot int
	// Entered is the time of the claim's entering sample.
	Entered time.Time
	// Expires is when the claim lapses (its run's deadline): a run that
	// died holding the lease does not hold it for ever. Zero while the
	// store shows the entering sample but not yet the expiry written with
	// it (VictoriaMetrics may show one series of a request before
	// another): such a claim counts as live.
	Expires time.Time
	// Ticket is the run's number in the bakery, a time; zero while the
	// run is still choosing it.
	Ticket time.Time
}

// Live reports whether the claim still holds at now.
func (c Claim) Live(now time.Time) bool { return c.Expires.IsZero() || c.Expires.After(now) }

// Before orders claims by ticket, then run id (the bakery's order).
func (c Claim) Before(o Claim) bool {
	if !c.Ticket.Equal(o.Ticket) {
		return c.Ticket.Before(o.Ticket)
	}
	return c.Run < o.Run
}

// Lease is what the store shows of the lease.
type Lease struct {
	// Claims are the unreleased claims, expired ones included, by run.
	Claims []Claim
	// Newest is the time of each slot's newest sample: a write to the slot
	// is stamped after it.
	Newest [LeaseSlots]time.Time
	// NewestEntering and NewestTicket are the newest entering and ticket
	// samples per slot, of any run: one at or after a run's own that the
	// store does not show means the store dropped the run's write.
	NewestEntering, NewestTicket [LeaseSlots]time.Time
	// Tickets are the tickets shown, by run, released runs' included.
	Tickets map[RunID]time.Time
}

// Claim returns run's claim, if the store shows it.
func (l Lease) Claim(run RunID) (Claim, bool) {
	for _, c := range l.Claims {
		if c.Run == run {
			return c, true
		}
	}
	return Claim{}, false
}

func (s *Store) leaseSample(slot int, field string, at time.Time, v float64) remotewrite.Series {
	return remotewrite.Series{
		Labels: append(append([]remotewrite.Label{{Name: model.MetricNameLabel, Value: LeaseMetric}}, s.RunLabels()...),
			remotewrite.Label{Name: FieldLabel, Value: field}, remotewrite.Label{Name: SlotLabel, Value: strconv.Itoa(slot)}),
		Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: v}},
	}
}

// EnteringSeries announces, in slot at time at, that run is choosing a
// ticket; its claim expires at expires. One request: the two samples are
// matched by their slot and time.
func (s *Store) EnteringSeries(slot int, at time.Time, run RunID, expires time.Time) []remotewrite.Series {
	return []remotewrite.Series{
		s.leaseSample(slot, leaseEntering, at, float64(run)),
		s.leaseSample(slot, leaseExpires, at, seconds(expires)),
	}
}

// TicketSeries records run's ticket, which is the sample's time.
func (s *Store) TicketSeries(slot int, ticket time.Time, run RunID) []remotewrite.Series {
	return []remotewrite.Series{s.leaseSample(slot, leaseTicket, ticket, float64(run))}
}

// ReleasedSeries releases run's claim, in slot at time at.
func (s *Store) ReleasedSeries(slot int, at time.Time, run RunID) []remotewrite.Series {
	return []remotewrite.Series{s.leaseSample(slot, leaseReleased, at, float64(run))}
}

// LeaseRecent is how far before the scheduled time a read of the lease
// returns every sample; the older part of the window is first asked only
// whether a claim entered there is still live (see Store.Lease).
const LeaseRecent = 30 * time.Minute

// Lease reads the lease's samples stamped within window of at (either
// side: a retry of an earlier time overlaps the runs of later ones) that
// can matter at now.
//
// A day of runs at the 1-minute schedule is about 5,800 samples, and a run
// reads the lease several times; so the samples before at-LeaseRecent are
// read only when their newest expiry is after now. A claim entered earlier
// and still live is a late retry's (its samples are stamped at its own
// scheduled time when its slot was not used since); every other claim's
// samples, and each slot's newest sample, are in the recent part, since a
// run stamps after its slot's newest and never before at minus a minute.
func (s *Store) Lease(ctx context.Context, at, now time.Time, window time.Duration) (Lease, error) {
	end := at.Add(window)
	r := window + LeaseRecent
	if window > LeaseRecent {
		older := fmt.Sprintf("max(max_over_time(%s[%s] offset %s))",
			s.runSelector(LeaseMetric, SlotLabel+`!=""`, FieldLabel+`="`+leaseExpires+`"`), dur(window-LeaseRecent), dur(window+LeaseRecent))
		live, err := s.q.Query(ctx, older, end)
		if err != nil {
			return Lease{}, fmt.Errorf("read the lease: %w", err)
		}
		if len(live) > 0 && fromSeconds(live[0].V).After(now) {
			r = 2*window + time.Millisecond
		}
	}
	return s.lease(ctx, fmt.Sprintf("%s[%s]", s.runSelector(LeaseMetric, SlotLabel+`!=""`), dur(r)), end)
}

// LeaseSince reads what Lease would of slot, but only its samples at or
// after since: enough for a run to see whether the store shows its newest
// write (or a newer one of another run), in a few samples rather than the
// whole window's. Claims whose entering is before since are not in it.
func (s *Store) LeaseSince(ctx context.Context, slot int, since, at time.Time, window time.Duration) (Lease, error) {
	end := at.Add(window)
	r := min(max(end.Sub(since)+time.Millisecond, time.Millisecond), 2*window+time.Millisecond)
	query := fmt.Sprintf("%s[%s]", s.runSelector(LeaseMetric, SlotLabel+"="+strconv.Quote(strconv.Itoa(slot))), dur(r))
	return s.lease(ctx, query, end)
}

func (s *Store) lease(ctx context.Context, query string, at time.Time) (Lease, error) {
	series, err := s.q.QuerySeries(ctx, query, at)
	if err != nil {
		return Lease{}, fmt.Errorf("read the lease: %w", err)
	}
	type key struct {
		slot int
		t    int64
	}
	var out Lease
	entering := map[RunID]key{}
	expires := map[key]float64{}
	tickets := map[RunID]time.Time{}
	released := map[RunID]bool{}
	for _, ser := range series {
		slot, err := strconv.Atoi(ser.Labels[SlotLabel])
		if err != nil || slot < 0 || slot >= LeaseSlots {
			continue // not this release's slots
		}
		field := ser.Labels[FieldLabel]
		for _, p := range ser.Points {
			if p.T.After(out.Newest[slot]) {
				out.Newest[slot] = p.T
			}
			k := key{slot, p.T.UnixMilli()}
			if field == leaseExpires {
				if finite(p.V) && p.V > expires[k] {
					expires[k] = p.V
				}
				continue
			}
			run, ok := runID(p.V)
			if !ok {
				continue
			}
			switch field {
			case leaseEntering:
				out.NewestEntering[slot] = later(out.NewestEntering[slot], p.T)
				if prev, ok := entering[run]; !ok || k.t > prev.t {
					entering[run] = k
				}
			case leaseTicket:
				out.NewestTicket[slot] = later(out.NewestTicket[slot], p.T)
				// A run writes one ticket; two show only when the answer to
				// a stored write was lost and it wrote again. The later one
				// is what the run waits for.
				if p.T.After(tickets[run]) {
					tickets[run] = p.T
				}
			case leaseReleased:
				released[run] = true
			}
		}
	}
	out.Tickets = tickets
	for _, run := range slices.Sorted(maps.Keys(entering)) {
		if released[run] {
			continue
		}
		k := entering[run]
		c := Claim{Run: run, Slot: k.slot, Entered: time.UnixMilli(k.t).UTC(), Ticket: tickets[run]}
		if v, ok := expires[k]; ok {
			c.Expires = fromSeconds(v)
		}
		out.Claims = append(out.Claims, c)
	}
	return out, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
