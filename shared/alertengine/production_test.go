package alertengine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
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
  group_interval: 1m
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

// writePoints writes one value per step in [from, to] for each labelled series,
// in slices a stock Prometheus accepts behind its newest sample.
func writePoints(t *testing.T, w *remotewrite.Client, name string, series []map[string]string, from, to time.Time, step time.Duration, value func(labels map[string]string, at time.Time) (float64, bool)) {
	t.Helper()
	for start := from; !start.After(to); start = start.Add(45 * time.Minute) {
		var batch []remotewrite.Series
		for _, ls := range series {
			s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: name}}}
			for k, v := range ls {
				s.Labels = append(s.Labels, remotewrite.Label{Name: k, Value: v})
			}
			for ts := start; ts.Before(start.Add(45*time.Minute)) && !ts.After(to); ts = ts.Add(step) {
				if v, ok := value(ls, ts); ok {
					s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: v})
				}
			}
			if len(s.Samples) > 0 {
				batch = append(batch, s)
			}
		}
		if len(batch) > 0 {
			require.NoError(t, w.Write(context.Background(), batch))
		}
	}
}

func headline(m testenv.SNSMessage) string {
	line, _, _ := strings.Cut(m.Body, "\n")
	return line
}

// TestFleetWideEventIsGrouped (item 8): 100 instances in two regions start
// failing a status check over ten minutes, stay failed for an hour, then
// recover together. Grouped like Alertmanager (group_by region, the default
// group_wait 0s, group_interval 5m), that is a handful of messages per
// region, each listing its series — not 100 emails and 100 SMS, then 100
// repeats.
func TestFleetWideEventIsGrouped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	file := mustLoad(t, `
settings:
  interval: 1m
  repeat_interval: 30m
  evaluation_delay: 0s
groups:
  - name: ec2
    rules:
      - alert: StatusCheckFailed
        expr: sw_status_check_failed > 0
        labels: {severity: critical}
        group_by: [region]
`)
	s := newStack(t, alertengine.Options{Rules: file, Deployment: "fleet"}, prom.URL, prom.RemoteWriteURL)
	sms := testenv.SubscribeQueue(t, s.cfg, s.topicARN, t.Name()+"-sms", testenv.SMSFilterPolicy)
	var fleet []map[string]string
	for i := range 100 {
		fleet = append(fleet, map[string]string{"instance": fmt.Sprintf("i-%03d", i), "region": []string{"us-east-1", "eu-west-1"}[i%2]})
	}
	start := time.Now().UTC().Truncate(time.Minute).Add(-3 * time.Hour)
	broken := func(ls map[string]string, at time.Time) bool {
		var i int
		_, _ = fmt.Sscanf(ls["instance"], "i-%d", &i)
		since := start.Add(time.Duration(i/10) * time.Minute) // ten more every minute
		return !at.Before(since) && at.Before(start.Add(70*time.Minute))
	}
	status := func(ls map[string]string, at time.Time) (float64, bool) {
		if broken(ls, at) {
			return 1, true
		}
		return 0, true
	}
	var msgs []testenv.SNSMessage
	var got []string
	for at := start; !at.After(start.Add(90 * time.Minute)); at = at.Add(time.Minute) {
		writePoints(t, w, "sw_status_check_failed", fleet, at, at, time.Minute, status)
		_, err := s.eng.Tick(ctx, at)
		require.NoError(t, err)
		for _, m := range s.received(t) {
			msgs = append(msgs, m)
			region := "us-east-1"
			if strings.Contains(m.Body, `Group:     {region="eu-west-1"}`) {
				region = "eu-west-1"
			}
			series := strings.TrimSpace(strings.SplitN(strings.SplitN(m.Body, "Series:", 2)[1], "\n", 2)[0])
			got = append(got, fmt.Sprintf("+%s %s %s %s", at.Sub(start), headline(m), region, series))
			t.Logf("%s  %s", m.Subject, m.Attributes["summary"])
		}
	}
	require.ElementsMatch(t, []string{
		// Ten instances at once, five per region: notified at once.
		"+0s FIRING: StatusCheckFailed eu-west-1 5", "+0s FIRING: StatusCheckFailed us-east-1 5",
		// Fifty more over the next four minutes: one group_interval later.
		"+5m0s FIRING: StatusCheckFailed eu-west-1 30 firing (25 new)", "+5m0s FIRING: StatusCheckFailed us-east-1 30 firing (25 new)",
		"+10m0s FIRING: StatusCheckFailed eu-west-1 50 firing (20 new)", "+10m0s FIRING: StatusCheckFailed us-east-1 50 firing (20 new)",
		// Unchanged for repeat_interval: one reminder per group.
		"+40m0s FIRING (repeat): StatusCheckFailed eu-west-1 50", "+40m0s FIRING (repeat): StatusCheckFailed us-east-1 50",
		// Recovered together: one resolved per group.
		"+1h10m0s RESOLVED: StatusCheckFailed eu-west-1 50", "+1h10m0s RESOLVED: StatusCheckFailed us-east-1 50",
	}, got, "a fleet-wide event is one message per group per interval, listing the series")
	require.Len(t, testenv.ReceiveSNS(t, s.cfg, sms), len(msgs), "the SMS subscriber gets the same few")
	listed := map[string]bool{}
	for _, m := range msgs {
		for _, inst := range fleet {
			if strings.Contains(m.Body, `instance="`+inst["instance"]+`"`) {
				listed[inst["instance"]] = true
			}
		}
	}
	require.NotEmpty(t, listed, "the messages list their series")
}

