package alertengine_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

const twoParts = `
settings:
  interval: 1m
  evaluation_delay: 0s
  group_interval: 1m
groups:
  - name: a
    rules:
      - alert: PartA
        expr: sw_part_a > 0
        labels: {severity: warning}
  - name: b
    rules:
      - alert: PartB
        expr: sw_part_b > 0
        labels: {severity: warning}
`

// TestPartsShareADeployment (issue 14, work split across invocations): two
// schedules of one deployment each run one rule group at the same
// scheduled times, on one store, through one topic. Each must fire and
// resolve its own alert, one page per incident; neither may take the
// other's alert for a removed rule's and resolve it, nor skip its run as a
// retry of the other's, nor wait for the other's turn; and a Lambda retry of
// either sends nothing new. Before parts had their own run series and
// restored only their own alerts, the second part at every minute was
// skipped as a retry of the first, and the first resolved the second's
// alert as "rule removed".
func TestPartsShareADeployment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	s := newStack(t, alertengine.Options{Rules: mustLoad(t, twoParts), Deployment: "parts"}, prom.URL, prom.RemoteWriteURL)

	at := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	// PartA is on for minutes 0–1, PartB for minutes 1–2: their incidents
	// overlap, so each part runs while the other's alert fires.
	values := [][2]float64{{1, 0}, {1, 1}, {0, 1}, {0, 0}, {0, 0}}
	type sent struct{ alert, status string }
	var got []sent
	for i, v := range values {
		now := at.Add(time.Duration(i) * time.Minute)
		require.NoError(t, w.Write(ctx, []remotewrite.Series{
			{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_part_a"}}, Samples: []remotewrite.Sample{{T: now.UnixMilli(), V: v[0]}}},
			{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_part_b"}}, Samples: []remotewrite.Sample{{T: now.UnixMilli(), V: v[1]}}},
		}))
		for _, g := range []string{"a", "b"} {
			sum, err := s.eng.TickGroups(ctx, now, []string{g})
			require.NoError(t, err)
			require.False(t, sum.Skipped, "minute %d, part %s: skipped as a retry of the other part", i, g)
			require.Equal(t, g, sum.Part)
			require.Equal(t, 1, sum.Rules, "minute %d, part %s: its own rule only", i, g)
			// A Lambda retry of the same part and time sends nothing new.
			retry, err := s.eng.TickGroups(ctx, now, []string{g})
			require.NoError(t, err)
			require.True(t, retry.Skipped, "minute %d, part %s: the retry finds its own run", i, g)
			require.Zero(t, retry.Notifications)
		}
		for _, m := range s.received(t) {
			got = append(got, sent{m.Attributes["alertname"], m.Attributes["status"]})
		}
	}
	require.Equal(t, []sent{
		{"PartA", "firing"}, {"PartB", "firing"}, {"PartA", "resolved"}, {"PartB", "resolved"},
	}, got, "each part fires and resolves its own alert, once")

	// Every run series carries its part; the alert state does not.
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	parts, err := q.Query(ctx, `count by (sigmawatch_part) (last_over_time(sigmawatch_alert_last_run_timestamp_seconds{sigmawatch_deployment="parts"}[1h]))`, at.Add(10*time.Minute))
	require.NoError(t, err)
	var names []string
	for _, p := range parts {
		names = append(names, p.Labels["sigmawatch_part"])
	}
	slices.Sort(names)
	require.Equal(t, []string{"a", "b"}, names)

	_, err = s.eng.TickGroups(ctx, at.Add(10*time.Minute), []string{"a", "nope"})
	require.ErrorContains(t, err, `event.groups: no rule group "nope" in the rules file (it has: a, b)`)
}

// TestPartsRemovedGroup: a config change between runs removes group b (and
// its schedule) while its alert fires. The part that runs the file's first
// group resolves it, once; a part that does not (c, here) never does.
func TestPartsRemovedGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	before := newStack(t, alertengine.Options{Rules: mustLoad(t, twoParts), Deployment: "removed"}, prom.URL, prom.RemoteWriteURL)
	at := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	write := func(now time.Time) {
		require.NoError(t, w.Write(ctx, []remotewrite.Series{
			{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_part_a"}}, Samples: []remotewrite.Sample{{T: now.UnixMilli(), V: 0}}},
			{Labels: []remotewrite.Label{{Name: "__name__", Value: "sw_part_b"}}, Samples: []remotewrite.Sample{{T: now.UnixMilli(), V: 1}}},
		}))
	}
	write(at)
	for _, g := range []string{"a", "b"} {
		_, err := before.eng.TickGroups(ctx, at, []string{g})
		require.NoError(t, err)
	}
	got := before.received(t)
	require.Len(t, got, 1)
	require.Equal(t, "PartB", got[0].Attributes["alertname"])

	// Group b is gone; a third group c has its own schedule. The same
	// deployment, store and topic.
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	pub, err := notify.NewSNS(sns.NewFromConfig(before.cfg), before.topicARN)
	require.NoError(t, err)
	after, err := alertengine.New(alertengine.Options{Rules: mustLoad(t, `
settings:
  interval: 1m
  evaluation_delay: 0s
  group_interval: 1m
groups:
  - name: a
    rules:
      - alert: PartA
        expr: sw_part_a > 0
  - name: c
    rules:
      - alert: PartC
        expr: vector(0) > 1
`), Query: q, Write: w, Publish: pub, Deployment: "removed"})
	require.NoError(t, err)
	var resolved []string
	for i := 1; i <= 3; i++ {
		now := at.Add(time.Duration(i) * time.Minute)
		write(now)
		for _, g := range []string{"c", "a"} {
			_, err := after.TickGroups(ctx, now, []string{g})
			require.NoError(t, err)
		}
		for _, m := range before.received(t) {
			resolved = append(resolved, m.Attributes["alertname"]+" "+m.Attributes["status"])
		}
	}
	require.Equal(t, []string{"PartB resolved"}, resolved, "resolved once, by the part of the file's first group")
}
