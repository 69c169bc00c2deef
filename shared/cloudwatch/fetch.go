package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// MaxQueriesPerCall is GetMetricData's limit of MetricDataQueries per call.
const MaxQueriesPerCall = 500

var _ awscw.GetMetricDataAPIClient = (*awscw.Client)(nil)

// FetchStats counts what a Fetch asked of CloudWatch.
type FetchStats struct {
	// Calls is the number of GetMetricData requests, pages included.
	Calls int
	// MetricsRequested is what CloudWatch bills: the queries in each request.
	MetricsRequested int
}

// Fetch runs queries through GetMetricData: queries that share a window go
// into calls of at most MaxQueriesPerCall, each paged with NextToken, in the
// order the queries are given. emit is called exactly once per query, as soon
// as its call is done: with its points in time order, inside the query's
// window and aligned to its period, without NaN; or with the error that
// failed it. Streaming lets the caller write and forget as it goes, so memory
// does not grow with the number of series.
//
// A call that fails (after the SDK's own retries of throttling and 5xx) fails
// only its own queries; the other calls go on.
func Fetch(ctx context.Context, api awscw.GetMetricDataAPIClient, queries []Query, emit func(index int, points []Point, err error)) FetchStats {
	var stats FetchStats
	for _, group := range groupByWindow(queries) {
		for start := 0; start < len(group); start += MaxQueriesPerCall {
			chunk := group[start:min(start+MaxQueriesPerCall, len(group))]
			calls, points, errs := fetchChunk(ctx, api, queries, chunk)
			stats.Calls += calls
			stats.MetricsRequested += calls * len(chunk)
			for _, qi := range chunk {
				emit(qi, points[qi], errs[qi])
			}
		}
	}
	return stats
}

// groupByWindow returns query indices grouped by identical [Start, End), in
// order of first appearance, each group keeping the input order.
func groupByWindow(queries []Query) [][]int {
	type key struct{ s, e int64 }
	pos := map[key]int{}
	var groups [][]int
	for i, q := range queries {
		k := key{q.Start.UnixNano(), q.End.UnixNano()}
		g, ok := pos[k]
		if !ok {
			g = len(groups)
			pos[k] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

func fetchChunk(ctx context.Context, api awscw.GetMetricDataAPIClient, queries []Query, chunk []int) (int, map[int][]Point, map[int]error) {
	first := queries[chunk[0]]
	in := &awscw.GetMetricDataInput{
		StartTime:         aws.Time(first.Start),
		EndTime:           aws.Time(first.End),
		ScanBy:            cwtypes.ScanByTimestampAscending,
		MetricDataQueries: make([]cwtypes.MetricDataQuery, 0, len(chunk)),
	}
	byID := make(map[string]int, len(chunk))
	for _, qi := range chunk {
		q := queries[qi]
		id := "q" + strconv.Itoa(qi)
		byID[id] = qi
		dims := make([]cwtypes.Dimension, 0, len(q.Metric.Dimensions))
		for _, d := range q.Metric.Dimensions {
			dims = append(dims, cwtypes.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)})
		}
		in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{
			Id: aws.String(id),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(q.Metric.Namespace), MetricName: aws.String(q.Metric.Name), Dimensions: dims},
				Period: aws.Int32(int32(q.Period / time.Second)),
				Stat:   aws.String(q.Stat),
			},
			ReturnData: aws.Bool(true),
		})
	}
	points := make(map[int][]Point, len(chunk))
	statusErr := map[int]error{}
	calls := 0
	p := awscw.NewGetMetricDataPaginator(api, in, func(o *awscw.GetMetricDataPaginatorOptions) { o.StopOnDuplicateToken = true })
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		calls++
		if err != nil {
			errs := make(map[int]error, len(chunk))
			wrapped := fmt.Errorf("get metric data %s (%d queries): %w", first.Metric.Namespace, len(chunk), err)
			for _, qi := range chunk {
				errs[qi] = wrapped
			}
			return calls, nil, errs
		}
		for _, r := range out.MetricDataResults {
			qi, ok := byID[aws.ToString(r.Id)]
			if !ok {
				continue
			}
			switch r.StatusCode {
			case cwtypes.StatusCodeInternalError, cwtypes.StatusCodeForbidden:
				statusErr[qi] = fmt.Errorf("get metric data %s %s %s: status %s%s", queries[qi].Metric.Namespace, queries[qi].Metric.Name, queries[qi].Stat, r.StatusCode, messages(r.Messages))
			}
			q := queries[qi]
			for i, ts := range r.Timestamps {
				if i >= len(r.Values) {
					break
				}
				v := r.Values[i]
				if math.IsNaN(v) {
					continue
				}
				t := Align(ts, q.Period)
				if t.Before(q.Start) || !t.Before(q.End) {
					continue
				}
				points[qi] = append(points[qi], Point{T: t, V: v})
			}
		}
	}
	for qi, pts := range points {
		points[qi] = normalise(pts)
	}
	return calls, points, statusErr
}

// normalise sorts points by time and keeps the first of any repeated
// timestamp: pages and unaligned stand-in buckets can repeat one.
func normalise(pts []Point) []Point {
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].T.Before(pts[j].T) })
	out := pts[:0]
	for i, p := range pts {
		if i > 0 && p.T.Equal(out[len(out)-1].T) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func messages(ms []cwtypes.MessageData) string {
	if len(ms) == 0 {
		return ""
	}
	var errs []error
	for _, m := range ms {
		errs = append(errs, fmt.Errorf("%s: %s", aws.ToString(m.Code), aws.ToString(m.Value)))
	}
	return " (" + errors.Join(errs...).Error() + ")"
}
