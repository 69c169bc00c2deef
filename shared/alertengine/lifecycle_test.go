package alertengine_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// The test's rules set every parameter explicitly: the shipped defaults are
// the quality work's to tune, and the golden files must not move with them.
const testRules = `
settings:
  interval: 5m
  repeat_interval: 30m
  resolve_ratio: 0.5
  max_alerts_per_notification: 5
  evaluation_delay: 0s # the test writes each point at its scheduled time
groups:
  - name: test
    rules:
      - alert: CPUAnomaly
        expr: sw_test_cpu
        for: 10m
        keep_firing_for: 5m
        labels: {severity: critical}
        annotations:
          summary: "CPU on {{ $labels.instance }} is unusual"
          description: "value {{ $value | printf \"%.1f\" }}"
          runbook_url: https://runbooks.example.com/cpu
        anomaly:
          method: window
          baseline: 1d
          threshold: 4
          resolve_threshold: 2
          direction: both
          min_history: 12h
          min_stddev: 0.1
          min_relative_stddev: 0.05
          smoothing: 0s
          sustained: 0s # the lifecycle is about the single-point check
          exclude_recent: 2h
      - alert: LoadUp
        expr: sw_test_load
        for: 0s
        labels: {severity: warning}
        anomaly:
          method: window
          baseline: 1d
          threshold: 4
          resolve_threshold: 2
          direction: up
          min_history: 12h
          min_stddev: 0.1
          min_relative_stddev: 0.05
          smoothing: 0s
          sustained: 0s # the lifecycle is about the single-point check
          exclude_recent: 2h
`

// The synthetic world: a week of 5-minute points, a spike (and, for the
// load metric, a dip) of 50 minutes from spikeStart.
var (
	spikeStart = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	spikeLen   = 50 * time.Minute
	step       = 5 * time.Minute
	historyLen = 7 * 24 * time.Hour
)

type synth struct {
	metric, instance string
	seed             uint64
	from             time.Time
	value            func(t time.Time, noise float64) float64
}

func inSpike(t time.Time) bool { return !t.Before(spikeStart) && t.Before(spikeStart.Add(spikeLen)) }

func world() []synth {
	start := spikeStart.Add(-historyLen)
	spiky := func(t time.Time, n float64) float64 {
		if inSpike(t) {
			return 90 + 2*n
		}
		return 50 + 2*n
	}
	return []synth{
		{"sw_test_cpu", "spiky", 1, start, spiky},
		{"sw_test_cpu", "flat", 2, start, func(_ time.Time, n float64) float64 { return 20 + 0.001*n }},
		// Too little history: it spikes too, and must never alert.
		{"sw_test_cpu", "young", 3, spikeStart.Add(-6 * time.Hour), spiky},
		{"sw_test_load", "dipper", 4, start, func(t time.Time, n float64) float64 {
			if inSpike(t) {
				return 5 + 2*n
			}
			return 50 + 2*n
		}},
	}
}

// points are the series' samples in (from, to].
func points(world []synth, from, to time.Time) []remotewrite.Series {
	var out []remotewrite.Series
	for _, s := range world {
		rs := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: s.metric}, {Name: "instance", Value: s.instance}, {Name: "region", Value: "us-east-1"}}}
		for t := from.Truncate(step).Add(step); !t.After(to); t = t.Add(step) {
			if t.Before(s.from) {
				continue
			}
			noise := rand.New(rand.NewPCG(s.seed, uint64(t.Unix()))).NormFloat64()
			rs.Samples = append(rs.Samples, remotewrite.Sample{T: t.UnixMilli(), V: s.value(t, noise)})
		}
		if len(rs.Samples) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// seed writes the world up to until, in time slices shorter than the
// hour a stock Prometheus accepts behind its newest sample.
func seed(t *testing.T, w *remotewrite.Client, until time.Time) {
	t.Helper()
	ctx := context.Background()
	for from := spikeStart.Add(-historyLen - step); from.Before(until); from = from.Add(45 * time.Minute) {
		to := from.Add(45 * time.Minute)
		if to.After(until) {
			to = until
		}
		require.NoError(t, w.Write(ctx, points(world(), from, to)))
	}
}

// recorder keeps what was published, then passes it on.
type recorder struct {
	mu   sync.Mutex
	next alertengine.Publisher
	sent []notify.Message
}

