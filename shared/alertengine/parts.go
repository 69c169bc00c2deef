package alertengine

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
