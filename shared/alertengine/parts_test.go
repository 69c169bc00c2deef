package alertengine_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
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

const fourGroups = `
settings:
  interval: 1m
groups:
  - name: ec2-cpu-0
    rules: [{alert: CPU0, expr: 'sw_cpu{shard="0"} > 90'}]
  - name: ec2-cpu-1
    rules: [{alert: CPU1, expr: 'sw_cpu{shard="1"} > 90'}]
  - name: lambda
    rules: [{alert: Errors, expr: 'sw_errors > 0'}]
  - name: rds
    rules: [{alert: Conns, expr: 'sw_conns > 100'}]
`

// TestCheckParts (issue 14): the deployment's split of the rule groups
// across schedules (the template's AlertParts) must put every group of the
// rules file in exactly one part. Before this check, a group in two parts
// was evaluated and notified by both, a group in none silently never, and
// an unknown name failed only at its part's first run.
func TestCheckParts(t *testing.T) {
	t.Parallel()
	f := mustLoad(t, fourGroups)
	tests := []struct {
		name string
		spec string
		// want are the problems reported, each a substring of one line;
		// none means the split is good.
		want []string
	}{
		{name: "no split", spec: ""},
		{name: "one part of every group", spec: "ec2-cpu-0,ec2-cpu-1,lambda,rds"},
		{name: "four parts", spec: "ec2-cpu-0;ec2-cpu-1;lambda;rds"},
		{name: "two parts, any order", spec: "rds,ec2-cpu-1;lambda,ec2-cpu-0"},
		{name: "a group in two parts", spec: "ec2-cpu-0,ec2-cpu-1;ec2-cpu-1;lambda;rds",
			want: []string{`SIGMAWATCH_ALERT_PARTS: rule group "ec2-cpu-1" is in parts 1 and 2: it would be evaluated, and its alerts notified, once per part`}},
		{name: "a group in three parts", spec: "lambda,rds;lambda,ec2-cpu-0;lambda,ec2-cpu-1",
			want: []string{`rule group "lambda" is in parts 1, 2 and 3`}},
		{name: "a group in no part", spec: "ec2-cpu-0;ec2-cpu-1;lambda",
			want: []string{`SIGMAWATCH_ALERT_PARTS: rule group "rds" is in none of the 3 parts (1: "ec2-cpu-0", 2: "ec2-cpu-1", 3: "lambda"): its rules would never be evaluated`}},
		{name: "the first group in no part", spec: "ec2-cpu-1,lambda,rds",
			want: []string{`rule group "ec2-cpu-0" is not in the only part (1: "ec2-cpu-1,lambda,rds")`}},
		{name: "an unknown group", spec: "ec2-cpu-0,ec2-cpu-1;lambda;rds;ec2-cpu-2",
			want: []string{`part 4 names "ec2-cpu-2", which is no rule group of the rules file (it has: ec2-cpu-0, ec2-cpu-1, lambda, rds)`}},
		{name: "a name with a space is not trimmed", spec: "ec2-cpu-0,ec2-cpu-1; lambda;rds",
			want: []string{`part 2 names " lambda"`, `rule group "lambda" is in none`}},
		{name: "an empty part", spec: "ec2-cpu-0,ec2-cpu-1;;lambda,rds", want: []string{"part 2 is empty"}},
		{name: "a trailing separator", spec: "ec2-cpu-0,ec2-cpu-1;lambda,rds;", want: []string{"part 3 is empty"}},
		{name: "an empty group name", spec: "ec2-cpu-0,,ec2-cpu-1;lambda,rds", want: []string{`part 1 ("ec2-cpu-0,,ec2-cpu-1") has an empty group name`}},
		{name: "a group twice in one part", spec: "ec2-cpu-0,ec2-cpu-1,ec2-cpu-0;lambda,rds", want: []string{`part 1 ("ec2-cpu-0,ec2-cpu-1,ec2-cpu-0") names "ec2-cpu-0" twice`}},
		{name: "every problem at once", spec: "ec2-cpu-0;ec2-cpu-0;nope",
			want: []string{`"ec2-cpu-0" is in parts 1 and 2`, `part 3 names "nope"`, `"ec2-cpu-1" is in none`, `"lambda" is in none`, `"rds" is in none`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := alertengine.CheckParts(f, "SIGMAWATCH_ALERT_PARTS", tt.spec)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tt.want), "one line per problem:\n%v", err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			for _, l := range lines {
				require.True(t, strings.HasPrefix(l, "SIGMAWATCH_ALERT_PARTS: "), "every problem names its source: %q", l)
			}
		})
	}
}