// TestNoRepeatWhileOnlyKeepFiringForHolds (item 9): a 5-minute burst with
// keep_firing_for 30m and repeat_interval 10m. While the alert is only kept
// firing (the condition no longer holds) it must not repeat "FIRING" every
// 10 minutes with nothing to say; it resolves once keep_firing_for is over.
func TestNoRepeatWhileOnlyKeepFiringForHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	file := mustLoad(t, `
settings:
  interval: 1m
  repeat_interval: 10m
  evaluation_delay: 0s
groups:
  - name: app
    rules:
      - alert: Burst
        expr: sw_errors > 10
        keep_firing_for: 30m
        labels: {severity: critical}
`)
	s := newStack(t, alertengine.Options{Rules: file, Deployment: "burst"}, prom.URL, prom.RemoteWriteURL)
	start := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Hour)
	one := []map[string]string{{"service": "shop"}}
	writePoints(t, w, "sw_errors", one, start, start.Add(50*time.Minute), time.Minute, func(_ map[string]string, at time.Time) (float64, bool) {
		if at.Before(start.Add(5 * time.Minute)) {
			return 50, true
		}
		return 1, true
	})
	var got []string
	for at := start; !at.After(start.Add(50 * time.Minute)); at = at.Add(time.Minute) {
		_, err := s.eng.Tick(ctx, at)
		require.NoError(t, err)
		for _, m := range s.received(t) {
			got = append(got, fmt.Sprintf("+%s %s", at.Sub(start), m.Attributes["status"]))
		}
	}
	require.Equal(t, []string{"+0s firing", "+35m0s resolved"}, got,
		"fired once, no repeat while only keep_firing_for held, resolved 30m after the burst ended")
}

// TestMissingDataResolves (item 3): an anomaly rule with missing_data keep
// fires on a series that then disappears (a terminated instance; an ALB 5xx
// count, which CloudWatch publishes only when non-zero). After the
// missing-data timeout (1h by default) the alert resolves, saying why,
// instead of repeating for ever.
func TestMissingDataResolves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	file := mustLoad(t, `
settings:
  interval: 5m
  evaluation_delay: 0s
  lookback_delta: 5m # the test writes each point before its tick: no late data to wait for
groups:
  - name: alb
    rules:
      - alert: ALB5xxAnomaly
        expr: sw_5xx
        labels: {severity: critical}
        anomaly:
          baseline: 1d
          threshold: 4
          min_history: 12h
          smoothing: 0s
          sustained: 0s
`)
	s := newStack(t, alertengine.Options{Rules: file, Deployment: "gone"}, prom.URL, prom.RemoteWriteURL)
	burst := time.Now().UTC().Truncate(time.Hour).Add(-4 * time.Hour)
	one := []map[string]string{{"lb": "shop"}}
	writePoints(t, w, "sw_5xx", one, burst.Add(-24*time.Hour), burst, 5*time.Minute, func(_ map[string]string, at time.Time) (float64, bool) {
		if at.Equal(burst) {
			return 500, true
		}
		return 10 + float64(at.Unix()/300%3), true // then nothing: the series is gone
	})
	var got []testenv.SNSMessage
	var when []string
	for at := burst; !at.After(burst.Add(3 * time.Hour)); at = at.Add(5 * time.Minute) {
		_, err := s.eng.Tick(ctx, at)
		require.NoError(t, err)
		for _, m := range s.received(t) {
			got = append(got, m)
			when = append(when, fmt.Sprintf("+%s %s", at.Sub(burst), m.Attributes["status"]))
		}
	}
	// The last point is at +0s; an instant query still sees it at +5m on
	// Prometheus 2 (its lookback includes a sample exactly 5m old; 3's does
	// not), so the data went missing after +0s or +5m.
	require.Len(t, when, 2, "one firing, one resolved: %v", when)
	require.Equal(t, "+0s firing", when[0])
	require.Contains(t, []string{"+1h0m0s resolved", "+1h5m0s resolved"}, when[1], "resolved once the data had been missing for the timeout")
	require.Contains(t, got[1].Body, "no data for 1h", "the resolved message says why")
}

