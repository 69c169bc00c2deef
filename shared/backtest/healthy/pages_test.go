package healthy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/backtest/healthy"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// shipped is the rule a user gets from an anomaly block left empty, mapped
// the way the deployed function and `alert -backtest` map it.
func shipped(t *testing.T, block string) backtest.Rule {
	t.Helper()
	f, err := rules.Load([]byte(fmt.Sprintf(`
groups:
  - name: g
    rules:
      - alert: A
        expr: x
        anomaly: %s
`, block)))
	require.NoError(t, err)
	r, err := backtest.RuleFromConfig(f.Rules()[0], f.Settings)
	require.NoError(t, err)
	return r
}

func replay(t *testing.T, r backtest.Rule, s healthy.Series) healthy.Verdict {
	t.Helper()
	r.Fingerprint = s.Name + "@" + s.Resolution.String()
	ticks, _, err := backtest.Run(s.Points, r)
	require.NoError(t, err)
	var events []healthy.Event
	for _, tk := range ticks {
		switch tk.Notification.Kind {
		case alerting.KindFiring:
			events = append(events, healthy.Event{Time: tk.Time})
		case alerting.KindResolved:
			events = append(events, healthy.Event{Time: tk.Time, Resolved: true})
		}
	}
	return healthy.Judge(s, events)
}

// TestShippedDefaultsNeverPageOnHealthySeries is issue 13's bar: with an
// `anomaly: {}` block, no page in the last 14 days of any healthy pattern,
// at 1-minute and at 5-minute resolution. The defaults before it (method
// window: a 7-day trailing z-score with a 90-minute sustained check) page
// on business hours, the nightly batch job and the daily and weekly cycles.
func TestShippedDefaultsNeverPageOnHealthySeries(t *testing.T) {
	t.Parallel()
	r := shipped(t, "{}")
	old := shipped(t, "{method: window}")
	oldPages := 0
	for _, s := range suite() {
		t.Run(s.Name+"@"+s.Resolution.String(), func(t *testing.T) {
			require.Zero(t, replay(t, r, s).Pages)
		})
		if s.Resolution == 5*time.Minute {
			// The old detector's point is made at one resolution; the
			// 1-minute replays would only slow make test down.
			oldPages += replay(t, old, s).Pages
		}
	}
	require.Positive(t, oldPages, "the old defaults paged on the healthy suite")
}

// TestShippedDefaultsPageOnIncidents: a burst (twice, a day apart), a level
// shift and a metric that drops to zero each page once while they last and
// resolve within 30 minutes of their end, and nothing else pages.
func TestShippedDefaultsPageOnIncidents(t *testing.T) {
	t.Parallel()
	r := shipped(t, "{}")
	for _, s := range incidents() {
		t.Run(s.Name+"@"+s.Resolution.String(), func(t *testing.T) {
			t.Parallel()
			v := replay(t, r, s)
			require.True(t, v.OK(), "%+v", v)
			require.LessOrEqual(t, v.Worst, healthy.ResolveWithin)
		})
	}
}
