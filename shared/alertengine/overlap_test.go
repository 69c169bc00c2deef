package alertengine_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestOverlappingRuns (item 11): without reserved concurrency, a Lambda
// retry of T runs beside the run of T+1m, and EventBridge Scheduler may
// deliver one scheduled time twice. Here three processes of the built alert
// function are started together, every simulated two minutes: two for a
// scheduled time a that has not run yet (a duplicate delivery) and one for
// a+1m (the next run, overtaking it). The series fires at one such a and
// resolves at another. Every notification must arrive exactly once, and no
// state may be lost: one firing, one resolved, nothing left unsent.
func TestOverlappingRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	topic := testenv.NewTopic(t, cfg, t.Name())
	queue := testenv.SubscribeQueue(t, cfg, topic, t.Name(), "")
	rulesPath := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesPath, []byte(`
settings:
  interval: 1m
  evaluation_delay: 0s
  group_interval: 1m
groups:
  - name: app
    rules:
      - alert: QueueDeep
        expr: sw_queue_depth > 100
        labels: {severity: critical}
`), 0o600))
	bootstrap := testenv.BuildBootstrap(t, "./functions/alert")
	env := append(moto.Env(),
		"PATH="+os.Getenv("PATH"),
		"SIGMAWATCH_PROMETHEUS_URL="+prom.URL,
		"SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL,
		"SIGMAWATCH_SNS_TOPIC_ARN="+topic,
		"SIGMAWATCH_DEPLOYMENT=overlap",
		"SIGMAWATCH_LOG_LEVEL=warn",
	)
	run := func(at time.Time) (string, error) {
		cmd := exec.Command(bootstrap, "-config", rulesPath, "-at", at.Format(time.RFC3339))
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	start := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	deep := func(m int) bool { return m >= 4 && m < 12 }
	var got []testenv.SNSMessage
	for m := 0; m < 18; m += 2 {
		a, b := start.Add(time.Duration(m)*time.Minute), start.Add(time.Duration(m+1)*time.Minute)
		writePoints(t, w, "sw_queue_depth", []map[string]string{{"queue": "orders"}}, a, b, time.Minute,
			func(_ map[string]string, at time.Time) (float64, bool) {
				if deep(int(at.Sub(start) / time.Minute)) {
					return 500, true
				}
				return 3, true
			})
		var wg sync.WaitGroup
		outs := make([]string, 3)
		errs := make([]error, 3)
		for i, at := range []time.Time{a, a, b} {
			wg.Go(func() { outs[i], errs[i] = run(at) })
		}
		wg.Wait()
		for i := range outs {
			require.NoError(t, errs[i], "minute %d, process %d:\n%s", m, i, outs[i])
		}
		got = append(got, testenv.ReceiveSNS(t, cfg, queue)...)
	}

	ids := map[string]int{}
	for _, n := range got {
		ids[n.Attributes["notification_id"]]++
	}
	for id, n := range ids {
		require.Equal(t, 1, n, "notification %s arrived %d times", id, n)
	}
	require.Equal(t, map[string]int{"QueueDeep firing": 1, "QueueDeep resolved": 1}, byAlert(got),
		"one firing and one resolved: no notification sent twice, no state lost")

	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	end := start.Add(17 * time.Minute)
	unsent, err := q.Query(ctx, `count(last_over_time(sigmawatch_alert_outbox{sigmawatch_field="at"}[1h]) unless on(sigmawatch_notification_id) last_over_time(sigmawatch_alert_notification_sent[1h]))`, end)
	require.NoError(t, err)
	require.Empty(t, unsent, "nothing left unsent")
	last, err := q.Query(ctx, `max_over_time(sigmawatch_alert_last_run_timestamp_seconds{sigmawatch_deployment="overlap"}[1h])`, end)
	require.NoError(t, err)
	require.Len(t, last, 1)
	require.Equal(t, float64(end.Unix()), last[0].V, "the last run persisted")
	t.Logf("%d rounds of three processes started together: %d notifications, each once", 9, len(got))
}
