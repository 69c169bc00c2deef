package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestLambdaEventShapes runs the built bootstrap under the real Runtime
// Interface Emulator and invokes it with the EventBridge Scheduler input and
// with the classic scheduled-rule event: the scheduled time of each must
// reach runOnce and be the time the run's health series are stamped at.
func TestLambdaEventShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	job := strings.ReplaceAll(testenv.UniqueName(t.Name()), "-", "_")
	cfgPath := filepath.Join(t.TempDir(), "collect.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
jobs:
  - name: %s
    regions: [us-east-1]
    namespace: Probe/%s
    static:
      - {Service: probe}
    metrics:
      - name: Probe%s
        statistics: [Sum]
  - name: other
    regions: [us-east-1]
    namespace: Probe/other
    static:
      - {Service: other}
    metrics:
      - name: ProbeOther
        statistics: [Sum]
`, job, job, job)), 0o600))
	bootstrap := testenv.BuildBootstrap(t, "./functions/collect")
	env := append(moto.Env(),
		"SIGMAWATCH_CONFIG="+cfgPath,
		"SIGMAWATCH_REMOTE_WRITE_URL="+prom.RemoteWriteURL,
		"SIGMAWATCH_PROMETHEUS_URL="+prom.URL,
	)
	rie := testenv.StartEmulator(t, bootstrap, env...)

	base := time.Now().UTC().Truncate(time.Minute)
	t1, t2 := base.Add(-10*time.Minute), base.Add(-5*time.Minute)
	events := []struct {
		name  string
		at    time.Time
		event string
		jobs  []string
	}{
		{"scheduler input with jobs", t1, fmt.Sprintf(`{"time":%q,"jobs":[%q]}`, t1.Format(time.RFC3339), job), []string{job}},
		{"classic scheduled event", t2, fmt.Sprintf(`{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":%q,"region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/r"],"detail":{}}`, t2.Format(time.RFC3339)), []string{job, "other"}},
	}
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	for _, ev := range events {
		body, err := rie.Invoke(ctx, []byte(ev.event))
		require.NoError(t, err, "%s: %s\n%s", ev.name, body, rie.Output())
		var sum collector.Summary
		require.NoError(t, json.Unmarshal(body, &sum), string(body))
		require.True(t, ev.at.Equal(sum.ScheduledTime), "%s: runOnce saw %s, want %s", ev.name, sum.ScheduledTime, ev.at)
		require.Equal(t, ev.jobs, sum.Jobs, ev.name)
		got, err := q.Query(ctx, fmt.Sprintf(`sigmawatch_collect_last_success_timestamp_seconds{job=%q}`, job), ev.at)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.True(t, ev.at.Equal(got[0].T.Add(0)) || got[0].T.Equal(ev.at), "health stamped at %s", got[0].T)
		require.InDelta(t, float64(ev.at.Unix()), got[0].V, 0, "%s: last success must be the scheduled time", ev.name)
		t.Logf("%s: invoked the emulator, runOnce got %s and stamped its health series there", ev.name, sum.ScheduledTime.Format(time.RFC3339))
	}
	// A malformed event is the function's error, not a silent run.
	body, err := rie.Invoke(ctx, []byte(`{"time":"<aws.scheduler.scheduled-time>"}`))
	require.Error(t, err)
	require.Contains(t, string(body), "is not RFC 3339")
}

// TestVerifyConfigMalformed runs the built binary as a CLI: a malformed
// file exits non-zero and names the file and every problem.
func TestVerifyConfigMalformed(t *testing.T) {
	t.Parallel()
	bootstrap := testenv.BuildBootstrap(t, "./functions/collect")
	path, err := filepath.Abs("testdata/malformed.yaml")
	require.NoError(t, err)
	cmd := exec.Command(bootstrap, "-verify-config", "-config", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, string(out))
	require.Equal(t, 1, exitErr.ExitCode())
	for _, want := range []string{path, "colour", "jobs[0].metrics[0].statistics[1]", "p1000", "period"} {
		require.Contains(t, string(out), want)
	}
	t.Logf("exit %d:\n%s", exitErr.ExitCode(), out)

	examples, err := filepath.Glob("../../infra/examples/collect*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(examples), 2, "the example and the multi-region example")
	for _, good := range examples {
		out, err = exec.Command(bootstrap, "-verify-config", "-config", good).CombinedOutput()
		require.NoError(t, err, string(out))
		require.Contains(t, string(out), "ok")
	}

	// A receiver kind that contradicts the remote-write URL is refused:
	// Amazon Managed Service for Prometheus stores series by series.
	cfg := filepath.Join(t.TempDir(), "collect.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("receiver: {kind: prometheus}\njobs:\n  - {name: a, namespace: N, dimensions: [], metrics: [{name: M, statistics: [Sum]}]}\n"), 0o600))
	cmd = exec.Command(bootstrap, "-verify-config", "-config", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SIGMAWATCH_REMOTE_WRITE_URL=https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"}
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "receiver.kind: prometheus, but SIGMAWATCH_REMOTE_WRITE_URL is an Amazon Managed Service for Prometheus workspace")
}
