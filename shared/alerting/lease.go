package alerting

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// The lease: runs of one deployment take turns through the store, so that
// two overlapping runs (a Lambda retry beside the next scheduled run, a
// duplicate delivery) never evaluate from the same state or publish the
// same notification. The store offers no compare-and-swap, so the lease is
// Lamport's bakery over three series per run, which needs only that a
// query sees every write acknowledged before it started (see the engine).
const (
	// LeaseMetric holds the lease claims, one series per run and field:
	// "entering" (value: when the claim expires, Unix seconds), "ticket"
	// (the run's number) and "released".
	LeaseMetric = "sigmawatch_alert_lease"
	// RunLabel names the run (a random id per process run).
	RunLabel = "sigmawatch_run"

	leaseEntering = "entering"
	leaseTicket   = "ticket"
	leaseReleased = "released"
)

// Claim is one unreleased run's claim on the lease.
type Claim struct {
	Run string
	// Expires is when the claim lapses (its run's deadline): a run that
	// died holding the lease does not hold it for ever.
	Expires time.Time
	// Ticket is the run's number; zero while it is still choosing one.
	Ticket int
}

// Before orders claims by ticket, then run id (the bakery's order).
func (c Claim) Before(o Claim) bool {
	if c.Ticket != o.Ticket {
		return c.Ticket < o.Ticket
	}
	return c.Run < o.Run
}

func (s *Store) leaseSeries(at time.Time, run, field string, v float64) []remotewrite.Series {
	return []remotewrite.Series{{
		Labels: append(append([]remotewrite.Label{{Name: model.MetricNameLabel, Value: LeaseMetric}}, s.RunLabels()...),
			remotewrite.Label{Name: RunLabel, Value: run}, remotewrite.Label{Name: FieldLabel, Value: field}),
		Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: v}},
	}}
}

// EnteringSeries announces that run is choosing a ticket; its claim
// expires at expires. Stamped at the run's scheduled time at.
func (s *Store) EnteringSeries(at time.Time, run string, expires time.Time) []remotewrite.Series {
	return s.leaseSeries(at, run, leaseEntering, seconds(expires))
}

// TicketSeries records run's ticket.
func (s *Store) TicketSeries(at time.Time, run string, ticket int) []remotewrite.Series {
	return s.leaseSeries(at, run, leaseTicket, float64(ticket))
}

// ReleasedSeries releases run's claim.
func (s *Store) ReleasedSeries(at time.Time, run string) []remotewrite.Series {
	return s.leaseSeries(at, run, leaseReleased, 1)
}

// Claims reads the unreleased claims of runs stamped within window of at
// (either side: a retry of an earlier time overlaps the runs of later
// ones), expired ones included, sorted by run.
func (s *Store) Claims(ctx context.Context, at time.Time, window time.Duration) ([]Claim, error) {
	r := dur(2*window + time.Millisecond)
	query := fmt.Sprintf("last_over_time(%s[%s]) unless on(%s) last_over_time(%s[%s])",
		s.runSelector(LeaseMetric, FieldLabel+`=~"`+leaseEntering+`|`+leaseTicket+`"`), r, RunLabel,
		s.runSelector(LeaseMetric, FieldLabel+`="`+leaseReleased+`"`), r)
	samples, err := s.q.Query(ctx, query, at.Add(window))
	if err != nil {
		return nil, fmt.Errorf("read the lease: %w", err)
	}
	byRun := map[string]*Claim{}
	for _, smp := range samples {
		run := smp.Labels[RunLabel]
		if run == "" || !finite(smp.V) {
			continue
		}
		c := byRun[run]
		if c == nil {
			c = &Claim{Run: run}
			byRun[run] = c
		}
		switch smp.Labels[FieldLabel] {
		case leaseEntering:
			c.Expires = fromSeconds(smp.V)
		case leaseTicket:
			if smp.V >= 1 && smp.V < math.MaxInt32 {
				c.Ticket = int(smp.V)
			}
		}
	}
	out := make([]Claim, 0, len(byRun))
	for _, run := range slices.Sorted(maps.Keys(byRun)) {
		out = append(out, *byRun[run])
	}
	return out, nil
}
