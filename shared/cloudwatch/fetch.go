package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// MaxQueriesPerCall is GetMetricData's limit of MetricDataQueries per call.
const MaxQueriesPerCall = 500

// DefaultConcurrency is how many GetMetricData calls a Fetch keeps in flight
// unless told otherwise: at the 0.5–2 s a call takes, 2.5–10 calls a second,
// well under the default quota of 50 per second per account and region.
const DefaultConcurrency = 5

var _ awscw.GetMetricDataAPIClient = (*awscw.Client)(nil)

// ErrNotStarted fails the queries whose call was never started because
// the run's stop time had passed.
var ErrNotStarted = errors.New("not fetched: the run stopped starting calls before its deadline")

// FetchOptions tune a Fetch.
type FetchOptions struct {
	// Concurrency is how many calls are in flight at once (default
	// DefaultConcurrency).
	Concurrency int
	// StopAt: no call starts at or after it (zero: no limit). The queries
	// of calls not started are emitted with ErrNotStarted.
	StopAt time.Time
	// Now reads the clock for StopAt (default time.Now).
	Now func() time.Time
}

// FetchStats counts what a Fetch asked of CloudWatch.
type FetchStats struct {
	// Calls is the number of GetMetricData requests, pages included, failed
	// ones too.
	Calls int
	// MetricsRequested is what CloudWatch bills: the queries of each
	// request that it answered.
	MetricsRequested int
	// NotStarted counts the queries left when StopAt passed.
	NotStarted int
}

