package healthy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/backtest/healthy"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	from := healthy.JudgedFrom().Add(24 * time.Hour)
	s := healthy.Series{Incidents: []healthy.Incident{{Kind: "burst", From: from, To: from.Add(30 * time.Minute)}}}
	page := func(d time.Duration) healthy.Event { return healthy.Event{Time: from.Add(d)} }
	resolved := func(d time.Duration) healthy.Event { return healthy.Event{Time: from.Add(d), Resolved: true} }
	tests := []struct {
		name   string
		events []healthy.Event
		want   healthy.Verdict
	}{
		{name: "paged and resolved in time", events: []healthy.Event{page(5 * time.Minute), resolved(45 * time.Minute)}, want: healthy.Verdict{Worst: 15 * time.Minute}},
		{name: "missed", want: healthy.Verdict{Missed: 1}},
		{name: "paged after the end only", events: []healthy.Event{page(35 * time.Minute), resolved(50 * time.Minute)}, want: healthy.Verdict{Missed: 1}},
		{name: "still firing 30 minutes after the end", events: []healthy.Event{page(5 * time.Minute), resolved(2 * time.Hour)}, want: healthy.Verdict{Late: 1, Worst: healthy.ResolveWithin + time.Minute}},
		{name: "paged twice", events: []healthy.Event{page(5 * time.Minute), resolved(10 * time.Minute), page(20 * time.Minute), resolved(40 * time.Minute)}, want: healthy.Verdict{Repages: 1, Worst: 10 * time.Minute}},
		{name: "a page elsewhere in the judged span", events: []healthy.Event{page(-3 * time.Hour), resolved(-2 * time.Hour), page(5 * time.Minute), resolved(40 * time.Minute)}, want: healthy.Verdict{Pages: 1, Worst: 10 * time.Minute}},
		{name: "pages before the judged span do not count", events: []healthy.Event{{Time: healthy.Start.Add(time.Hour)}, {Time: healthy.Start.Add(2 * time.Hour), Resolved: true}, page(5 * time.Minute), resolved(40 * time.Minute)}, want: healthy.Verdict{Worst: 10 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := healthy.Judge(s, tt.events)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want == healthy.Verdict{} || (tt.want.Pages == 0 && tt.want.Missed == 0 && tt.want.Late == 0 && tt.want.Repages == 0), got.OK())
		})
	}
}
