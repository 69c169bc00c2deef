package collector_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"

	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestColdProcessNewSeries is the matrix's "new resource" step (issue 11
// item 8) with the discovery cache production has: process A lists,
// caches the listing for discovery_ttl and writes progress; a resource
// appears; A keeps running from its cached listing; then a new process B
// (a new Lambda environment: new cache, nothing in memory) runs. B must
// collect the new resource from its first datapoint; A and B then take
// turns (concurrency), A with its older listing; and a third process
// starting cold after that must not ask the store anything more. After each step what is stored equals
// what was seeded, each sample once, and skipped_seconds is what was given
// up: nothing.
func TestColdProcessNewSeries(t *testing.T) {
	t.Parallel()
	everyReceiver(t, runColdProcess)
}

func runColdProcess(t *testing.T, kind string, r *testenv.Receiver) {
	ctx := context.Background()
	uid := shortID(testenv.UniqueName(t.Name()), 10)
	// Midnight a day ago: every scheduled time is in the past.
	A := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	ns, cpu := "Cold/EC2"+uid, "Cpu"+uid
	ec2 := func(id, stat string) mSeries {
		return mSeries{job: "ec2", region: use1, account: mainAccount, ns: ns, metric: cpu, stat: stat, dims: [][2]string{{"InstanceId", id}}}
	}
	// One progress shard: the new instance joins a unit that has progress.
	// Two statistics: two series per CloudWatch metric, one datapoint a
	// minute, so the Minimum of a bucket is its Maximum.
	ia, inew := ec2("i-a", "Maximum"), ec2("i-new", "Maximum")
	iaMin, inewMin := ec2("i-a", "Minimum"), ec2("i-new", "Minimum")
	e := &matrixExpect{seeded: map[string]map[int64]float64{}, want: map[string]map[int64]float64{}}
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	seed := func(s mSeries, from, to time.Time) {
		t.Helper()
		seedMinutes(t, ctx, awsCfg, e, s, from, to)
	}
	seed(ia, A.Add(-time.Hour), A.Add(3*time.Hour))

	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
receiver: {kind: %s}
interval: 5m
max_catch_up: 45m
discovery_ttl: 1h
progress_shards: 1
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: ec2
    regions: [%s]
    namespace: %s
    dimensions: [InstanceId]
    metrics:
      - {name: %s, statistics: [Maximum, Minimum]}
`, kind, use1, ns, cpu))
	require.NoError(t, err)
	w, q := storeClients(t, r)
	// The processes' clock: the discovery cache's TTL runs on it.
	var clock time.Time
	process := func() *collector.Collector {
		c, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q,
			Now: func() time.Time { return clock }})
		require.NoError(t, err)
		return c
	}
	run := func(c *collector.Collector, at time.Time) collector.Summary {
		t.Helper()
		clock = at
		sum, err := c.Run(ctx, at, cfg.Jobs)
		require.NoError(t, err, "run at A+%s", at.Sub(A))
		require.NoError(t, r.Flush(ctx))
		got, err := q.Query(ctx, fmt.Sprintf(`%s{job="ec2"}`, collector.SkippedMetric), at)
		require.NoError(t, err)
		require.Len(t, got, 1, "skipped_seconds of the run at A+%s", at.Sub(A))
		require.True(t, got[0].T.Equal(at))
		require.Zero(t, got[0].V, "nothing is given up")
		return sum
	}
	check := func(step string) {
		t.Helper()
		requireStored(t, ctx, r, q, e.want, A.Add(3*time.Hour))
		t.Logf("%s: %s: stored equals seeded, each sample once", kind, step)
	}
	at := func(d time.Duration) time.Time { return A.Add(d) }
	mi := time.Minute

	procA := process()
	run(procA, at(15*mi))
	run(procA, at(20*mi))
	e.cover(mi, A, at(10*mi), ia, iaMin)
	check("process A: first runs")

	// A new instance, with datapoints since A+12m, after A's listing.
	seed(inew, at(12*mi), A.Add(3*time.Hour))
	// A serves two more runs from its cached listing (TTL 1h): it does not
	// know the instance, and moves the unit's progress to A+20m.
	run(procA, at(25*mi))
	run(procA, at(30*mi))
	e.cover(mi, at(10*mi), at(20*mi), ia, iaMin)
	check("process A: cached listing, the new instance not yet known")

	// A new process lists afresh: the new instance from its first
	// datapoint, within max_catch_up.
	procB := process()
	sum := run(procB, at(35*mi))
	e.cover(mi, at(20*mi), at(25*mi), ia, iaMin)
	e.cover(mi, at(12*mi), at(25*mi), inew, inewMin)
	require.Equal(t, 4, sum.Series)
	check("process B, cold: the new instance from its first datapoint")

	// A and B take turns (two environments under concurrency). A's cached
	// listing still lacks the new instance: A must not move the unit past
	// data of it that A does not fetch, nor fetch again what B stored.
	run(procA, at(40*mi))
	e.cover(mi, at(25*mi), at(30*mi), ia, inew, iaMin, inewMin)
	check("process A, warm with a listing older than B's")
	run(procB, at(45*mi))
	e.cover(mi, at(30*mi), at(35*mi), ia, inew, iaMin, inewMin)
	check("process B, warm")
	run(procA, at(50*mi))
	e.cover(mi, at(35*mi), at(40*mi), ia, inew, iaMin, inewMin)
	check("process A again")

	// A third process starting cold finds the unit's series set as stored:
	// it asks the store for nothing but progress.
	procC := process()
	sum = run(procC, at(55*mi))
	e.cover(mi, at(40*mi), at(45*mi), ia, inew, iaMin, inewMin)
	check("process C, cold, nothing new")
	require.Equal(t, 1, sum.APICalls[collector.StoreQueryOperation], "one store query: progress")
}

// seedMinutes puts one datapoint a minute of s in [from, to) into moto
// (main account) and records them in e.
func seedMinutes(t *testing.T, ctx context.Context, awsCfg aws.Config, e *matrixExpect, s mSeries, from, to time.Time) {
	t.Helper()
	if e.seeded[s.cwID()] == nil {
		e.seeded[s.cwID()] = map[int64]float64{}
	}
	var cwDims []cwtypes.Dimension
	for _, d := range s.dims {
		cwDims = append(cwDims, cwtypes.Dimension{Name: aws.String(d[0]), Value: aws.String(d[1])})
	}
	var data []cwtypes.MetricDatum
	for ts := from; ts.Before(to); ts = ts.Add(time.Minute) {
		v := float64(ts.Unix()%7919)/3 + float64(len(e.seeded))*0.1
		e.seeded[s.cwID()][ts.UnixMilli()] = v
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String(s.metric), Dimensions: cwDims, Timestamp: aws.Time(ts), Value: aws.Float64(v)})
	}
	cfg := awsCfg.Copy()
	cfg.Region = s.region
	cw := awsconf.CloudWatch(cfg)
	for len(data) > 0 {
		n := min(len(data), 500)
		_, err := cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(s.ns), MetricData: data[:n]})
		require.NoError(t, err)
		data = data[n:]
	}
}
