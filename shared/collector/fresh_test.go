package collector

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/promql"
)

// storeAnswer answers instant queries with fixed label sets, and records
// the queries.
type storeAnswer struct {
	labels  []map[string]string
	err     error
	queries []string
	at      []time.Time
}

func (s *storeAnswer) Query(_ context.Context, q string, at time.Time) ([]promql.Sample, error) {
	s.queries = append(s.queries, q)
	s.at = append(s.at, at)
	out := make([]promql.Sample, 0, len(s.labels))
	for _, l := range s.labels {
		out = append(out, promql.Sample{Labels: l, T: at, V: 1})
	}
	return out, s.err
}

func (s *storeAnswer) QuerySeries(context.Context, string, time.Time) ([]promql.Series, error) {
	return nil, errors.New("not used")
}

// TestMarkFresh: the store check asks, once per metrics entry and up to
// maxCheckPerQuery series, for the dimension labels of the target's stored
// series of the entry among those asked about, any statistic (a branch
// each: count_over_time drops the name), since the catch-up limit (as of T plus the progress lookahead), and marks the
// checked series it does not name; a failed query is an error naming the
// metric.
func TestMarkFresh(t *testing.T) {
	t.Parallel()
	f := newPlanFixture(t, replace(oneMetric, "statistics: [Average]", "statistics: [Average, Maximum]"), "i-1", "i-new")
	store := &storeAnswer{labels: []map[string]string{{"dimension_InstanceId": "i-1"}, {"dimension_InstanceId": "i-gone"}}}
	f.c.reader = store
	in := f.c.jobPlanInput(f.job)
	in.at = m(60 * time.Minute)
	in.listing = f.listing
	in.progress = &targetProgress{}
	in.labels = newLabeler(f.job, "us-east-1", "123456789012", "", nil)
	fresh, queries, err := f.c.markFresh(context.Background(), &in, []int{0, 1})
	require.NoError(t, err)
	require.Equal(t, 1, fresh)
	require.Equal(t, 1, queries)
	require.False(t, f.listing[0].fresh, "stored: continues from progress")
	require.True(t, f.listing[1].fresh, "nothing stored since the catch-up limit: new")
	// Catch-up limit at T=11:00: 10:50 − 45m = 10:05; read as of 17:00.
	require.Equal(t, []string{`group by (dimension_InstanceId) (count_over_time(aws_ec2_cpuutilization_average{job="ec2",region="us-east-1",account_id="123456789012",dimension_InstanceId=~"i-1|i-new"}[24900s]))` +
		` or group by (dimension_InstanceId) (count_over_time(aws_ec2_cpuutilization_maximum{job="ec2",region="us-east-1",account_id="123456789012",dimension_InstanceId=~"i-1|i-new"}[24900s]))`}, store.queries)
	require.Equal(t, []time.Time{m(60*time.Minute + progressLookahead)}, store.at)

	// A large fleet is asked about in bounded pieces.
	ids := make([]string, maxCheckPerQuery+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-%05d", i)
	}
	big := newPlanFixture(t, oneMetric, ids...)
	big.c.reader = store
	in.listing = big.listing
	all := make([]int, len(ids))
	for i := range all {
		all[i] = i
	}
	store.queries = nil
	fresh, queries, err = big.c.markFresh(context.Background(), &in, all)
	require.NoError(t, err)
	require.Equal(t, 2, queries)
	require.Equal(t, len(ids), fresh, "none of them stored")
	require.Contains(t, store.queries[1], `dimension_InstanceId=~"i-02000"`)

	// Mixed dimension sets (a service job lists every set of a metric):
	// narrowed by the dimension all of them have; a stored series matches
	// its own set only.
	lb := cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", []cloudwatch.Dimension{{Name: "LoadBalancer", Value: "app/a"}})
	lbtg := cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", []cloudwatch.Dimension{{Name: "LoadBalancer", Value: "app/a"}, {Name: "TargetGroup", Value: "tg/1"}})
	lb2 := cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", []cloudwatch.Dimension{{Name: "LoadBalancer", Value: "app/b"}})
	in.listing = []listed{{metric: &lb}, {metric: &lbtg}, {metric: &lb2}}
	store.queries = nil
	store.labels = []map[string]string{{"dimension_LoadBalancer": "app/a"}, {"dimension_LoadBalancer": "app/b"}}
	fresh, _, err = big.c.markFresh(context.Background(), &in, []int{0, 1, 2})
	require.NoError(t, err)
	require.Equal(t, 1, fresh)
	require.True(t, in.listing[1].fresh, "the target group's series is not the load balancer's")
	require.Contains(t, store.queries[0], `group by (dimension_LoadBalancer,dimension_TargetGroup)`)
	require.Contains(t, store.queries[0], `dimension_LoadBalancer=~"app/a|app/b"`)

	store.err = errors.New("503")
	_, _, err = f.c.markFresh(context.Background(), &in, []int{0})
	require.ErrorContains(t, err, "find which series of CPUUtilization are new: 503")
}
