package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
)

// fakeCW is a func-field fake for what moto cannot show: paging, the
// 500-query limit, percentiles, per-query status codes.
type fakeCW struct {
	getMetricData func(ctx context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error)
	listMetrics   func(ctx context.Context, in *awscw.ListMetricsInput) (*awscw.ListMetricsOutput, error)
}

func (f *fakeCW) GetMetricData(ctx context.Context, in *awscw.GetMetricDataInput, _ ...func(*awscw.Options)) (*awscw.GetMetricDataOutput, error) {
	return f.getMetricData(ctx, in)
}

func (f *fakeCW) ListMetrics(ctx context.Context, in *awscw.ListMetricsInput, _ ...func(*awscw.Options)) (*awscw.ListMetricsOutput, error) {
	return f.listMetrics(ctx, in)
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func queriesFor(n int, stat string, start, end time.Time) []Query {
	qs := make([]Query, n)
	for i := range qs {
		qs[i] = Query{
			Metric: ptr(NewMetric("AWS/EC2", "CPUUtilization", []Dimension{{Name: "InstanceId", Value: fmt.Sprintf("i-%d", i)}})),
			Stat:   stat, Period: time.Minute, Start: start, End: end,
		}
	}
	return qs
}

func ptr[T any](v T) *T { return &v }

// echo answers every query with one point per period, value = query index.
func echo(in *awscw.GetMetricDataInput) *awscw.GetMetricDataOutput {
	out := &awscw.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries {
		i, _ := strconv.Atoi(strings.TrimPrefix(aws.ToString(q.Id), "q"))
		var ts []time.Time
		var vs []float64
		for t := aws.ToTime(in.StartTime); t.Before(aws.ToTime(in.EndTime)); t = t.Add(time.Duration(aws.ToInt32(q.MetricStat.Period)) * time.Second) {
			ts = append(ts, t)
			vs = append(vs, float64(i))
		}
		out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id, Timestamps: ts, Values: vs, StatusCode: cwtypes.StatusCodeComplete})
	}
	return out
}

func TestFetchBatchesOf500(t *testing.T) {
	t.Parallel()
	tests := []struct {
		queries   int
		wantCalls int
	}{{1, 1}, {500, 1}, {501, 2}, {1200, 3}, {2000, 4}}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.queries), func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			api := &fakeCW{getMetricData: func(_ context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error) {
				calls.Add(1)
				require.LessOrEqual(t, len(in.MetricDataQueries), MaxQueriesPerCall)
				require.Equal(t, cwtypes.ScanByTimestampAscending, in.ScanBy)
				return echo(in), nil
			}}
			qs := queriesFor(tt.queries, "Average", t0, t0.Add(5*time.Minute))
			got := map[int]int{}
			stats := Fetch(context.Background(), api, qs, FetchOptions{}, func(i int, pts []Point, err error) {
				require.NoError(t, err)
				got[i] = len(pts)
			})
			require.Equal(t, tt.wantCalls, int(calls.Load()), "calls = ceil(queries/500)")
			require.Equal(t, tt.wantCalls, stats.Calls)
			require.Equal(t, tt.queries, stats.MetricsRequested)
			require.Len(t, got, tt.queries)
			for i, n := range got {
				require.Equal(t, 5, n, "query %d", i)
			}
		})
	}
}

func TestFetchGroupsWindows(t *testing.T) {
	t.Parallel()
	windows := map[time.Time]int{}
	api := &fakeCW{getMetricData: func(_ context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error) {
		windows[aws.ToTime(in.StartTime)] += len(in.MetricDataQueries)
		return echo(in), nil
	}}
	qs := append(queriesFor(3, "Average", t0, t0.Add(5*time.Minute)), queriesFor(2, "Sum", t0.Add(-20*time.Minute), t0.Add(5*time.Minute))...)
	stats := Fetch(context.Background(), api, qs, FetchOptions{Concurrency: 1}, func(_ int, _ []Point, err error) { require.NoError(t, err) })
	require.Equal(t, 2, stats.Calls, "one call per distinct window")
	require.Equal(t, map[time.Time]int{t0: 3, t0.Add(-20 * time.Minute): 2}, windows)
}

