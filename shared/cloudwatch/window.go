package cloudwatch

import "time"

// Window is the span [Start, End) a query covers.
type Window struct {
	Start, End time.Time
}

// Empty reports whether the window covers nothing.
func (w Window) Empty() bool { return !w.Start.Before(w.End) }

// Align returns t rounded down to a multiple of period since the Unix epoch,
// which is how CloudWatch places its period buckets.
func Align(t time.Time, period time.Duration) time.Time {
	if period <= 0 {
		return t
	}
	return t.Truncate(period).UTC()
}

// AlignUp returns t rounded up to a multiple of period since the Unix epoch.
func AlignUp(t time.Time, period time.Duration) time.Time {
	a := Align(t, period)
	if a.Before(t) {
		a = a.Add(period)
	}
	return a
}

// Timing is everything that decides which CloudWatch periods a metric's
// query covers at a scheduled time T. All window maths of the collector lives
// here, so that a retry of T, the cost preview and the tests agree.
//
// Windows are always whole periods: [Start, End) with both ends multiples of
// Period since the epoch, and End = align(T − Delay) — the newest period
// that has settled.
type Timing struct {
	Period time.Duration
	// Delay is how long CloudWatch values are given to settle.
	Delay time.Duration
	// Length is the window of a first run (nothing covered yet).
	Length time.Duration
	// MaxCatchUp bounds how far back a run fills a gap: the newest
	// MaxCatchUp (whole periods, at least one) is fetched, the rest given up.
	MaxCatchUp time.Duration
	// MaxAge is the oldest sample, relative to T, that the receiver accepts
	// (a stock Prometheus refuses samples more than about an hour older than
	// its newest one); older periods are given up rather than sent to be
	// refused. Zero means no limit. Latest samples are stamped at T: it
	// does not apply to them.
	MaxAge time.Duration
	// Latest fetches only the newest period: its value is stamped at T
	// instead of its CloudWatch timestamp, and a series can hold only one
	// sample per run.
	Latest bool
}

// End is the end of the newest settled period at scheduled time at:
// align(at − Delay, Period).
func (t Timing) End(at time.Time) time.Time { return Align(at.Add(-t.Delay), t.Period) }

// oldest is the earliest start a window may have at scheduled time at.
func (t Timing) oldest(at, end time.Time) time.Time {
	// Align down: at least one whole period is fetched even when the period
	// is longer than MaxCatchUp.
	limit := Align(end.Add(-t.MaxCatchUp), t.Period)
	// Stamped at T, the newest period's sample is never too old.
	if t.MaxAge > 0 && !t.Latest {
		if a := AlignUp(at.Add(-t.MaxAge), t.Period); a.After(limit) {
			limit = a
		}
	}
	if t.Latest {
		if l := end.Add(-t.Period); l.After(limit) {
			limit = l
		}
	}
	return limit
}

// First is the window of a first run at scheduled time at (nothing
// covered): the Length before End, within the receiver's MaxAge.
func (t Timing) First(at time.Time) Window {
	end := t.End(at)
	start := end.Add(-t.Length)
	if o := t.oldest(at, end); o.After(start) {
		start = o
	}
	return Window{Start: start, End: end}
}

// Next is what a run at scheduled time at fetches for a series whose data
// is covered (written, or given up) up to covered, exclusive, and how much
// of [covered, End) it gives up: the part of a period that a period change
// left half covered, and whatever lies beyond MaxCatchUp or MaxAge. A
// covered time at or after End (the delay grew) gives an empty window and
// nothing skipped: the clock catches up.
func (t Timing) Next(at, covered time.Time) (Window, time.Duration) {
	end := t.End(at)
	if !covered.Before(end) {
		return Window{Start: end, End: end}, 0
	}
	// A period bucket that started before covered holds datapoints already
	// written (under another period): its timestamp is taken.
	start := AlignUp(covered, t.Period)
	if o := t.oldest(at, end); o.After(start) {
		start = o
	}
	if start.After(end) {
		start = end
	}
	return Window{Start: start, End: end}, start.Sub(covered)
}

// CatchUp is the widest window a run at scheduled time at may fetch:
// [oldest start allowed, End). A series none of whose data can be stored
// yet (newly listed) is fetched over it.
func (t Timing) CatchUp(at time.Time) Window {
	end := t.End(at)
	return Window{Start: t.oldest(at, end), End: end}
}
