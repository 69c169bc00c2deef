package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

const thresholdRules = `
settings:
  interval: 5m
groups:
  - name: probe
    rules:
      - alert: AlwaysOn
        expr: vector(1) > 0
        labels: {severity: warning}
        annotations: {summary: "the probe fires"}
`

// TestLambdaEventShapes runs the built bootstrap under the Runtime Interface
// Emulator with the Scheduler input and the classic scheduled-rule event:
// each scheduled time reaches the engine, the state is stamped there, and the
// first run publishes to the real (moto) topic.
func TestLambdaEventShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	topicARN := testenv.NewTopic(t, cfg, t.Name())
	queueURL := testenv.SubscribeQueue(t, cfg, topicARN, t.Name(), "")
	smsURL := testenv.SubscribeQueue(t, cfg, topicARN, t.Name()+"-sms", testenv.SMSFilterPolicy)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte(thresholdRules), 0o600))
	bootstrap := testenv.BuildBootstrap(t, "./functions/alert")
	rie := testenv.StartEmulator(t, bootstrap, append(moto.Env(),
		"SIGMAWATCH_CONFIG="+path,
		"SIGMAWATCH_PROMETHEUS_URL="+prom.URL,
		"SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL,
		"SIGMAWATCH_SNS_TOPIC_ARN="+topicARN,
	)...)

	base := time.Now().UTC().Truncate(time.Minute)
	t1, t2 := base.Add(-10*time.Minute), base.Add(-5*time.Minute)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	for _, ev := range []struct {
		name, event string
		at          time.Time
		firing      int
	}{
		{"scheduler input", fmt.Sprintf(`{"time":%q}`, t1.Format(time.RFC3339)), t1, 1},
		{"classic scheduled event", fmt.Sprintf(`{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":%q,"region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/r"],"detail":{}}`, t2.Format(time.RFC3339)), t2, 1},
	} {
		body, err := rie.Invoke(ctx, []byte(ev.event))
		require.NoError(t, err, "%s: %s\n%s", ev.name, body, rie.Output())
		var sum alertengine.Summary
		require.NoError(t, json.Unmarshal(body, &sum), string(body))
		require.True(t, ev.at.Equal(sum.ScheduledTime), "%s: the engine saw %s", ev.name, sum.ScheduledTime)
		require.Equal(t, ev.firing, sum.Firing, ev.name)
		got, err := q.Query(ctx, `sigmawatch_alert_last_run_timestamp_seconds`, ev.at)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.InDelta(t, float64(ev.at.Unix()), got[0].V, 0, "%s: stamped at the scheduled time", ev.name)
	}
	msgs := testenv.ReceiveSNS(t, cfg, queueURL)
	require.Len(t, msgs, 1, "fired once, not repeated within repeat_interval")
	require.Equal(t, "firing", msgs[0].Attributes["status"])
	require.Equal(t, "AlwaysOn", msgs[0].Attributes["alertname"])
	require.Empty(t, testenv.ReceiveSNS(t, cfg, smsURL), "a warning does not pass the SMS filter policy")

	// A retry of the first time, after the second ran, does nothing.
	body, err := rie.Invoke(ctx, []byte(fmt.Sprintf(`{"time":%q}`, t1.Format(time.RFC3339))))
	require.NoError(t, err, string(body))
	require.Contains(t, string(body), `"skipped":true`)

	body, err = rie.Invoke(ctx, []byte(`{"time":"<aws.scheduler.scheduled-time>"}`))
	require.Error(t, err)
	require.Contains(t, string(body), "is not RFC 3339")

	// A schedule running some rule groups (a part): the engine runs those,
	// as a part; a group the rules do not have and a collect schedule's
	// jobs are refused.
	t3 := base.Add(-2 * time.Minute)
	body, err = rie.Invoke(ctx, []byte(fmt.Sprintf(`{"time":%q,"groups":["probe"]}`, t3.Format(time.RFC3339))))
	require.NoError(t, err, "%s\n%s", body, rie.Output())
	var part alertengine.Summary
	require.NoError(t, json.Unmarshal(body, &part), string(body))
	require.Equal(t, "probe", part.Part)
	require.Equal(t, 1, part.Firing, "the part restores the deployment's alert state: still firing, not fired again")
	require.Empty(t, testenv.ReceiveSNS(t, cfg, queueURL), "not notified again")
	for event, want := range map[string]string{
		`{"time":%q,"groups":["nope"]}`: `no rule group \"nope\"`,
		`{"time":%q,"jobs":["ec2"]}`:    `event.jobs: the alert function takes`,
	} {
		body, err = rie.Invoke(ctx, []byte(fmt.Sprintf(event, t3.Format(time.RFC3339))))
		require.Error(t, err, event)
		require.Contains(t, string(body), want, event)
	}
}