// TestRemovedRuleResolves (item 3): a rule fires, then the rules file
// changes: the rule is renamed. Its stored alert must resolve with "rule
// removed" — not stay firing in sigmawatch_alert_state with no resolved
// message ever sent — and the renamed rule fires as a new alert.
func TestRemovedRuleResolves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	rulesFile := func(name string) *rules.File {
		return mustLoad(t, `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: app
    rules:
      - alert: `+name+`
        expr: sw_queue_depth > 100
        labels: {severity: critical}
`)
	}
	at := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	writePoints(t, w, "sw_queue_depth", []map[string]string{{"queue": "orders"}}, at, at.Add(5*time.Minute), time.Minute,
		func(map[string]string, time.Time) (float64, bool) { return 500, true })
	before := newStack(t, alertengine.Options{Rules: rulesFile("QueueDeep"), Deployment: "renamed"}, prom.URL, prom.RemoteWriteURL)
	_, err = before.eng.Tick(ctx, at)
	require.NoError(t, err)
	fired := before.received(t)
	require.Len(t, fired, 1)
	require.Equal(t, "QueueDeep", fired[0].Attributes["alertname"])

	// Redeployed with the rule renamed; same deployment, same topic.
	after := newStack(t, alertengine.Options{Rules: rulesFile("QueueBacklog"), Deployment: "renamed", Publish: publisherTo(t, before)}, prom.URL, prom.RemoteWriteURL)
	_, err = after.eng.Tick(ctx, at.Add(time.Minute))
	require.NoError(t, err)
	var got []string
	for _, m := range before.received(t) {
		got = append(got, m.Attributes["alertname"]+" "+m.Attributes["status"])
		if m.Attributes["status"] == "resolved" {
			require.Contains(t, m.Body, "rule removed")
			require.Equal(t, "critical", m.Attributes["severity"], "the resolve reaches the phone the firing reached")
		}
	}
	require.ElementsMatch(t, []string{"QueueDeep resolved", "QueueBacklog firing"}, got)

	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	old, err := q.Query(ctx, `last_over_time(sigmawatch_alert_state{alertname="QueueDeep",sigmawatch_field="state"}[1h])`, at.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, old, 1)
	require.Zero(t, old[0].V, "the removed rule's alert is stored inactive")
	_, err = after.eng.Tick(ctx, at.Add(2*time.Minute))
	require.NoError(t, err)
	require.Empty(t, before.received(t), "resolved once")
}

// publisherTo publishes to s's topic.
func publisherTo(t *testing.T, s *stack) alertengine.Publisher {
	t.Helper()
	p, err := notify.NewSNS(sns.NewFromConfig(s.cfg), s.topicARN)
	require.NoError(t, err)
	return p
}

// isWrite matches remote-write requests; isPublish SNS Publish calls.
func isWrite(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/api/v1/write") }

func isPublish(r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return bytes.Contains(body, []byte("Action=Publish"))
}

const snsInternalError = "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code><Message>injected</Message></Error></ErrorResponse>"

// twoAlwaysFiring are two rules that fire at the first run: two
// notifications per run that has something to say.
const twoAlwaysFiring = `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: app
    rules:
      - alert: QueueDeep
        expr: sw_queue_depth > 100
        labels: {severity: critical}
      - alert: DiskFull
        expr: sw_disk_used > 0.9
        labels: {severity: critical}
`

func writeTwoFiring(t *testing.T, w *remotewrite.Client, from, to time.Time) {
	t.Helper()
	writePoints(t, w, "sw_queue_depth", []map[string]string{{"queue": "orders"}}, from, to, time.Minute,
		func(map[string]string, time.Time) (float64, bool) { return 500, true })
	writePoints(t, w, "sw_disk_used", []map[string]string{{"volume": "data"}}, from, to, time.Minute,
		func(map[string]string, time.Time) (float64, bool) { return 0.95, true })
}

// byAlert counts the received messages per alertname and status.
func byAlert(msgs []testenv.SNSMessage) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		out[m.Attributes["alertname"]+" "+m.Attributes["status"]]++
	}
	return out
}

