package alerting_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// fleetTick is one scheduled time of a fleet: which series hold.
type fleetTick map[string]bool

// plan runs a threshold rule over ticks one minute apart and returns, per
// tick, what Plan sent: "kind:firing/new/resolved".
func plan(t *testing.T, pol alerting.Policy, keep time.Duration, labels map[string]map[string]string, ticks []fleetTick) []string {
	t.Helper()
	rule := rules.Rule{Alert: "Down", Group: "g", Expr: "up == 0", Labels: map[string]string{"severity": "critical"}}
	rule.KeepFiringFor = config.Duration(keep)
	stored := map[string]alerting.Stored{}
	var got []string
	for i, tk := range ticks {
		at := t0.Add(time.Duration(i) * time.Minute)
		ev := alerting.Evaluation{Rule: rule, At: at}
		for name, holds := range tk {
			if holds {
				ls := labels[name]
				ev.Series = append(ev.Series, alerting.Observed{Labels: ls, Fingerprint: alerting.Fingerprint(ls), Active: true})
			}
		}
		outs := alerting.Advance(ev, stored, at)
		plans := alerting.Plan("d", alerting.RefOf(rule), pol, false, outs,
			func(o alerting.Outcome) map[string]string { return alerting.AlertLabels(rule, o.Labels, 0) }, at)
		again := alerting.Advance(ev, stored, at)
		require.Equal(t, plans, alerting.Plan("d", alerting.RefOf(rule), pol, false, again,
			func(o alerting.Outcome) map[string]string { return alerting.AlertLabels(rule, o.Labels, 0) }, at), "pure")
		var line []string
		for _, p := range plans {
			nNew, nRes := 0, 0
			for _, m := range p.Members {
				if m.New {
					nNew++
				}
				if m.Resolved {
					nRes++
				}
			}
			line = append(line, fmt.Sprintf("%s:%d/%d/%d%s", p.Kind, p.Firing(), nNew, nRes, groupName(p)))
			require.Equal(t, "critical", p.Severity)
		}
		if len(line) > 0 {
			got = append(got, fmt.Sprintf("t%d %s", i, strings.Join(line, " ")))
		}
		stored = map[string]alerting.Stored{}
		for _, o := range outs {
			if o.Next.Kept() {
				stored[o.Key.Fingerprint] = alerting.Stored{Labels: o.Labels, State: o.Next}
			}
		}
	}
	return got
}

func groupName(p alerting.Planned) string {
	if v, ok := p.GroupLabels["region"]; ok {
		return "@" + v
	}
	return ""
}

func TestPlanGroupsLikeAlertmanager(t *testing.T) {
	t.Parallel()
	labels := map[string]map[string]string{
		"a": {"i": "a", "region": "eu"}, "b": {"i": "b", "region": "eu"},
		"c": {"i": "c", "region": "us"}, "d": {"i": "d", "region": "us"},
	}
	on := func(names ...string) fleetTick {
		tk := fleetTick{}
		for _, n := range names {
			tk[n] = true
		}
		return tk
	}
	for _, tc := range []struct {
		name  string
		pol   alerting.Policy
		keep  time.Duration
		ticks []fleetTick
		want  []string
	}{
		{
			name:  "staggered firing: the first at once, the rest one group_interval later, all listed",
			pol:   alerting.Policy{GroupInterval: 3 * time.Minute},
			ticks: []fleetTick{on("a"), on("a", "b"), on("a", "b", "c"), on("a", "b", "c"), on("a", "b", "c", "d"), on("a", "b", "c", "d"), on("a", "b", "c", "d")},
			want:  []string{"t0 firing:1/1/0", "t3 firing:3/2/0", "t6 firing:4/1/0"},
		},
		{
			name:  "group_wait collects the first alerts into one notification",
			pol:   alerting.Policy{GroupWait: 2 * time.Minute, GroupInterval: 5 * time.Minute},
			ticks: []fleetTick{on("a"), on("a", "b"), on("a", "b", "c"), on("a", "b", "c")},
			want:  []string{"t2 firing:3/3/0"},
		},
		{
			name:  "group_by splits by label value",
			pol:   alerting.Policy{GroupBy: []string{"region"}, GroupInterval: 5 * time.Minute},
			ticks: []fleetTick{on("a", "c"), on("a", "b", "c", "d")},
			want:  []string{"t0 firing:1/1/0@eu firing:1/1/0@us"},
		},
		{
			name:  "group_by ... notifies every series on its own",
			pol:   alerting.Policy{GroupBy: []string{rules.GroupByAll}, GroupInterval: 5 * time.Minute},
			ticks: []fleetTick{on("a", "b")},
			want:  []string{"t0 firing:1/1/0@eu firing:1/1/0@eu"},
		},
		{
			name:  "resolutions wait for group_interval and come with the alerts still firing",
			pol:   alerting.Policy{GroupInterval: 2 * time.Minute},
			ticks: []fleetTick{on("a", "b"), on("a"), on("a"), on(), on(), on()},
			want:  []string{"t0 firing:2/2/0", "t2 firing:1/0/1", "t4 resolved:0/0/1"},
		},
		{
			name:  "an alert that fires and resolves between two notifications is never notified",
			pol:   alerting.Policy{GroupInterval: 3 * time.Minute},
			ticks: []fleetTick{on("a"), on("a", "b"), on("a"), on("a"), on("a")},
			want:  []string{"t0 firing:1/1/0"},
		},
		{
			name:  "an unchanged group repeats every repeat_interval",
			pol:   alerting.Policy{GroupInterval: time.Minute, RepeatInterval: 3 * time.Minute},
			ticks: []fleetTick{on("a"), on("a"), on("a"), on("a"), on("a"), on("a"), on("a")},
			want:  []string{"t0 firing:1/1/0", "t3 repeat:1/0/0", "t6 repeat:1/0/0"},
		},
		{
			name:  "no repeat while every alert is only kept firing by keep_firing_for",
			pol:   alerting.Policy{GroupInterval: time.Minute, RepeatInterval: 2 * time.Minute},
			keep:  4 * time.Minute,
			ticks: []fleetTick{on("a"), on(), on(), on(), on(), on()},
			want:  []string{"t0 firing:1/1/0", "t5 resolved:0/0/1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, plan(t, tc.pol, tc.keep, labels, tc.ticks))
		})
	}
}
