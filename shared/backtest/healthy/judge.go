package healthy

import "time"

// ResolveWithin is the promise for an incident: its resolved message
// within 30 minutes of its end.
const ResolveWithin = 30 * time.Minute

// Event is a notification a replay sent: a page (firing) or a resolved
// message.
type Event struct {
	Time     time.Time
	Resolved bool
}

// Verdict is how a replay of one series did.
type Verdict struct {
	// Pages counts the pages in the judged span outside every incident
	// (and its ResolveWithin after): on a healthy series, every page.
	Pages int
	// Missed counts the incidents with no page before their end; Late
	// those still firing ResolveWithin after their end; Repages the pages
	// after the first within an incident (or within ResolveWithin of its
	// end): one incident, one page.
	Missed, Late, Repages int
	// Worst is the longest time from an incident's end to its resolved
	// message (ResolveWithin and more when late).
	Worst time.Duration
}

// OK reports whether the replay kept every promise.
func (v Verdict) OK() bool { return v.Pages == 0 && v.Missed == 0 && v.Late == 0 && v.Repages == 0 }

// Judge judges the events of a replay of s, in time order.
func Judge(s Series, events []Event) Verdict {
	var v Verdict
	for _, in := range s.Incidents {
		pages, paged, firing, resolvedAt := 0, false, false, time.Time{}
		for _, e := range events {
			if e.Time.Before(in.From) {
				// An episode that began before the incident and is still
				// open counts as firing at its start.
				firing = !e.Resolved
				continue
			}
			if !e.Time.Before(in.To.Add(ResolveWithin)) {
				break
			}
			if e.Resolved {
				firing, resolvedAt = false, e.Time
				continue
			}
			pages++
			firing = true
			if e.Time.Before(in.To) {
				paged = true
			}
		}
		switch {
		case !paged:
			v.Missed++
		case firing:
			v.Late++
			v.Worst = max(v.Worst, ResolveWithin+time.Minute)
		case resolvedAt.After(in.To):
			v.Worst = max(v.Worst, resolvedAt.Sub(in.To))
		}
		if pages > 1 {
			v.Repages += pages - 1
		}
	}
	judged := JudgedFrom()
	for _, e := range events {
		if e.Resolved || e.Time.Before(judged) {
			continue
		}
		inside := false
		for _, in := range s.Incidents {
			if !e.Time.Before(in.From) && e.Time.Before(in.To.Add(ResolveWithin)) {
				inside = true
			}
		}
		if !inside {
			v.Pages++
		}
	}
	return v
}