// TestStateWriteRefused (item 2): the store answers 503 to the state write
// for five runs while two rules fire. Nothing may be paged every minute:
// each alert is notified once, after the store takes its state again.
func TestStateWriteRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	proxy := testenv.NewFaultProxy(t, prom.URL)
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	wc, err := remotewrite.NewClient(proxy.URL+"/api/v1/write", remotewrite.WithMaxAttempts(2), remotewrite.WithBackoff(10*time.Millisecond, 20*time.Millisecond))
	require.NoError(t, err)
	var logs bytes.Buffer
	s := newStack(t, alertengine.Options{Rules: mustLoad(t, twoAlwaysFiring), Deployment: "refused", Write: wc,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, prom.URL, "")
	start := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)

	// A healthy run first: nothing fires yet.
	_, err = s.eng.Tick(ctx, start)
	require.NoError(t, err)
	var got []testenv.SNSMessage
	for i := 1; i <= 10; i++ {
		at := start.Add(time.Duration(i) * time.Minute)
		writeTwoFiring(t, w, at, at)
		if i <= 5 {
			proxy.Set(&testenv.Fault{Status: 503, Body: "injected", Match: isWrite})
		}
		sum, err := s.eng.Tick(ctx, at)
		proxy.Set(nil)
		if i <= 5 {
			require.Error(t, err, "run %d: a refused state write fails the run visibly", i)
			require.Zero(t, sum.Notifications, "run %d: nothing is published without its state", i)
		} else {
			require.NoError(t, err)
		}
		// While the store refuses writes a run cannot even take its turn.
		// The first run after finds the last persisted run six intervals
		// old: the circuit breaker records the run and notifies nothing;
		// the next run goes on from there.
		require.Equal(t, i == 6, sum.CircuitOpen, "run %d", i)
		got = append(got, s.received(t)...)
	}
	require.Equal(t, map[string]int{"QueueDeep firing": 1, "DiskFull firing": 1}, byAlert(got),
		"each alert notified once, not once per refused run")
	require.Contains(t, logs.String(), "circuit breaker open", "its own log line")
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	open, err := q.Query(ctx, `max_over_time(sigmawatch_alert_circuit_open{sigmawatch_deployment="refused"}[20m])`, start.Add(10*time.Minute))
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.InDelta(t, 1, open[0].V, 0, "its own health series")
}

// TestOnePublishOfSeveralFails (item 2): two rules fire at T and SNS refuses
// one of the two publishes. What went out must be recorded as sent: the
// Lambda retry of T (or, when the next scheduled run gets there first, that
// run) sends only the refused one, with its id — and the other retry then
// sends nothing.
func TestOnePublishOfSeveralFails(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"retry first", "next run first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
			w, err := remotewrite.NewClient(prom.RemoteWriteURL)
			require.NoError(t, err)
			cfg, err := moto.AWSConfig(ctx)
			require.NoError(t, err)
			snsProxy := testenv.NewFaultProxy(t, moto.URL)
			snsCfg := cfg.Copy()
			snsCfg.BaseEndpoint = aws.String(snsProxy.URL)
			topic := testenv.NewTopic(t, cfg, t.Name())
			pub, err := notify.NewSNS(sns.NewFromConfig(snsCfg), topic)
			require.NoError(t, err)
			s := newStack(t, alertengine.Options{Rules: mustLoad(t, twoAlwaysFiring), Deployment: "partial", Publish: pub}, prom.URL, prom.RemoteWriteURL)
			s.queueURL = testenv.SubscribeQueue(t, cfg, topic, t.Name(), "")

			at := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
			writeTwoFiring(t, w, at, at.Add(time.Minute))
			// The SDK's standard retryer makes three attempts: refuse all
			// three of the first publish, then let the second through.
			snsProxy.Set(&testenv.Fault{Status: 500, Body: snsInternalError, Match: isPublish, Times: 3})
			_, err = s.eng.Tick(ctx, at)
			require.Error(t, err, "one publish of two failed")
			first := s.received(t)
			require.Len(t, first, 1, "the other went out")

			retry := func() { _, err := s.eng.Tick(ctx, at); require.NoError(t, err) }
			next := func() { _, err := s.eng.Tick(ctx, at.Add(time.Minute)); require.NoError(t, err) }
			if order == "retry first" {
				retry()
				next()
			} else {
				next()
				retry() // late: the next run already ran
			}
			rest := s.received(t)
			require.Len(t, rest, 1, "only the refused one is sent again: %v", byAlert(rest))
			require.NotEqual(t, first[0].Attributes["alertname"], rest[0].Attributes["alertname"])
			require.Equal(t, map[string]int{"QueueDeep firing": 1, "DiskFull firing": 1}, byAlert(append(first, rest...)))
			require.Contains(t, rest[0].Body, "At:        "+at.Format(time.RFC3339), "sent as planned at T")
		})
	}
}