func TestFetchPagingAndPartialData(t *testing.T) {
	t.Parallel()
	var pages atomic.Int64
	api := &fakeCW{getMetricData: func(_ context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error) {
		// Page 1 has the first half of q0 (PartialData), page 2 the rest and
		// a point outside the window and a NaN that must both be dropped.
		switch aws.ToString(in.NextToken) {
		case "":
			pages.Add(1)
			return &awscw.GetMetricDataOutput{NextToken: aws.String("page2"), MetricDataResults: []cwtypes.MetricDataResult{
				{Id: aws.String("q0"), StatusCode: cwtypes.StatusCodePartialData, Timestamps: []time.Time{t0, t0.Add(time.Minute)}, Values: []float64{1, 2}},
			}}, nil
		case "page2":
			pages.Add(1)
			return &awscw.GetMetricDataOutput{MetricDataResults: []cwtypes.MetricDataResult{
				{Id: aws.String("q0"), StatusCode: cwtypes.StatusCodeComplete,
					Timestamps: []time.Time{t0.Add(2 * time.Minute), t0.Add(3 * time.Minute), t0.Add(9 * time.Minute), t0.Add(4 * time.Minute)},
					Values:     []float64{3, 4, 99, nanValue()}},
				{Id: aws.String("q1"), StatusCode: cwtypes.StatusCodeComplete, Timestamps: []time.Time{t0}, Values: []float64{7}},
			}}, nil
		}
		return nil, errors.New("unexpected token")
	}}
	qs := queriesFor(2, "p99.9", t0, t0.Add(5*time.Minute))
	got := map[int][]Point{}
	stats := Fetch(context.Background(), api, qs, FetchOptions{}, func(i int, pts []Point, err error) {
		require.NoError(t, err)
		got[i] = pts
	})
	require.Equal(t, int64(2), pages.Load())
	require.Equal(t, 2, stats.Calls)
	require.Equal(t, 4, stats.MetricsRequested, "every page bills its queries")
	require.Equal(t, []Point{{t0, 1}, {t0.Add(time.Minute), 2}, {t0.Add(2 * time.Minute), 3}, {t0.Add(3 * time.Minute), 4}}, got[0])
	require.Equal(t, []Point{{t0, 7}}, got[1])
}

func nanValue() float64 { var z float64; return z / z }

func TestFetchPercentileStatPassedThrough(t *testing.T) {
	t.Parallel()
	var stats []string
	api := &fakeCW{getMetricData: func(_ context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error) {
		for _, q := range in.MetricDataQueries {
			stats = append(stats, aws.ToString(q.MetricStat.Stat))
		}
		return echo(in), nil
	}}
	qs := append(queriesFor(1, "p99", t0, t0.Add(time.Minute)), queriesFor(1, "TM(10%:90%)", t0, t0.Add(time.Minute))...)
	Fetch(context.Background(), api, qs, FetchOptions{Concurrency: 1}, func(_ int, _ []Point, err error) { require.NoError(t, err) })
	require.Equal(t, []string{"p99", "TM(10%:90%)"}, stats)
}

func TestFetchFailedCallFailsOnlyItsQueries(t *testing.T) {
	t.Parallel()
	api := &fakeCW{getMetricData: func(_ context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error) {
		if aws.ToTime(in.StartTime).Equal(t0) {
			return nil, errors.New("api error Throttling: Rate exceeded")
		}
		out := echo(in)
		out.MetricDataResults[0].StatusCode = cwtypes.StatusCodeForbidden
		out.MetricDataResults[0].Messages = []cwtypes.MessageData{{Code: aws.String("Forbidden"), Value: aws.String("no access")}}
		return out, nil
	}}
	qs := append(queriesFor(2, "Average", t0, t0.Add(time.Minute)), queriesFor(2, "Average", t0.Add(time.Hour), t0.Add(time.Hour+time.Minute))...)
	var emitted []int
	failed := map[int]error{}
	Fetch(context.Background(), api, qs, FetchOptions{}, func(i int, _ []Point, err error) {
		if err != nil {
			failed[i] = err
			return
		}
		emitted = append(emitted, i)
	})
	require.Equal(t, []int{3}, emitted, "the healthy query of the healthy call goes through")
	require.Len(t, failed, 3)
	require.ErrorContains(t, failed[0], "Throttling")
	require.ErrorContains(t, failed[1], "Throttling")
	require.ErrorContains(t, failed[2], "status Forbidden")
	require.ErrorContains(t, failed[2], "no access")
}