// TestCLI runs the built binary: -verify-config, the required environment,
// and -dry-run, which prints the notification and the state instead of
// publishing and writing.
func TestCLI(t *testing.T) {
	t.Parallel()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte(thresholdRules), 0o600))
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: 'up >'\n"), 0o600))
	bootstrap := testenv.BuildBootstrap(t, "./functions/alert")
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(bootstrap, args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x"}, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	out, err := run(nil, "-verify-config", "-config", path)
	require.NoError(t, err, out)
	require.Contains(t, out, "ok (1 rules)")
	out, err = run(nil, "-verify-config", "-config", bad)
	require.Error(t, err)
	require.Contains(t, out, "groups[0].rules[0] (X).expr")

	out, err = run(nil, "-config", path)
	require.Error(t, err)
	for _, v := range []string{"SIGMAWATCH_PROMETHEUS_URL", "SIGMAWATCH_REMOTE_WRITE_URL", "SIGMAWATCH_SNS_TOPIC_ARN"} {
		require.Contains(t, out, v+": required")
	}

	at := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	out, err = run([]string{"SIGMAWATCH_PROMETHEUS_URL=" + prom.URL}, "-dry-run", "-config", path, "-at", at.Format(time.RFC3339))
	require.NoError(t, err, out)
	require.Contains(t, out, "Subject: [FIRING] AlwaysOn")
	require.Contains(t, out, "Notification ID: ")
	require.Contains(t, out, `sigmawatch_alerts{alertname="AlwaysOn",alertstate="firing",severity="warning",sigmawatch_deployment="default"} 1`)
	require.Contains(t, out, `"notifications_sent":1`)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	stored, err := q.Query(context.Background(), `count({__name__=~"sigmawatch_.+"})`, at)
	require.NoError(t, err)
	require.Empty(t, stored, "-dry-run writes nothing")
	require.False(t, strings.Contains(out, `"level":"ERROR"`), out)

	// A malformed topic ARN is refused at start; a well-formed one that does
	// not exist fails the publish: the state and the planned notification
	// are persisted, nothing is marked sent, so a retry publishes it again.
	out, err = run([]string{"SIGMAWATCH_PROMETHEUS_URL=" + prom.URL, "SIGMAWATCH_REMOTE_WRITE_URL=" + prom.RemoteWriteURL, "SIGMAWATCH_SNS_TOPIC_ARN=sigmawatch-alerts"}, "-config", path, "-at", at.Format(time.RFC3339))
	require.Error(t, err)
	require.Contains(t, out, `SIGMAWATCH_SNS_TOPIC_ARN: "sigmawatch-alerts" is not an SNS topic ARN`)
	missing := "arn:aws:sns:us-east-1:123456789012:" + testenv.UniqueName(t.Name())
	out, err = run(append(moto.Env(), "SIGMAWATCH_PROMETHEUS_URL="+prom.URL, "SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL, "SIGMAWATCH_SNS_TOPIC_ARN="+missing), "-config", path, "-at", at.Format(time.RFC3339))
	require.Error(t, err, out)
	require.Contains(t, out, "sns publish AlwaysOn")
	require.Contains(t, out, "NotFound")
	sent, err := q.Query(context.Background(), `count(sigmawatch_alert_notification_sent)`, at)
	require.NoError(t, err)
	require.Empty(t, sent, "nothing is marked sent")
	unsent, err := q.Query(context.Background(), `count(sigmawatch_alert_outbox{sigmawatch_field="at"})`, at)
	require.NoError(t, err)
	require.Len(t, unsent, 1, "the notification stays recorded for the retry")
	require.InDelta(t, 1, unsent[0].V, 0)
	t.Logf("injected: a nonexistent topic; the run failed with: %s", lastLine(out))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestAlertmanagerSinkAuth: the Alertmanager of Mimir or AMP sits behind
// the same auth as the store. With SIGMAWATCH_AUTH=bearer and
// SIGMAWATCH_HEADERS carrying the tenant, the sink must send both; a proxy
// in front of the real Alertmanager refuses anything else with 401.
func TestAlertmanagerSinkAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	am := testenv.StartAlertmanager(t)
	target, err := url.Parse(am.URL)
	require.NoError(t, err)
	var refused atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Scope-OrgID") != "team-a" || r.Header.Get("Authorization") != "Bearer s3cret-token" {
			refused.Add(1)
			http.Error(w, "no tenant or no token", http.StatusUnauthorized)
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	topic := testenv.NewTopic(t, cfg, t.Name())
	dir := t.TempDir()
	rulesPath, tokenPath := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(rulesPath, []byte(thresholdRules), 0o600))
	require.NoError(t, os.WriteFile(tokenPath, []byte("s3cret-token\n"), 0o600))
	cmd := exec.Command(testenv.BuildBootstrap(t, "./functions/alert"), "-config", rulesPath, "-at", time.Now().UTC().Truncate(time.Minute).Format(time.RFC3339))
	cmd.Env = append(moto.Env(), "PATH="+os.Getenv("PATH"),
		"SIGMAWATCH_PROMETHEUS_URL="+prom.URL, "SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL, "SIGMAWATCH_SNS_TOPIC_ARN="+topic,
		"SIGMAWATCH_AUTH=bearer", "SIGMAWATCH_AUTH_FILE="+tokenPath, "SIGMAWATCH_HEADERS=X-Scope-OrgID=team-a",
		"SIGMAWATCH_ALERTMANAGER_URL="+proxy.URL)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Zero(t, refused.Load(), "every call to Alertmanager carried the tenant and the token")
	require.NotContains(t, string(out), "s3cret-token", "the token appears in no output")

	resp, err := http.Get(am.URL + "/api/v2/alerts")
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&alerts))
	require.Len(t, alerts, 1)
	require.Equal(t, "AlwaysOn", alerts[0].Labels["alertname"])
}

