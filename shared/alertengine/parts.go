package alertengine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Parts: work split across invocations (issue 14). When one invocation
// cannot evaluate every rule within the function's timeout, several
// schedules each run some of the rule groups (the event's "groups"), the
// way collect's schedules split its jobs. Each such part is a run of its
// own:
//
//   - it evaluates only its groups' rules, and restores and advances only
//     their alerts (the alert state is the deployment's, without a part, so
//     a group moved to another part keeps its alerts);
//   - its own series — the last-run mark, the circuit breaker, the outbox
//     and sent marks, the lease, the run's cost — carry
//     alerting.PartLabel (alerting.Store.WithPart): parts at one scheduled
//     time are not each other's retry, do not wait for each other's turn,
//     never send each other's notifications, and never write one series at
//     one time with two values;
//   - the alerts of a group that is no longer in the rules file, and the
//     dead man's switch, belong to the part that runs the file's first
//     group (its owner): the alerts of a rule in another part are never
//     taken for a removed rule's and resolved.
//
// A part is named by its groups, sorted and joined with commas: changing a
// part's groups starts its run series afresh (a first run: no retry to
// recognise, no breaker; what its old outbox left unsent is not sent).
type part struct {
	// name is empty for the whole rules file.
	name   string
	groups map[string]bool
	// owner resolves the alerts of groups no longer in the file and runs
	// the dead man's switch.
	owner bool
}

// has reports whether the part evaluates rule group g.
func (p part) has(g string) bool { return p.name == "" || p.groups[g] }

// forPart is the engine of the run of groups (all when empty), or an error
// naming the groups the rules file does not have.
func (e *Engine) forPart(groups []string) (*Engine, error) {
	if len(groups) == 0 {
		return e, nil
	}
	var unknown []string
	set := map[string]bool{}
	for _, g := range groups {
		if !slices.ContainsFunc(e.rules.Groups, func(fg rules.Group) bool { return fg.Name == g }) {
			unknown = append(unknown, fmt.Sprintf("%q", g))
		}
		set[g] = true
	}
	if len(unknown) > 0 {
		names := make([]string, 0, len(e.rules.Groups))
		for _, g := range e.rules.Groups {
			names = append(names, g.Name)
		}
		return nil, fmt.Errorf("event.groups: no rule group %s in the rules file (it has: %s)", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	c := *e
	c.part = part{name: strings.Join(slices.Sorted(maps.Keys(set)), ","), groups: set, owner: set[e.rules.Groups[0].Name]}
	c.store = e.store.WithPart(c.part.name)
	c.log = e.log.With("part", c.part.name)
	return &c, nil
}

// partRules are the rules the run evaluates: its groups' rules, and the
// dead man's switch when it is the owner.
func (e *Engine) partRules() []rules.Rule {
	var out []rules.Rule
	for _, r := range e.rules.Rules() {
		if e.part.has(r.Group) {
			out = append(out, r)
		}
	}
	if dms, ok := e.byRef[e.dms]; ok && (e.part.name == "" || e.part.owner) {
		out = append(out, dms)
	}
	return out
}

// partStored keeps the restored alerts the run advances: those of its
// groups and, for the owner, those of groups the rules file no longer has
// (and of the dead man's switch).
func (e *Engine) partStored(stored map[alerting.RuleRef]map[string]alerting.Stored) map[alerting.RuleRef]map[string]alerting.Stored {
	if e.part.name == "" {
		return stored
	}
	inFile := map[string]bool{}
	for _, g := range e.rules.Groups {
		inFile[g.Name] = true
	}
	out := make(map[alerting.RuleRef]map[string]alerting.Stored, len(stored))
	for ref, byFP := range stored {
		if e.part.groups[ref.Group] || (e.part.owner && !inFile[ref.Group]) {
			out[ref] = byFP
		}
	}
	return out
}

// TickGroups is the run of scheduled time at for the rule groups named
// (the event's "groups"; every group when empty): see Tick, and Parts
// above for what a part shares with the others.
func (e *Engine) TickGroups(ctx context.Context, at time.Time, groups []string) (Summary, error) {
	pe, err := e.forPart(groups)
	if err != nil {
		return Summary{ScheduledTime: at.UTC(), Errors: 1}, err
	}
	return pe.Tick(ctx, at)
}

// CheckParts checks a deployment's split of the rule groups across its
// schedules against the rules file: spec is the template's AlertParts
// (SIGMAWATCH_ALERT_PARTS), parts separated by ";" and each part's groups
// by ",", e.g. "ec2-a,ec2-b;lambda;rds"; empty is no split. Every group of
// the file must be in exactly one part: a group in two parts is evaluated,
// and notified, twice (each part sends from its own outbox), and a group in
// none is never evaluated — nor, when it is the file's first group, are the
// dead man's switch and the removed rules' alerts, which its part owns. An
// unknown name would fail every run of its part. Every problem is reported,
// each naming the group and the parts; source names where spec came from.
func CheckParts(f *rules.File, source, spec string) error {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil
	}
	var problems []error
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s: "+format, append([]any{source}, args...)...))
	}
	inFile := map[string]bool{}
	names := make([]string, 0, len(f.Groups))
	for _, g := range f.Groups {
		inFile[g.Name] = true
		names = append(names, g.Name)
	}
	parts := strings.Split(spec, ";")
	where := map[string][]int{} // group → the parts (1-based) naming it
	for i, p := range parts {
		n := i + 1
		if p == "" {
			add("part %d is empty (parts are separated by \";\", groups by \",\")", n)
			continue
		}
		for _, g := range strings.Split(p, ",") {
			switch {
			case g == "":
				add("part %d (%q) has an empty group name", n, p)
			case !inFile[g]:
				add("part %d names %q, which is no rule group of the rules file (it has: %s)", n, g, strings.Join(names, ", "))
			case slices.Contains(where[g], n):
				add("part %d (%q) names %q twice", n, p, g)
			default:
				where[g] = append(where[g], n)
			}
		}
	}
	for _, g := range names {
		switch in := where[g]; {
		case len(in) == 0 && len(parts) == 1:
			add("rule group %q is not in the only part (%s): its rules would never be evaluated", g, quoteParts(parts))
		case len(in) == 0:
			add("rule group %q is in none of the %d parts (%s): its rules would never be evaluated", g, len(parts), quoteParts(parts))
		case len(in) > 1:
			add("rule group %q is in parts %s: it would be evaluated, and its alerts notified, once per part", g, joinParts(in))
		}
	}
	return errors.Join(problems...)
}

func quoteParts(parts []string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = fmt.Sprintf("%d: %q", i+1, p)
	}
	return strings.Join(q, ", ")
}

// joinParts writes part numbers as "1 and 3" or "1, 2 and 3".
func joinParts(in []int) string {
	s := make([]string, len(in))
	for i, n := range in {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
