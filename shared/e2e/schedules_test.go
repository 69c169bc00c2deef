package e2e_test

import (
	"context"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// metric is one CloudWatch series of the simulated account.
type metric struct {
	namespace, name, dimension, id string
	period                         time.Duration
	level, noise                   float64
	// burst adds to the value inside [from, to).
	burst          float64
	burstFrom, end time.Time
}

// value is the series' value at ts: the same for the history written
// straight into Prometheus and for the data put into moto, so a sample the
// collector writes again at the seam is identical (and accepted).
func (m metric) value(ts time.Time) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(m.namespace + m.name + m.id))
	v := m.level + m.noise*rand.New(rand.NewPCG(h.Sum64(), uint64(ts.Unix()))).NormFloat64()
	if !ts.Before(m.burstFrom) && ts.Before(m.end) {
		v += m.burst
	}
	return math.Round(math.Max(v, 0)*100) / 100
}

// TestCollectAndAlertOnTheirSchedules is the end-to-end run of issue 12:
// the collect CLI (against moto's CloudWatch) every 5 minutes at 3 minutes
// past the 5-minute grid, and the alert CLI every minute at 20 seconds past
// the minute, each its own process, for 3½ simulated hours with the shipped
// example configs (infra/examples/collect.yaml and rules.yaml, untouched),
// a real Prometheus and moto's SNS delivering to SQS. One instance's CPU
// bursts for 30 minutes. Exactly one firing and one resolved message must
// arrive for it — the resolved one within 30 minutes of the CPU's return to
// normal — and nothing for the other instances or the database. It also
// measures the time to page: from the CloudWatch timestamp of the first
// anomalous point to the run that published the firing message.
//
// Before issue 12 the shipped rules kept the alert firing 12 hours after
// the burst (keep_firing_for: 12h), so no resolved message came within the
// run; the evaluation read the store 15 minutes back with PromQL's 5-minute
// lookback, so whether it saw the data at all depended on the phases.
func TestCollectAndAlertOnTheirSchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	collectCLI := testenv.BuildCLI(t, "./functions/collect")
	alertCLI := testenv.BuildCLI(t, "./functions/alert")
	collectCfg := filepath.Join(root, "infra", "examples", "collect.yaml")
	rulesCfg := filepath.Join(root, "infra", "examples", "rules.yaml")

	const (
		collectPhase = 3 * time.Minute
		alertPhase   = 20 * time.Second
	)
	// Simulated time, in the past (the collector refuses a future T).
	live0 := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	hist0 := live0.Add(-7*24*time.Hour - time.Hour) // the shipped baseline is 7 days
	burstFrom := live0.Add(90 * time.Minute)
	normalAgain := burstFrom.Add(30 * time.Minute)
	end := normalAgain.Add(90 * time.Minute)
	world := []metric{
		{namespace: "AWS/EC2", name: "CPUUtilization", dimension: "InstanceId", id: "i-0burst", period: 5 * time.Minute, level: 20, noise: 2, burst: 70, burstFrom: burstFrom, end: normalAgain},
		{namespace: "AWS/EC2", name: "CPUUtilization", dimension: "InstanceId", id: "i-0quiet1", period: 5 * time.Minute, level: 20, noise: 2},
		{namespace: "AWS/EC2", name: "CPUUtilization", dimension: "InstanceId", id: "i-0quiet2", period: 5 * time.Minute, level: 45, noise: 4},
		{namespace: "AWS/RDS", name: "CPUUtilization", dimension: "DBInstanceIdentifier", id: "db-quiet", period: time.Minute, level: 30, noise: 2},
	}

	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	cw := awsconf.CloudWatch(awsCfg)
	for _, m := range world {
		var data []cwtypes.MetricDatum
		for ts := live0; ts.Before(end); ts = ts.Add(m.period) {
			data = append(data, cwtypes.MetricDatum{
				MetricName: aws.String(m.name), Timestamp: aws.Time(ts), Value: aws.Float64(m.value(ts)),
				Dimensions: []cwtypes.Dimension{{Name: aws.String(m.dimension), Value: aws.String(m.id)}},
			})
		}
		for len(data) > 0 {
			n := min(len(data), 500)
			_, err := cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(m.namespace), MetricData: data[:n]})
			require.NoError(t, err)
			data = data[n:]
		}
	}
	topic := testenv.NewTopic(t, awsCfg, t.Name())
	email := testenv.SubscribeQueue(t, awsCfg, topic, "email", "")
	sms := testenv.SubscribeQueue(t, awsCfg, topic, "sms", testenv.SMSFilterPolicy)

	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	env := append([]string{"PATH=" + os.Getenv("PATH"), "SIGMAWATCH_LOG_LEVEL=warn",
		"SIGMAWATCH_PROMETHEUS_URL=" + prom.URL, "SIGMAWATCH_REMOTE_WRITE_URL=" + prom.RemoteWriteURL,
		"SIGMAWATCH_SNS_TOPIC_ARN=" + topic, "SIGMAWATCH_EXTERNAL_URL=" + prom.URL}, moto.Env()...)
	run := func(bin, cfg string, at time.Time, extra ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-config", cfg, "-at", at.Format(time.RFC3339)}, extra...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s at %s: %s", filepath.Base(filepath.Dir(bin)), at.Format(time.RFC3339), out)
		return string(out)
	}

	// History: the 7 days before the collector's first point, written
	// straight into Prometheus under exactly the labels the collector gives
	// each series (read from a dry run of its first run), as if collect had
	// been running all along.
	firstCollect := live0.Add(15*time.Minute + collectPhase)
	labels := seriesLabels(t, run(collectCLI, collectCfg, firstCollect, "-dry-run"))
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	var hist []remotewrite.Series
	for _, m := range world {
		ls := labels[m.id]
		require.NotEmpty(t, ls, "the dry run shows %s's series", m.id)
		for _, l := range ls {
			s := remotewrite.Series{Labels: l.labels}
			for ts := hist0; ts.Before(l.first); ts = ts.Add(m.period) {
				s.Samples = append(s.Samples, remotewrite.Sample{T: ts.UnixMilli(), V: m.value(ts)})
			}
			hist = append(hist, s)
		}
	}
	for _, part := range remotewrite.Batches(hist, 100_000, 0) {
		require.NoError(t, w.Write(ctx, part))
	}

	type received struct {
		at                        time.Time
		queue, status, alert, who string
	}
	var got []received
	collects, alerts := 0, 0
	nextCollect := firstCollect
	for at := live0.Add(15*time.Minute + alertPhase); !at.After(end.Add(15 * time.Minute)); at = at.Add(time.Minute) {
		for ; !nextCollect.After(at); nextCollect = nextCollect.Add(5 * time.Minute) {
			run(collectCLI, collectCfg, nextCollect)
			collects++
		}
		run(alertCLI, rulesCfg, at)
		alerts++
		for queue, url := range map[string]string{"email": email, "sms": sms} {
			for _, m := range testenv.ReceiveSNS(t, awsCfg, url) {
				who := m.Attributes["alertname"]
				for _, id := range []string{"i-0burst", "i-0quiet1", "i-0quiet2", "db-quiet"} {
					if strings.Contains(m.Body, id) {
						who += " " + id
					}
				}
				got = append(got, received{at: at, queue: queue, status: m.Attributes["status"], alert: m.Attributes["alertname"], who: who})
			}
		}
	}
	t.Logf("%d collect runs, %d alert runs", collects, alerts)
	for _, r := range got {
		t.Logf("%s %s %s: %s (%s after the burst's first point)", r.at.Format(time.RFC3339), r.queue, r.status, r.who, r.at.Sub(burstFrom))
	}
	require.Len(t, got, 2, "one firing and one resolved message, nothing else: %+v", got)
	require.Equal(t, "email", got[0].queue, "EC2CPUAnomaly is a warning: email only")
	require.Equal(t, "firing", got[0].status)
	require.Equal(t, "EC2CPUAnomaly i-0burst", got[0].who)
	require.Equal(t, "resolved", got[1].status)
	require.Equal(t, "EC2CPUAnomaly i-0burst", got[1].who)
	timeToPage := got[0].at.Sub(burstFrom)
	timeToResolve := got[1].at.Sub(normalAgain)
	t.Logf("time to page %s, resolved %s after the first normal point", timeToPage, timeToResolve)
	require.LessOrEqual(t, timeToResolve, 30*time.Minute, "resolved within 30 minutes of the series returning to normal")
	require.Positive(t, timeToResolve)
	require.Less(t, timeToPage, 30*time.Minute)
}