func (r *recorder) Publish(ctx context.Context, m notify.Message) error {
	if err := r.next.Publish(ctx, m); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

// killedAfterPublish passes writes on to the store until the run marks
// its notifications sent: it stands in for a process killed between
// publishing and recording that it did.
type killedAfterPublish struct{ next alertengine.Writer }

func (k killedAfterPublish) Write(ctx context.Context, series []remotewrite.Series) error {
	for _, s := range series {
		if s.Labels[0].Value == alerting.SentMetric {
			return errors.New("killed before marking sent")
		}
	}
	return k.next.Write(ctx, series)
}

type received struct {
	Subject, Body, Status, Alertname, Severity, ID string
}

func drain(t *testing.T, cfg aws.Config, queueURL string) []received {
	t.Helper()
	var out []received
	for _, m := range testenv.ReceiveSNS(t, cfg, queueURL) {
		out = append(out, received{Subject: m.Subject, Body: m.Body, Status: m.Attributes["status"], Alertname: m.Attributes["alertname"],
			Severity: m.Attributes["severity"], ID: m.Attributes["notification_id"]})
	}
	return out
}

// topicWithQueue creates a topic and an SQS queue subscribed to it.
func topicWithQueue(t *testing.T, cfg aws.Config) (topicARN, queueURL string) {
	t.Helper()
	topicARN = testenv.NewTopic(t, cfg, t.Name())
	return topicARN, testenv.SubscribeQueue(t, cfg, topicARN, t.Name(), "")
}

// smsStandIn subscribes another queue with the filter policy an SMS
// subscription would have (critical only): it stands in for the phone.
func smsStandIn(t *testing.T, cfg aws.Config, topicARN string) string {
	t.Helper()
	return testenv.SubscribeQueue(t, cfg, topicARN, t.Name()+"-sms", testenv.SMSFilterPolicy)
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), got, "golden %s differs (go test -update rewrites it)", path)
}

