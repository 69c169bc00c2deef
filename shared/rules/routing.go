package rules

import (
	"slices"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
)

// Defaults of the notification settings. The grouping settings mean what
// Alertmanager's route settings of the same names mean.
const (
	// DefaultGroupWait is 0s, not Alertmanager's 30s: a run already batches
	// everything that fires at its scheduled time, and with a 1-minute
	// schedule 30s would delay every first page by a whole run.
	DefaultGroupWait = config.Duration(0)
	// DefaultGroupInterval is Alertmanager's: a group whose alerts change is
	// notified again at most every 5 minutes.
	DefaultGroupInterval = config.Duration(5 * time.Minute)
	// DefaultMissingDataTimeout resolves an alert whose series has had no
	// data for an hour (missing_data: keep freezes it until then): a
	// terminated instance, or an ALB 5xx count, which CloudWatch publishes
	// only when it is not zero.
	DefaultMissingDataTimeout = config.Duration(time.Hour)
)

// GroupByAll in group_by puts every series in a group of its own
// (Alertmanager's '...').
const GroupByAll = "..."

// Routing is how a rule's alerts become notifications. It may be set in
// settings, in a group and in a rule; the most specific wins, and after
// File.Rules every field of a rule's Routing holds its effective value.
type Routing struct {
	// GroupBy are the alert labels whose values split a rule's alerts into
	// notification groups; empty is one group per rule (and severity).
	GroupBy []string `yaml:"group_by"`
	// GroupWait is how long a new group waits for more alerts before its
	// first notification.
	GroupWait *config.Duration `yaml:"group_wait"`
	// GroupInterval is how long a group waits, after a notification,
	// before notifying that its alerts changed (new firing, resolved).
	GroupInterval *config.Duration `yaml:"group_interval"`
	// MissingDataTimeout resolves a firing alert whose series has had no
	// data this long; 0 never does.
	MissingDataTimeout *config.Duration `yaml:"missing_data_timeout"`
}

// DefaultRouting is the routing of a file that sets none.
func DefaultRouting() Routing {
	wait, interval, timeout := DefaultGroupWait, DefaultGroupInterval, DefaultMissingDataTimeout
	return Routing{GroupBy: []string{}, GroupWait: &wait, GroupInterval: &interval, MissingDataTimeout: &timeout}
}

// over returns r with every field o sets replaced by o's.
func (r Routing) over(o Routing) Routing {
	if o.GroupBy != nil {
		r.GroupBy = slices.Clone(o.GroupBy)
	}
	if o.GroupWait != nil {
		r.GroupWait = o.GroupWait
	}
	if o.GroupInterval != nil {
		r.GroupInterval = o.GroupInterval
	}
	if o.MissingDataTimeout != nil {
		r.MissingDataTimeout = o.MissingDataTimeout
	}
	return r
}

// Wait, Interval and Timeout are the effective durations (the defaults
// when unset, for a Rule built in code).
func (r Routing) Wait() time.Duration { return durOr(r.GroupWait, DefaultGroupWait) }

// Interval is the effective group_interval.
func (r Routing) Interval() time.Duration { return durOr(r.GroupInterval, DefaultGroupInterval) }

// Timeout is the effective missing_data_timeout.
func (r Routing) Timeout() time.Duration {
	return durOr(r.MissingDataTimeout, DefaultMissingDataTimeout)
}

func durOr(d *config.Duration, def config.Duration) time.Duration {
	if d == nil {
		return time.Duration(def)
	}
	return time.Duration(*d)
}

// effectiveRouting is a rule's routing: settings, then its group, then the
// rule itself.
func (f *File) effectiveRouting(g Group, r Rule) Routing {
	return DefaultRouting().over(f.Settings.Routing).over(g.Routing).over(r.Routing)
}

// effectiveRepeat is a rule's repeat_interval: its own, its group's, or
// settings'.
func (f *File) effectiveRepeat(g Group, r Rule) config.Duration {
	switch {
	case r.RepeatInterval != 0 || r.repeatSet:
		return r.RepeatInterval
	case g.RepeatInterval != nil:
		return *g.RepeatInterval
	}
	return f.Settings.RepeatInterval
}

func validateRouting(p *problems, path string, r Routing) {
	seen := map[string]bool{}
	for i, l := range r.GroupBy {
		switch {
		case l == GroupByAll:
			if len(r.GroupBy) > 1 {
				p.add(path+".group_by", "%q groups by every label and must be alone", GroupByAll)
			}
		case !naming.ValidLabelName(l):
			p.add(path+".group_by", "[%d] %q is not a valid label name", i, l)
		case seen[l]:
			p.add(path+".group_by", "[%d] %q is listed twice", i, l)
		}
		seen[l] = true
	}
	if r.GroupWait != nil && *r.GroupWait < 0 {
		p.add(path+".group_wait", "must be >= 0 (got %s)", *r.GroupWait)
	}
	if r.GroupInterval != nil && *r.GroupInterval <= 0 {
		p.add(path+".group_interval", "must be > 0 (got %s)", *r.GroupInterval)
	}
	if r.MissingDataTimeout != nil && *r.MissingDataTimeout < 0 {
		p.add(path+".missing_data_timeout", "must be >= 0, 0 to never resolve on missing data (got %s)", *r.MissingDataTimeout)
	}
}