// dryRunSeries is one series of a collect dry run: its labels and its
// first sample's time.
type dryRunSeries struct {
	labels []remotewrite.Label
	first  time.Time
}

// seriesLabels reads the series of a collect dry run (one sample a line,
// `name{labels} value timestamp`) and returns them per CloudWatch dimension
// value.
func seriesLabels(t *testing.T, dryRun string) map[string][]dryRunSeries {
	t.Helper()
	out := map[string][]dryRunSeries{}
	index := map[string][2]any{}
	for _, line := range strings.Split(dryRun, "\n") {
		if !strings.HasPrefix(line, "aws_") {
			continue
		}
		fields := strings.Fields(line)
		require.Len(t, fields, 3, line)
		ms, err := strconv.ParseInt(fields[2], 10, 64)
		require.NoError(t, err, line)
		ts := time.UnixMilli(ms).UTC()
		if at, ok := index[fields[0]]; ok {
			s := &out[at[0].(string)][at[1].(int)]
			if ts.Before(s.first) {
				s.first = ts
			}
			continue
		}
		matchers, err := parser.NewParser(parser.Options{}).ParseMetricSelector(fields[0])
		require.NoError(t, err, line)
		var ls []remotewrite.Label
		id := ""
		for _, m := range matchers {
			ls = append(ls, remotewrite.Label{Name: m.Name, Value: m.Value})
			if strings.HasPrefix(m.Name, "dimension_") {
				id = m.Value
			}
		}
		index[fields[0]] = [2]any{id, len(out[id])}
		out[id] = append(out[id], dryRunSeries{labels: ls, first: ts})
	}
	return out
}
