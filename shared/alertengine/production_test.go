package alertengine_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// The production-conditions suite (issue 12): each test sets up what
// production brings and the tests on the happy path did not model, against
// the real Prometheus and moto SNS → SQS.

// stack is one deployment of the alert function: its engine, its topic and
// an SQS subscriber standing in for its email subscription.
type stack struct {
	eng      *alertengine.Engine
	cfg      aws.Config
	topicARN string
	queueURL string
}

// newStack wires an engine the way functions/alert does, against the
// store at promURL (PromQL) and writeURL (remote write).
func newStack(t *testing.T, o alertengine.Options, promURL, writeURL string) *stack {
	t.Helper()
	cfg, err := moto.AWSConfig(context.Background())
	require.NoError(t, err)
	s := &stack{cfg: cfg}
	s.topicARN = testenv.NewTopic(t, cfg, t.Name()+o.Deployment)
	s.queueURL = testenv.SubscribeQueue(t, cfg, s.topicARN, t.Name()+o.Deployment, "")
	if o.Query == nil {
		o.Query, err = promql.NewClient(promURL, http.DefaultTransport)
		require.NoError(t, err)
	}
	if o.Write == nil {
		o.Write, err = remotewrite.NewClient(writeURL)
		require.NoError(t, err)
	}
	if o.Publish == nil {
		o.Publish, err = notify.NewSNS(sns.NewFromConfig(cfg), s.topicARN)
		require.NoError(t, err)
	}
	s.eng, err = alertengine.New(o)
	require.NoError(t, err)
	return s
}

func (s *stack) received(t *testing.T) []testenv.SNSMessage {
	t.Helper()
	return testenv.ReceiveSNS(t, s.cfg, s.queueURL)
}

func mustLoad(t *testing.T, yaml string) *rules.File {
	t.Helper()
	f, err := rules.Load([]byte(yaml))
	require.NoError(t, err)
	return f
}

// TestTwoDeploymentsShareAStore (item 4): two stacks (two regions, two
// teams) write their alert state to one store. Each must fire its own
// alert, resolve it, and never skip a run because the other ran.
func TestTwoDeploymentsShareAStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	const probe = `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: probe
    rules:
      - alert: Probe
        expr: sw_probe > 0
        labels: {severity: warning}
`
	file := mustLoad(t, probe)
	a := newStack(t, alertengine.Options{Rules: file, Deployment: "stack-a"}, prom.URL, prom.RemoteWriteURL)
	b := newStack(t, alertengine.Options{Rules: file, Deployment: "stack-b"}, prom.URL, prom.RemoteWriteURL)

	at := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	value := func(at time.Time, v float64) {
		require.NoError(t, w.Write(ctx, []remotewrite.Series{{
			Labels:  []remotewrite.Label{{Name: "__name__", Value: "sw_probe"}},
			Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: v}},
		}}))
	}
	statuses := func(s *stack) []string {
		var out []string
		for _, m := range s.received(t) {
			out = append(out, m.Attributes["status"])
		}
		return out
	}
	for i, v := range []float64{1, 1, 0, 0} {
		now := at.Add(time.Duration(i) * time.Minute)
		value(now, v)
		// Stack A runs first every minute, as a stack in another region
		// whose schedule happens to be a few seconds ahead would.
		for _, s := range []*stack{a, b} {
			sum, err := s.eng.Tick(ctx, now)
			require.NoError(t, err)
			require.False(t, sum.Skipped, "minute %d: a run of the other deployment made this one skip", i)
		}
	}
	require.Equal(t, []string{"firing", "resolved"}, statuses(a), "stack A: its own firing and resolved")
	require.Equal(t, []string{"firing", "resolved"}, statuses(b), "stack B: its own firing and resolved, not switched off by A's state")

	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	for _, d := range []string{"stack-a", "stack-b"} {
		got, err := q.Query(ctx, `count by (sigmawatch_deployment) (last_over_time({__name__=~"sigmawatch_alert.*", sigmawatch_deployment="`+d+`"}[1h]))`, at.Add(5*time.Minute))
		require.NoError(t, err)
		require.Len(t, got, 1, "%s: every series the alert function writes about itself carries its deployment", d)
	}
	unlabelled, err := q.Query(ctx, `count(last_over_time({__name__=~"sigmawatch_alert.*", sigmawatch_deployment=""}[1h]))`, at.Add(5*time.Minute))
	require.NoError(t, err)
	require.Empty(t, unlabelled, "no series without a deployment")
}

// TestDeadMansSwitchAtScheduledTime (item 10): the collector last succeeded
// 12 minutes before T and the switch's max_age is 10 minutes, so the run at
// T must page. The rules' evaluation_delay (15m, for CloudWatch data that
// lands late) must not delay the switch, which watches sigmawatch's own
// series, stamped at the collector's scheduled time.
func TestDeadMansSwitchAtScheduledTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	file := mustLoad(t, `
settings:
  interval: 1m
  evaluation_delay: 15m
  dead_mans_switch: {max_age: 10m}
groups:
  - name: quiet
    rules:
      - alert: Never
        expr: vector(1) < 0
`)
	s := newStack(t, alertengine.Options{Rules: file, Deployment: "dms"}, prom.URL, prom.RemoteWriteURL)
	at := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	// The collector ran every 5 minutes and last succeeded at T−12m.
	health := remotewrite.Series{Labels: []remotewrite.Label{
		{Name: "__name__", Value: "sigmawatch_collect_last_success_timestamp_seconds"},
		{Name: "job", Value: "ec2"}, {Name: "sigmawatch_deployment", Value: "dms"},
	}}
	for ts := at.Add(-72 * time.Minute); !ts.After(at.Add(-12 * time.Minute)); ts = ts.Add(5 * time.Minute) {
		health.Samples = append(health.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: float64(ts.Unix())})
	}
	require.NoError(t, w.Write(ctx, []remotewrite.Series{health}))

	sum, err := s.eng.Tick(ctx, at)
	require.NoError(t, err)
	require.Equal(t, 1, sum.Firing, "stale for 12m > max_age 10m at T: the switch fires at T, not 15 minutes later")
	got := s.received(t)
	require.Len(t, got, 1)
	require.Equal(t, "SigmawatchCollectStale", got[0].Attributes["alertname"])
	require.Equal(t, "critical", got[0].Attributes["severity"])
	require.Contains(t, got[0].Body, `job="ec2"`)
}