// Fetch runs queries through GetMetricData: queries that share a window go
// into calls of at most MaxQueriesPerCall, each paged with NextToken. Calls
// start in the order of the queries' first appearance (give the most lagging
// first), up to opts.Concurrency at once. emit is called exactly once per
// query, from the caller's goroutine, as soon as its call is done: with its
// points in time order, inside the query's window and aligned to its period,
// without NaN; or with the error that failed it. Streaming lets the caller
// write and forget as it goes, so memory does not grow with the number of
// series.
//
// A call that fails (after the SDK's own retries of throttling and 5xx) fails
// only its own queries; the other calls go on.
func Fetch(ctx context.Context, api awscw.GetMetricDataAPIClient, queries []Query, opts FetchOptions, emit func(index int, points []Point, err error)) FetchStats {
	workers := opts.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	chunks := chunksOf(queries)
	workers = min(workers, len(chunks))
	type result struct {
		chunk  []int
		calls  int
		billed int
		points [][]Point
		errs   []error
	}
	results := make(chan result, workers)
	// Workers take the next call when they are free, so the stop time is
	// checked when a call is about to start, and calls start in order.
	var mu sync.Mutex
	next := 0
	take := func() ([]int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(chunks) || ctx.Err() != nil || (!opts.StopAt.IsZero() && !now().Before(opts.StopAt)) {
			return nil, false
		}
		next++
		return chunks[next-1], true
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				chunk, ok := take()
				if !ok {
					return
				}
				r := result{chunk: chunk}
				r.calls, r.billed, r.points, r.errs = fetchChunk(ctx, api, queries, chunk)
				results <- r
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var stats FetchStats
	for r := range results {
		stats.Calls += r.calls
		stats.MetricsRequested += r.billed
		for k, qi := range r.chunk {
			emit(qi, r.points[k], r.errs[k])
		}
	}
	// All workers are done: next no longer moves.
	for _, chunk := range chunks[next:] {
		err := ErrNotStarted
		if ctx.Err() != nil {
			err = fmt.Errorf("not fetched: %w", ctx.Err())
		}
		for _, qi := range chunk {
			stats.NotStarted++
			emit(qi, nil, err)
		}
	}
	return stats
}

// chunksOf returns query indices grouped by identical [Start, End) and
// period, in order of first appearance, each group cut into calls of at most
// MaxQueriesPerCall.
func chunksOf(queries []Query) [][]int {
	type key struct {
		s, e int64
		p    time.Duration
	}
	pos := map[key]int{}
	var groups [][]int
	for i, q := range queries {
		k := key{q.Start.UnixNano(), q.End.UnixNano(), q.Period}
		g, ok := pos[k]
		if !ok {
			g = len(groups)
			pos[k] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	var chunks [][]int
	for _, g := range groups {
		for start := 0; start < len(g); start += MaxQueriesPerCall {
			chunks = append(chunks, g[start:min(start+MaxQueriesPerCall, len(g)):min(start+MaxQueriesPerCall, len(g))])
		}
	}
	return chunks
}

// fetchChunk runs one call (all its pages). It returns the calls made, the
// metrics billed (the queries of each answered page), and per position in
// chunk the points or the error.
func fetchChunk(ctx context.Context, api awscw.GetMetricDataAPIClient, queries []Query, chunk []int) (int, int, [][]Point, []error) {
	first := queries[chunk[0]]
	in := &awscw.GetMetricDataInput{
		StartTime:         aws.Time(first.Start),
		EndTime:           aws.Time(first.End),
		ScanBy:            cwtypes.ScanByTimestampAscending,
		MetricDataQueries: make([]cwtypes.MetricDataQuery, len(chunk)),
	}
	// One backing array per call for what the SDK takes by pointer, instead
	// of one small allocation per field per query. The SDK only reads them.
	ids := make([]string, len(chunk))
	stats := make([]cwtypes.MetricStat, len(chunk))
	metrics := make([]cwtypes.Metric, len(chunk))
	ndims := 0
	for _, qi := range chunk {
		ndims += len(queries[qi].Metric.Dimensions)
	}
	dims := make([]cwtypes.Dimension, 0, ndims)
	period := int32(first.Period / time.Second)
	returnData := true
	for k, qi := range chunk {
		q := &queries[qi]
		ids[k] = queryIDs[k]
		d0 := len(dims)
		for j := range q.Metric.Dimensions {
			d := &q.Metric.Dimensions[j]
			dims = append(dims, cwtypes.Dimension{Name: &d.Name, Value: &d.Value})
		}
		metrics[k] = cwtypes.Metric{Namespace: &q.Metric.Namespace, MetricName: &q.Metric.Name, Dimensions: dims[d0:len(dims):len(dims)]}
		stats[k] = cwtypes.MetricStat{Metric: &metrics[k], Period: &period, Stat: &q.Stat}
		in.MetricDataQueries[k] = cwtypes.MetricDataQuery{Id: &ids[k], MetricStat: &stats[k], ReturnData: &returnData}
	}
	points := make([][]Point, len(chunk))
	errs := make([]error, len(chunk))
	calls, billed := 0, 0
	p := awscw.NewGetMetricDataPaginator(api, in, func(o *awscw.GetMetricDataPaginatorOptions) { o.StopOnDuplicateToken = true })
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		calls++
		if err != nil {
			wrapped := fmt.Errorf("get metric data %s (%d queries): %w", first.Metric.Namespace, len(chunk), err)
			for k := range errs {
				errs[k] = wrapped
				points[k] = nil
			}
			return calls, billed, points, errs
		}
		billed += len(chunk)
		// One backing array for the page's points, carved per query.
		total := 0
		for _, r := range out.MetricDataResults {
			total += len(r.Timestamps)
		}
		slab := make([]Point, 0, total)
		for _, r := range out.MetricDataResults {
			k, ok := idIndex(aws.ToString(r.Id), len(chunk))
			if !ok {
				continue
			}
			q := &queries[chunk[k]]
			switch r.StatusCode {
			case cwtypes.StatusCodeInternalError, cwtypes.StatusCodeForbidden:
				errs[k] = fmt.Errorf("get metric data %s %s %s: status %s%s", q.Metric.Namespace, q.Metric.Name, q.Stat, r.StatusCode, messages(r.Messages))
			}
			from := len(slab)
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
				slab = append(slab, Point{T: t, V: v})
			}
			if points[k] == nil {
				points[k] = slab[from:len(slab):len(slab)]
			} else {
				// A later page of a query with PartialData.
				points[k] = append(points[k], slab[from:]...)
			}
		}
	}
	for k := range points {
		points[k] = normalise(points[k])
	}
	return calls, billed, points, errs
}

// queryIDs are the Ids of a call's queries, "q0" to "q499": built once,
// never changed.
var queryIDs = func() []string {
	ids := make([]string, MaxQueriesPerCall)
	for k := range ids {
		ids[k] = "q" + strconv.Itoa(k)
	}
	return ids
}()

// idIndex parses a query Id "q<k>" back to k.
func idIndex(id string, n int) (int, bool) {
	if len(id) < 2 || id[0] != 'q' {
		return 0, false
	}
	k, err := strconv.Atoi(id[1:])
	if err != nil || k < 0 || k >= n {
		return 0, false
	}
	return k, true
}

// normalise sorts points by time and keeps the first of any repeated
// timestamp: pages and unaligned stand-in buckets can repeat one.
func normalise(pts []Point) []Point {
	if !slices.IsSortedFunc(pts, func(a, b Point) int { return a.T.Compare(b.T) }) {
		slices.SortStableFunc(pts, func(a, b Point) int { return a.T.Compare(b.T) })
	}
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