// TestThrottlingRetriedBySDK answers GetMetricData with CloudWatch's
// Throttling error twice, then data: the client's retryer (configured in
// awsconf) must absorb it, and a deadline must bound it.
func TestThrottlingRetriedBySDK(t *testing.T) {
	t.Parallel()
	var attempts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := attempts.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		if n <= 2 || strings.HasSuffix(r.URL.Path, "/always") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>`)
			return
		}
		_, _ = fmt.Fprint(w, `<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><GetMetricDataResult><MetricDataResults><member><Id>q0</Id><Label>x</Label><StatusCode>Complete</StatusCode><Timestamps><member>2026-11-25T10:00:00Z</member></Timestamps><Values><member>1.5</member></Values></member></MetricDataResults><Messages/></GetMetricDataResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></GetMetricDataResponse>`)
	}))
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}}
	client := awsconf.CloudWatch(cfg)
	var got []Point
	Fetch(context.Background(), client, queriesFor(1, "Average", t0, t0.Add(time.Minute)), FetchOptions{}, func(_ int, pts []Point, err error) {
		require.NoError(t, err)
		got = pts
	})
	require.Equal(t, int64(3), attempts.Load(), "two throttled attempts, then success")
	require.Equal(t, []Point{{t0, 1.5}}, got)

	// Always throttled: the run's deadline ends the retries.
	alwaysCfg := cfg.Copy()
	alwaysCfg.BaseEndpoint = aws.String(srv.URL + "/always")
	always := awsconf.CloudWatch(alwaysCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	var failedErr error
	Fetch(ctx, always, queriesFor(1, "Average", t0, t0.Add(time.Minute)), FetchOptions{}, func(_ int, _ []Point, err error) { failedErr = err })
	require.Error(t, failedErr)
	require.Less(t, time.Since(start), 5*time.Second, "retries stop at the deadline")
}

func TestDiscoverExactDimensionsAllPagesDeduplicated(t *testing.T) {
	t.Parallel()
	metric := func(dims ...string) cwtypes.Metric {
		m := cwtypes.Metric{Namespace: aws.String("AWS/EC2"), MetricName: aws.String("CPUUtilization")}
		for i := 0; i+1 < len(dims); i += 2 {
			m.Dimensions = append(m.Dimensions, cwtypes.Dimension{Name: aws.String(dims[i]), Value: aws.String(dims[i+1])})
		}
		return m
	}
	var calls atomic.Int64
	api := &fakeCW{listMetrics: func(_ context.Context, in *awscw.ListMetricsInput) (*awscw.ListMetricsOutput, error) {
		calls.Add(1)
		require.Equal(t, "CPUUtilization", aws.ToString(in.MetricName))
		if aws.ToString(in.NextToken) == "" {
			return &awscw.ListMetricsOutput{NextToken: aws.String("2"), Metrics: []cwtypes.Metric{
				metric("InstanceId", "i-2"), metric("InstanceId", "i-1"), metric("InstanceId", "i-9", "AutoScalingGroupName", "a"),
			}}, nil
		}
		return &awscw.ListMetricsOutput{Metrics: []cwtypes.Metric{metric("InstanceId", "i-1"), metric()}}, nil
	}}
	got, n, err := Discover(context.Background(), api, "AWS/EC2", "CPUUtilization", []string{"InstanceId"})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []Metric{
		NewMetric("AWS/EC2", "CPUUtilization", []Dimension{{"InstanceId", "i-1"}}),
		NewMetric("AWS/EC2", "CPUUtilization", []Dimension{{"InstanceId", "i-2"}}),
	}, got)

	now := t0
	cache := NewDiscoveryCache(time.Hour, func() time.Time { return now })
	l1, err := cache.Discover(context.Background(), "acct", api, "AWS/EC2", "CPUUtilization", []string{"InstanceId"})
	require.NoError(t, err)
	l2, err := cache.Discover(context.Background(), "acct", api, "AWS/EC2", "CPUUtilization", []string{"InstanceId"})
	require.NoError(t, err)
	require.Equal(t, []int{2, 0}, []int{l1.Calls, l2.Calls}, "a warm run makes no ListMetrics call")
	now = now.Add(61 * time.Minute)
	l3, err := cache.Discover(context.Background(), "acct", api, "AWS/EC2", "CPUUtilization", []string{"InstanceId"})
	require.NoError(t, err)
	require.Equal(t, 2, l3.Calls, "the TTL expires")
}

// TestFetchConcurrencyAndOrder: at most Concurrency calls are in flight, and
// calls start in the order of the queries' windows as given (the most
// lagging first).
func TestFetchConcurrencyAndOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	inFlight, peak := 0, 0
	var starts []time.Time
	api := &fakeCW{getMetricData: func(_ context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		starts = append(starts, aws.ToTime(in.StartTime))
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return echo(in), nil
	}}
	var qs []Query
	var want []time.Time
	for k := range 12 {
		start := t0.Add(time.Duration(k) * time.Minute)
		want = append(want, start)
		qs = append(qs, queriesFor(3, "Average", start, t0.Add(time.Hour))...)
	}
	emitted := 0
	stats := Fetch(context.Background(), api, qs, FetchOptions{Concurrency: 3}, func(_ int, _ []Point, err error) {
		require.NoError(t, err)
		emitted++
	})
	require.Equal(t, 12, stats.Calls)
	require.Equal(t, 36, emitted)
	require.Equal(t, 3, peak, "at most 3 calls in flight, and the 3 are used")
	// Calls are taken in order; between taking a call and reaching the
	// fake, 3 workers may overtake each other by up to 2 places.
	require.ElementsMatch(t, want, starts)
	for i, s := range starts {
		require.False(t, s.Before(want[max(i-2, 0)]) || s.After(want[min(i+2, len(want)-1)]), "call %d started at %s, out of order", i, s)
	}
}

// TestFetchStopsStartingCalls: once StopAt has passed no call starts; the
// queries left are emitted with ErrNotStarted and are not billed.
func TestFetchStopsStartingCalls(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(t0.UnixNano())
	api := &fakeCW{getMetricData: func(_ context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error) {
		now.Add(int64(10 * time.Second)) // each call takes 10 s
		return echo(in), nil
	}}
	var qs []Query
	for k := range 5 {
		qs = append(qs, queriesFor(2, "Average", t0.Add(time.Duration(k)*time.Minute), t0.Add(time.Hour))...)
	}
	notStarted := 0
	stats := Fetch(context.Background(), api, qs, FetchOptions{
		Concurrency: 1, StopAt: t0.Add(25 * time.Second), Now: func() time.Time { return time.Unix(0, now.Load()) },
	}, func(_ int, pts []Point, err error) {
		if err != nil {
			require.ErrorIs(t, err, ErrNotStarted)
			require.Nil(t, pts)
			notStarted++
		}
	})
	require.Equal(t, 3, stats.Calls, "calls start at 0 s, 10 s and 20 s; none at 30 s")
	require.Equal(t, 6, stats.MetricsRequested)
	require.Equal(t, 4, stats.NotStarted)
	require.Equal(t, 4, notStarted)
}

// TestFetchFailedCallNotBilled: CloudWatch bills the metrics of answered
// calls only; a call that failed counts as a call, not as metrics requested.
func TestFetchFailedCallNotBilled(t *testing.T) {
	t.Parallel()
	api := &fakeCW{getMetricData: func(_ context.Context, in *awscw.GetMetricDataInput) (*awscw.GetMetricDataOutput, error) {
		if aws.ToTime(in.StartTime).Equal(t0) {
			return nil, errors.New("api error InternalFailure")
		}
		return echo(in), nil
	}}
	qs := append(queriesFor(3, "Average", t0, t0.Add(time.Minute)), queriesFor(2, "Average", t0.Add(time.Hour), t0.Add(time.Hour+time.Minute))...)
	stats := Fetch(context.Background(), api, qs, FetchOptions{}, func(int, []Point, error) {})
	require.Equal(t, 2, stats.Calls)
	require.Equal(t, 2, stats.MetricsRequested, "only the answered call's 2 queries are billed")
}

// TestDiscoverRequestShape: RecentlyActive is always asked for, and no more
// than ListMetrics' 10 dimension filters are sent for a metric with more
// dimensions (the exact-set match still checks them all).
func TestDiscoverRequestShape(t *testing.T) {
	t.Parallel()
	var dimNames []string
	for i := range 12 {
		dimNames = append(dimNames, fmt.Sprintf("D%02d", i))
	}
	listed := cwtypes.Metric{Namespace: aws.String("App"), MetricName: aws.String("Lat")}
	for _, d := range dimNames {
		listed.Dimensions = append(listed.Dimensions, cwtypes.Dimension{Name: aws.String(d), Value: aws.String("v")})
	}
	short := cwtypes.Metric{Namespace: aws.String("App"), MetricName: aws.String("Lat"), Dimensions: listed.Dimensions[:10]}
	api := &fakeCW{listMetrics: func(_ context.Context, in *awscw.ListMetricsInput) (*awscw.ListMetricsOutput, error) {
		if len(in.Dimensions) > 10 {
			return nil, errors.New("api error InvalidParameterValue: The collection Dimensions must not have a size greater than 10")
		}
		require.Equal(t, cwtypes.RecentlyActivePt3h, in.RecentlyActive)
		return &awscw.ListMetricsOutput{Metrics: []cwtypes.Metric{listed, short}}, nil
	}}
	got, _, err := Discover(context.Background(), api, "App", "Lat", dimNames)
	require.NoError(t, err)
	require.Len(t, got, 1, "the metric with all 12 dimensions, not the one with 10")
	require.Len(t, got[0].Dimensions, 12)
}

// TestDiscoveryCacheExpire: a listing is served from the cache for its
// TTL, and listed afresh once its key is expired; other keys stay cached.
func TestDiscoveryCacheExpire(t *testing.T) {
	t.Parallel()
	ids := []string{"i-1"}
	calls := 0
	api := &fakeCW{listMetrics: func(_ context.Context, in *awscw.ListMetricsInput) (*awscw.ListMetricsOutput, error) {
		calls++
		out := &awscw.ListMetricsOutput{}
		for _, id := range ids {
			out.Metrics = append(out.Metrics, cwtypes.Metric{Namespace: in.Namespace, MetricName: in.MetricName,
				Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(id)}}})
		}
		return out, nil
	}}
	cache := NewDiscoveryCache(time.Hour, func() time.Time { return t0 })
	ctx := context.Background()
	list := func(key string) Listing {
		t.Helper()
		l, err := cache.Discover(ctx, key, api, "AWS/EC2", "CPU", []string{"InstanceId"})
		require.NoError(t, err)
		return l
	}
	require.Equal(t, 1, list("k").Calls)
	require.Equal(t, 1, list("k2").Calls)
	ids = []string{"i-1", "i-2"} // a new instance
	cached := list("k")
	require.Zero(t, cached.Calls)
	require.Len(t, cached.Metrics, 1, "served from the cache")
	cache.Expire("k")
	fresh := list("k")
	require.Equal(t, 1, fresh.Calls)
	require.Len(t, fresh.Metrics, 2)
	require.Zero(t, list("k2").Calls, "another key stays cached")
	require.Equal(t, 3, calls)
}

// TestDiscoverAnyDimensions: nil dimension names list every dimension set
// of a metric (service jobs associate each with a resource afterwards),
// and the cache keeps that listing apart from the metric without
// dimensions ([]).
func TestDiscoverAnyDimensions(t *testing.T) {
	t.Parallel()
	dims := func(kv ...string) []cwtypes.Dimension {
		var out []cwtypes.Dimension
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, cwtypes.Dimension{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		return out
	}
	calls := 0
	api := &fakeCW{listMetrics: func(_ context.Context, in *awscw.ListMetricsInput) (*awscw.ListMetricsOutput, error) {
		calls++
		require.Empty(t, in.Dimensions, "no dimension filter for either listing")
		out := &awscw.ListMetricsOutput{}
		for _, d := range [][]cwtypes.Dimension{
			dims("LoadBalancer", "app/a/1"),
			dims("LoadBalancer", "app/a/1", "TargetGroup", "targetgroup/t/2"),
			nil,
		} {
			out.Metrics = append(out.Metrics, cwtypes.Metric{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: d})
		}
		return out, nil
	}}
	all, _, err := Discover(context.Background(), api, "AWS/ApplicationELB", "RequestCount", nil)
	require.NoError(t, err)
	require.Len(t, all, 3)
	cache := NewDiscoveryCache(time.Hour, func() time.Time { return t0 })
	calls = 0
	any, err := cache.Discover(context.Background(), "k", api, "AWS/ApplicationELB", "RequestCount", nil)
	require.NoError(t, err)
	none, err := cache.Discover(context.Background(), "k", api, "AWS/ApplicationELB", "RequestCount", []string{})
	require.NoError(t, err)
	require.Equal(t, 2, calls, "two listings, not one served for the other")
	require.Len(t, any.Metrics, 3)
	require.Len(t, none.Metrics, 1)
	require.Empty(t, none.Metrics[0].Dimensions)
}
