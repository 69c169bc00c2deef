package collector_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/tagging/taggingtest"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
	"github.com/sigmawatch/sigmawatch/shared/yaceimport"
)

var (
	yaceBin = flag.String("yace", "", "a YACE binary (built from its source, outside this repo) to record testdata/yace_golden.txt from")
	update  = flag.Bool("update", false, "with -yace: rewrite the golden file from YACE's output")
)

const goldenFile = "testdata/yace_golden.txt"

// The YACE config equivalent to serviceFixture.config, for recording.
const yaceConfig = `apiVersion: v1alpha1
discovery:
  exportedTagsOnMetrics:
    AWS/EC2: [Team, Missing]
    AWS/RDS: [Team]
  jobs:
    - type: AWS/EC2
      regions: [us-east-1]
      searchTags: [{key: Env, value: "^prod-%[1]s$"}]
      metrics: [{name: CPUUtilization, statistics: [Average], period: 60, length: 300}]
    - type: AWS/RDS
      regions: [us-east-1]
      searchTags: [{key: Env, value: "^prod-%[1]s$"}]
      customTags: [{key: Cost Center, value: "42"}]
      metrics: [{name: DatabaseConnections, statistics: [Sum], period: 60, length: 300}]
    - type: AWS/ApplicationELB
      regions: [us-east-1]
      searchTags: [{key: Env, value: "^prod-%[1]s$"}]
      metrics: [{name: RequestCount, statistics: [Sum], period: 60, length: 300}]
`

// normalizer replaces what differs between two seedings of moto (resource
// IDs, the unique suffix) with stable names, so a recording compares with
// any later run.
func (f *serviceFixture) normalizer() *strings.Replacer {
	id := func(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }
	return strings.NewReplacer(
		f.prodInstance, "i-PROD", f.stagingIn, "i-STAGING",
		id(f.alb), "ALBID", id(f.tg), "TGID", id(f.tgOld), "OLDTGID",
		f.u, "U",
	)
}

// goldenLine renders one series as `name{label="value",...} value`, labels
// sorted, empty labels dropped (Prometheus stores them as none), and without
// the job label sigmawatch adds (a scrape of YACE gets the scrape job's).
func goldenLine(r *strings.Replacer, name string, labels map[string]string, v float64) string {
	keys := make([]string, 0, len(labels))
	for k, val := range labels {
		if k != "job" && k != "__name__" && val != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	fmt.Fprintf(&b, "} %s", strconv.FormatFloat(v, 'g', -1, 64))
	return r.Replace(b.String())
}

// TestGoldenYACE compares the series sigmawatch writes, with the config
// -import-yace makes of a YACE config, for tagged EC2, RDS and ALB resources
// in moto (some filtered out by search tags) with what
// YACE v0.62.1 itself exported for the same resources, recorded in
// testdata/yace_golden.txt: the same names, the same labels (name = ARN,
// tag_*, dimension_*, custom_tag_*, account_alias, region, account_id), the
// same info series, and the same values.
//
// Record again with a YACE binary built from its source outside the repo:
//
//	go test ./shared/collector -run TestGoldenYACE -yace /path/to/yace -update
func TestGoldenYACE(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setAlias(t, ctx)
	now := time.Now().UTC()
	f := seedServicesAround(t, ctx, now.Truncate(time.Minute))
	r := f.normalizer()
	proxy, err := taggingtest.MotoProxy(moto.URL)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)

	if *yaceBin != "" {
		lines := runYACE(t, ctx, f, proxy.URL, r)
		if *update {
			require.NoError(t, os.WriteFile(goldenFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
		}
	}
	want, err := os.ReadFile(goldenFile)
	require.NoError(t, err)

	// The config -import-yace makes of the YACE config that was recorded.
	tr, err := yaceimport.Translate(fmt.Appendf(nil, yaceConfig, f.u))
	require.NoError(t, err)
	cfg, err := config.LoadCollect(tr.Config)
	require.NoError(t, err)
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	rcv := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, q := storeClients(t, rcv)
	c, err := collector.New(collector.Options{Config: cfg, Connector: proxiedTagging{collector.NewAWSConnector(awsCfg), proxy.URL}, Writer: w, Progress: q})
	require.NoError(t, err)
	at := now.Truncate(time.Minute)
	// Two scheduled runs, 10 minutes apart: the steady state a dashboard
	// sees (info series at every run, data at CloudWatch's timestamps).
	for _, run := range []time.Time{at.Add(-10 * time.Minute), at} {
		_, err = c.Run(ctx, run, cfg.Jobs)
		require.NoError(t, err)
	}
	got, err := q.Query(ctx, `last_over_time({__name__=~"aws_.+"}[30m])`, at)
	require.NoError(t, err)
	var lines []string
	for _, s := range got {
		lines = append(lines, goldenLine(r, s.Labels["__name__"], s.Labels, s.V))
	}
	slices.Sort(lines)
	require.Equal(t, strings.TrimSpace(string(want)), strings.Join(lines, "\n"))

	// The migration guide's YACE dashboard query, unchanged: CPU by team and
	// environment, joined with the info series (value 0, so YACE users add it). Evaluated at a time the data
	// covers (CloudWatch's timestamps lag the run by its delay).
	joined, err := q.Query(ctx, dashboardQuery, at.Add(-10*time.Minute))
	require.NoError(t, err)
	require.Len(t, joined, 1)
	require.Equal(t, map[string]string{"tag_Team": "checkout", "tag_Env": "prod-" + f.u}, joined[0].Labels)
	require.InDelta(t, 1.25, joined[0].V, 0)
}

// dashboardQuery is the query infra/guides/yace-migration.md shows.
const dashboardQuery = `max by (tag_Team, tag_Env) (aws_ec2_cpuutilization_average + on (name) group_left (tag_Env) aws_ec2_info)`

// setAlias gives moto's default account an IAM alias, as every test of
// service jobs in this package expects (account_alias is account-wide).
func setAlias(t *testing.T, ctx context.Context) {
	t.Helper()
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	creds, err := cfg.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	s := &taggingtest.Seeder{URL: moto.URL, Region: moto.Region, Creds: creds}
	require.NoError(t, s.AccountAlias(ctx, "sigmawatch-test"))
}

// runYACE runs YACE against moto (through the proxy) until it exports the
// job's series, and returns them as golden lines.
func runYACE(t *testing.T, ctx context.Context, f *serviceFixture, endpoint string, r *strings.Replacer) []string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "yace.yml")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, yaceConfig, f.u), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cmd := exec.CommandContext(ctx, *yaceBin, "-listen-address", addr, "-config.file", conf, "-enable-feature", "aws-sdk-v2", "-scraping-interval", "5")
	cmd.Env = append(os.Environ(), moto.Env()...)
	cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL="+endpoint)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		lines := scrapeYACE(t, "http://"+addr+"/metrics", r)
		if len(lines) >= 8 || time.Now().After(deadline) {
			slices.Sort(lines)
			return lines
		}
		time.Sleep(2 * time.Second)
	}
}

func scrapeYACE(t *testing.T, url string, r *strings.Replacer) []string {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a loopback test server
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bufio.NewReader(resp.Body))
	require.NoError(t, err)
	var lines []string
	for name, fam := range families {
		if !strings.HasPrefix(name, "aws_") {
			continue
		}
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			lines = append(lines, goldenLine(r, name, labels, m.GetGauge().GetValue()))
		}
	}
	return lines
}