// TestAlertLifecycle seeds a fresh Prometheus with a week of history, runs
// the alert function at successive scheduled times across a spike and reads
// what an SQS subscriber of the moto topic received.
func TestAlertLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	topicARN, queueURL := topicWithQueue(t, cfg)
	smsURL := smsStandIn(t, cfg, topicARN)
	file, err := rules.Load([]byte(testRules))
	require.NoError(t, err)

	first := spikeStart.Add(-15 * time.Minute)
	seed(t, w, first.Add(-step))

	newEngine := func(rec *recorder, killed bool) *alertengine.Engine {
		// Everything built from scratch, as a cold start does.
		pub, err := notify.NewSNS(sns.NewFromConfig(cfg), topicARN)
		require.NoError(t, err)
		rec.next = pub
		var write alertengine.Writer
		write, err = remotewrite.NewClient(prom.RemoteWriteURL)
		require.NoError(t, err)
		if killed {
			write = killedAfterPublish{write}
		}
		qc, err := promql.NewClient(prom.URL, http.DefaultTransport)
		require.NoError(t, err)
		eng, err := alertengine.New(alertengine.Options{Rules: file, Query: qc, Write: write, Publish: rec,
			ExternalURL: "http://prometheus.example:9090"})
		require.NoError(t, err)
		return eng
	}
	rec := &recorder{}
	h := newEngine(rec, false)

	byRun := map[time.Time][]received{}
	last := spikeStart.Add(75 * time.Minute)
	for at := first; !at.After(last); at = at.Add(step) {
		require.NoError(t, w.Write(ctx, points(world(), at.Add(-step), at)))
		switch at {
		case spikeStart.Add(25 * time.Minute):
			h = newEngine(rec, false) // cold start in the middle of the episode
		case spikeStart.Add(40 * time.Minute):
			// Killed between publishing and marking it sent: the retry
			// repeats the notification with the same id.
			crashed := newEngine(rec, true)
			_, err := crashed.Tick(ctx, at)
			require.ErrorContains(t, err, "killed before marking sent")
			byRun[at] = append(byRun[at], drain(t, cfg, queueURL)...)
		}
		sum, err := h.Tick(ctx, at)
		require.NoError(t, err, "run at %s", at)
		if at == spikeStart.Add(40*time.Minute) {
			// The crashed attempt persisted its state and outbox: the
			// retry only sends what it left unsent.
			require.True(t, sum.Skipped)
			require.Equal(t, 1, sum.Resent)
		} else {
			require.False(t, sum.Skipped)
			require.Equal(t, 4, sum.Series, "every series is evaluated at %s", at)
		}
		byRun[at] = append(byRun[at], drain(t, cfg, queueURL)...)

		// A retry of the same scheduled time sends nothing new.
		again, err := h.Tick(ctx, at)
		require.NoError(t, err)
		require.True(t, again.Skipped, "retry of %s", at)
		require.Empty(t, drain(t, cfg, queueURL), "retry of %s published", at)

		if at == spikeStart.Add(5*time.Minute) {
			pending, err := q.Query(ctx, `sigmawatch_alerts{alertname="CPUAnomaly",alertstate="pending"}`, at)
			require.NoError(t, err)
			require.Len(t, pending, 1, "the spiky series is pending (and not notified)")
			require.Equal(t, "spiky", pending[0].Labels["instance"])
			z, err := q.Query(ctx, `sigmawatch_alert_zscore{alertname="LoadUp",instance="dipper"}`, at)
			require.NoError(t, err)
			require.Len(t, z, 1)
			require.Less(t, z[0].V, -4.0, "the dip is a strong negative deviation, ignored by direction: up")
		}
	}
	// A late retry of an earlier time, after later runs completed, does nothing.
	late, err := h.Tick(ctx, spikeStart.Add(10*time.Minute))
	require.NoError(t, err)
	require.True(t, late.Skipped)
	require.Empty(t, drain(t, cfg, queueURL))

	type note struct {
		at             time.Time
		status, prefix string
	}
	var got []note
	for at, msgs := range byRun {
		for _, m := range msgs {
			require.Equal(t, "CPUAnomaly", m.Alertname, "only the spiky CPU series may alert: %s", m.Body)
			require.Equal(t, "critical", m.Severity)
			require.Contains(t, m.Body, `instance="spiky"`)
			require.NotContains(t, m.Body, `instance="young"`)
			require.NotContains(t, m.Body, `instance="flat"`)
			require.Contains(t, m.Body, "Notification ID: "+m.ID)
			got = append(got, note{at, m.Status, strings.SplitN(m.Body, "\n", 2)[0]})
		}
	}
	want := []note{
		{spikeStart.Add(10 * time.Minute), "firing", "FIRING: CPUAnomaly"},
		{spikeStart.Add(40 * time.Minute), "firing", "FIRING (repeat): CPUAnomaly"},
		{spikeStart.Add(40 * time.Minute), "firing", "FIRING (repeat): CPUAnomaly"},
		{spikeStart.Add(55 * time.Minute), "resolved", "RESOLVED: CPUAnomaly"},
	}
	require.ElementsMatch(t, want, got, "firing once after for, repeated after repeat_interval (twice: the attempt killed before marking it sent, and its retry), resolved once after keep_firing_for")
	require.Len(t, drain(t, cfg, smsURL), len(want), "critical notifications reach the SMS filter policy")
	repeats := byRun[spikeStart.Add(40*time.Minute)]
	require.Equal(t, repeats[0].ID, repeats[1].ID, "a repeat after a crash carries the same id")

	// The flat and the young series never became pending either.
	never, err := q.Query(ctx, `count_over_time(sigmawatch_alerts{instance=~"flat|young|dipper"}[3h])`, last)
	require.NoError(t, err)
	require.Empty(t, never)

	// Golden bodies of the firing and the resolved notification.
	require.Len(t, rec.sent, 4)
	for _, m := range rec.sent {
		if m.Repeat {
			continue
		}
		checkGolden(t, string(m.Status)+"_email.golden", notify.Email(m))
		checkGolden(t, string(m.Status)+"_sms.golden", notify.SMS(m)+"\n")
		checkGolden(t, string(m.Status)+"_subject.golden", notify.Subject(m)+"\n")
		var sqsBody string
		for _, r := range byRun[m.At] {
			sqsBody = r.Body
		}
		require.Equal(t, notify.Email(m), sqsBody, "the default body is the complete email text")
		require.LessOrEqual(t, len(notify.SMS(m)), notify.MaxSMS)
	}
}
