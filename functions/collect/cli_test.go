package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// seedCLI puts two instances' CPU into moto and returns a config for them.
func seedCLI(t *testing.T) (cfgPath, namespace, metric string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	uid := strings.ReplaceAll(testenv.UniqueName(t.Name()), "-", "")
	uid = uid[max(0, len(uid)-10):]
	namespace, metric = "Cli/"+uid, "Cpu"+uid
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	cw := awsconf.CloudWatch(awsCfg)
	at = time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	var data []cwtypes.MetricDatum
	for _, id := range []string{"i-a", "i-b"} {
		for ts := at.Add(-30 * time.Minute); ts.Before(at); ts = ts.Add(time.Minute) {
			data = append(data, cwtypes.MetricDatum{
				MetricName: aws.String(metric), Timestamp: aws.Time(ts), Value: aws.Float64(float64(ts.Minute())),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(id)}},
			})
		}
	}
	_, err = cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(namespace), MetricData: data})
	require.NoError(t, err)
	cfgPath = filepath.Join(t.TempDir(), "collect.yaml")
	// No regions: the job collects in the process's own region (AWS_REGION).
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `
interval: 5m
jobs:
  - name: cli
    namespace: %s
    dimensions: [InstanceId]
    metrics:
      - {name: %s, statistics: [Average, Maximum]}
`, namespace, metric), 0o600))
	return cfgPath, namespace, metric, at
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bootstrap := testenv.BuildBootstrap(t, "./functions/collect")
	cmd := exec.Command(bootstrap, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, moto.Env()...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCLIPlan(t *testing.T) {
	t.Parallel()
	cfgPath, _, _, _ := seedCLI(t)
	out, err := runCLI(t, "-plan", "-config", cfgPath)
	require.NoError(t, err, out)
	t.Logf("collect -plan:\n%s", out)
	// 2 instances × 2 statistics = 4 series; no GetResources and no
	// GetRestApis (no service job); one GetMetricData call a run; one
	// PromQL query a run (progress), one more after a listing with new
	// series (one metrics entry, one target); 8,640 runs a month at 5m →
	// 34,560 metrics → $0.35.
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "cli") {
			line = l
		}
	}
	require.Equal(t, []string{"cli", "1", "2", "4", "1", "0", "0", "1", "1", "1", "34560", "0.35"}, strings.Fields(line))
	require.Contains(t, out, "schedule every 5m;")
}

func TestCLIDryRun(t *testing.T) {
	t.Parallel()
	cfgPath, ns, metric, at := seedCLI(t)
	out, err := runCLI(t, "-dry-run", "-config", cfgPath, "-at", at.Add(10*time.Minute).Format(time.RFC3339))
	require.NoError(t, err, out)
	name := naming.MetricName(ns, metric, "Average")
	var samples []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, name+"{") {
			samples = append(samples, l)
		}
	}
	// A first run covers [T-10m-5m, T-10m): 5 points per instance.
	require.Len(t, samples, 10, out)
	perInstance := map[string]int{}
	for _, s := range samples {
		for _, id := range []string{"i-a", "i-b"} {
			if strings.Contains(s, fmt.Sprintf(`dimension_InstanceId=%q`, id)) {
				perInstance[id]++
			}
		}
	}
	require.Equal(t, map[string]int{"i-a": 5, "i-b": 5}, perInstance)
	require.Contains(t, samples[0], `region="us-east-1"`, "a job without regions collects in AWS_REGION")
	require.Contains(t, out, fmt.Sprintf(" %d\n", at.Add(-5*time.Minute).UnixMilli()), "the first point of the window [T-15m, T-10m) is at T-15m")
	require.Contains(t, out, fmt.Sprintf(" %d\n", at.Add(-time.Minute).UnixMilli()), "and the last at T-11m")
	require.Contains(t, out, `"message":"collect run finished"`)
	require.Contains(t, out, `"samples":20`)
}

// TestNoSecretsInOutput runs the collect CLI with recognisable basic-auth
// credentials against a store that refuses them (401), and scans everything
// the process printed — logs and the error — for the secret.
func TestNoSecretsInOutput(t *testing.T) {
	t.Parallel()
	const password = "pw-RECOGNISABLE-4f9a1c"
	var seen []string
	var mu sync.Mutex
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprint(w, "bad credentials")
	}))
	t.Cleanup(store.Close)
	cfgPath, _, _, at := seedCLI(t)
	authFile := filepath.Join(t.TempDir(), "auth.json")
	require.NoError(t, os.WriteFile(authFile, fmt.Appendf(nil, `{"username":"sigmawatch","password":%q}`, password), 0o600))
	bootstrap := testenv.BuildBootstrap(t, "./functions/collect")
	cmd := exec.Command(bootstrap, "-config", cfgPath, "-at", at.Add(10*time.Minute).Format(time.RFC3339))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"),
		"SIGMAWATCH_AUTH=basic", "SIGMAWATCH_AUTH_FILE=" + authFile,
		"SIGMAWATCH_REMOTE_WRITE_URL=" + store.URL + "/api/v1/write", "SIGMAWATCH_PROMETHEUS_URL=" + store.URL,
		"SIGMAWATCH_LOG_LEVEL=debug",
	}, moto.Env()...)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "a 401 fails the run")
	require.Contains(t, string(out), "401")
	mu.Lock()
	require.NotEmpty(t, seen, "the credentials were sent")
	require.True(t, strings.HasPrefix(seen[0], "Basic "))
	mu.Unlock()
	encoded := base64.StdEncoding.EncodeToString([]byte("sigmawatch:" + password))
	require.NotContains(t, string(out), password)
	require.NotContains(t, string(out), encoded)
	t.Logf("injected: 401 from the store with recognisable credentials; scanned %d bytes of output, no secret in it", len(out))
}

// TestCLIImportYACE: -import-yace prints a collect.yaml that -verify-config
// accepts, with what it could not translate in its comments.
func TestCLIImportYACE(t *testing.T) {
	t.Parallel()
	out, err := runCLI(t, "-import-yace", "../../infra/examples/yace/unsupported.yml")
	require.NoError(t, err, out)
	require.Contains(t, out, `# NOTE: discovery.jobs[0]: type "AWS/Kafka" is not a service`)
	path := filepath.Join(t.TempDir(), "collect.yaml")
	require.NoError(t, os.WriteFile(path, []byte(out), 0o600))
	out, err = runCLI(t, "-verify-config", "-config", path)
	require.NoError(t, err, out)
	require.Contains(t, out, "ok (1 jobs)")
	out, err = runCLI(t, "-import-yace", "does-not-exist.yml")
	require.Error(t, err)
	require.Contains(t, out, "-import-yace: open does-not-exist.yml")
}