// TestTestNotification runs `alert -test-notification` against the moto
// topic: one clearly labelled message reaches the email subscriber and,
// with severity critical, the SMS subscriber's filter policy; its SMS body
// fits one SMS and goes out as Transactional. It needs only the topic.
func TestTestNotification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	topic := testenv.NewTopic(t, cfg, t.Name())
	email := testenv.SubscribeQueue(t, cfg, topic, t.Name(), "")
	sms := testenv.SubscribeQueue(t, cfg, topic, t.Name()+"-sms", testenv.SMSFilterPolicy)
	cmd := exec.Command(testenv.BuildBootstrap(t, "./functions/alert"), "-test-notification")
	cmd.Env = append(moto.Env(), "PATH="+os.Getenv("PATH"), "SIGMAWATCH_SNS_TOPIC_ARN="+topic, "SIGMAWATCH_DEPLOYMENT=sigmawatch-prod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "published a test notification to "+topic)

	got := testenv.ReceiveSNS(t, cfg, email)
	require.Len(t, got, 1)
	require.Equal(t, "[TEST] sigmawatch notification test from sigmawatch-prod (critical)", got[0].Subject)
	require.Contains(t, got[0].Body, "Nothing is wrong.")
	require.Equal(t, "critical", got[0].Attributes["severity"])
	phone := testenv.ReceiveSNS(t, cfg, sms)
	require.Len(t, phone, 1, "the SMS filter policy lets it through")
	require.True(t, strings.HasPrefix(phone[0].Attributes["summary"], "TEST sigmawatch sigmawatch-prod:"), phone[0].Attributes["summary"])
	require.LessOrEqual(t, len(phone[0].Attributes["summary"]), 140)
	require.Equal(t, "Transactional", phone[0].Attributes["AWS.SNS.SMS.SMSType"])

	cmd = exec.Command(testenv.BuildBootstrap(t, "./functions/alert"), "-test-notification")
	cmd.Env = append(moto.Env(), "PATH="+os.Getenv("PATH"))
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "SIGMAWATCH_SNS_TOPIC_ARN: required")
}