// TestBlackHoledAlertmanager (item 2): the optional Alertmanager accepts
// the connection and never answers. The run must still persist its state
// and send its notification within its deadline, so the next run does not
// page again.
func TestBlackHoledAlertmanager(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	am := testenv.StartAlertmanager(t)
	hole := testenv.NewFaultProxy(t, am.URL)
	hole.Set(&testenv.Fault{Delay: 30 * time.Second}) // far past the run's 8s deadline
	sink, err := notify.NewAlertmanager(hole.URL, nil)
	require.NoError(t, err)
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	s := newStack(t, alertengine.Options{Rules: mustLoad(t, twoAlwaysFiring), Deployment: "hole", Sink: sink}, prom.URL, prom.RemoteWriteURL)
	at := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	writeTwoFiring(t, w, at, at.Add(2*time.Minute))

	runCtx, cancel := context.WithTimeout(ctx, 8*time.Second)
	_, err = s.eng.Tick(runCtx, at)
	cancel()
	require.ErrorContains(t, err, "alertmanager", "the sink's failure is reported")
	require.Len(t, s.received(t), 2, "both notifications went out")

	hole.Set(nil)
	_, err = s.eng.Tick(ctx, at.Add(time.Minute))
	require.NoError(t, err)
	require.Empty(t, s.received(t), "the state was persisted: nothing is paged again")
}

// TestTemplatedSeverityRoutes (item 8): a rule whose severity label is a
// template (critical above 90%, warning below). The SNS filter attribute
// must carry the expanded value, or the SMS subscription (filter severity
// = critical) never matches; and SMS go out as Transactional, which
// carriers deliver ahead of promotional traffic.
func TestTemplatedSeverityRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	file := mustLoad(t, `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: disk
    rules:
      - alert: DiskFilling
        expr: sw_disk_used_percent > 80
        labels:
          severity: '{{ if gt $value 90.0 }}critical{{ else }}warning{{ end }}'
`)
	s := newStack(t, alertengine.Options{Rules: file, Deployment: "templated"}, prom.URL, prom.RemoteWriteURL)
	sms := testenv.SubscribeQueue(t, s.cfg, s.topicARN, t.Name()+"-sms", testenv.SMSFilterPolicy)
	at := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	writePoints(t, w, "sw_disk_used_percent", []map[string]string{{"volume": "data"}, {"volume": "logs"}}, at, at, time.Minute,
		func(ls map[string]string, _ time.Time) (float64, bool) {
			if ls["volume"] == "data" {
				return 97, true
			}
			return 85, true
		})
	_, err = s.eng.Tick(ctx, at)
	require.NoError(t, err)
	email := s.received(t)
	require.Len(t, email, 2, "one group per severity")
	severities := map[string]string{}
	for _, m := range email {
		severities[m.Attributes["severity"]] = m.Body
	}
	require.Contains(t, severities["critical"], `volume="data"`)
	require.Contains(t, severities["warning"], `volume="logs"`)
	phone := testenv.ReceiveSNS(t, s.cfg, sms)
	require.Len(t, phone, 1, "the critical one reaches the phone")
	require.Contains(t, phone[0].Body, `volume="data"`)
	require.Equal(t, "Transactional", phone[0].Attributes["AWS.SNS.SMS.SMSType"])
}
