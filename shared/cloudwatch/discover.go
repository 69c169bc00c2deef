package cloudwatch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

var _ awscw.ListMetricsAPIClient = (*awscw.Client)(nil)

// MaxDimensionFilters is how many dimension filters ListMetrics accepts; a
// metric may have up to 30 dimensions.
const MaxDimensionFilters = 10

// Discover lists the metrics named metricName in namespace whose dimension
// names are exactly dims (in any order; nil: any dimension names, for jobs
// that list every dimension set of a metric and tell them apart after, as
// service jobs do by resource), across all pages, that had a
// datapoint in the last three hours (RecentlyActive: a terminated instance
// is otherwise listed, and queried, for two weeks). It returns them
// de-duplicated and sorted by CompareMetrics, and the number of ListMetrics
// calls made.
func Discover(ctx context.Context, api awscw.ListMetricsAPIClient, namespace, metricName string, dims []string) ([]Metric, int, error) {
	in := &awscw.ListMetricsInput{
		Namespace:      aws.String(namespace),
		MetricName:     aws.String(metricName),
		RecentlyActive: cwtypes.RecentlyActivePt3h,
	}
	for _, d := range dims[:min(len(dims), MaxDimensionFilters)] {
		// Filtering by name narrows the listing server-side; the exact-set
		// check below still drops metrics that carry extra dimensions, and
		// checks the names beyond the filter limit.
		in.Dimensions = append(in.Dimensions, cwtypes.DimensionFilter{Name: aws.String(d)})
	}
	p := awscw.NewListMetricsPaginator(api, in, func(o *awscw.ListMetricsPaginatorOptions) { o.StopOnDuplicateToken = true })
	want := slices.Clone(dims)
	slices.Sort(want)
	var out []Metric
	calls := 0
	names := make([]string, 0, len(dims))
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		calls++
		if err != nil {
			return nil, calls, fmt.Errorf("list metrics %s %s: %w", namespace, metricName, err)
		}
		// One backing array for the page's dimensions, carved per metric.
		var slab []Dimension
		for _, m := range page.Metrics {
			if aws.ToString(m.Namespace) != namespace || aws.ToString(m.MetricName) != metricName {
				continue // moto ignores the namespace when dimensions are filtered
			}
			names = names[:0]
			for _, d := range m.Dimensions {
				names = append(names, aws.ToString(d.Name))
			}
			slices.Sort(names)
			if dims != nil && !slices.Equal(names, want) {
				continue
			}
			if cap(slab)-len(slab) < len(m.Dimensions) {
				slab = make([]Dimension, 0, max(len(m.Dimensions), len(page.Metrics)*max(len(dims), 1)))
			}
			from := len(slab)
			for _, d := range m.Dimensions {
				slab = append(slab, Dimension{Name: aws.ToString(d.Name), Value: aws.ToString(d.Value)})
			}
			dd := slab[from:len(slab):len(slab)]
			// The namespace and name are the ones asked for: share their
			// strings instead of keeping one copy per listed metric.
			out = append(out, ownedMetric(namespace, metricName, dd))
		}
	}
	// CloudWatch lists a metric once; moto lists it once per datapoint.
	slices.SortFunc(out, CompareMetrics)
	out = slices.CompactFunc(out, func(a, b Metric) bool { return CompareMetrics(a, b) == 0 })
	// The listing is kept (cached) for up to the discovery TTL: not with
	// the spare capacity of its growth.
	return slices.Clone(out), calls, nil
}

// DiscoveryCache keeps ListMetrics results across warm invocations of the
// same process, for ttl, so a warm run makes no ListMetrics call. With a
// ttl of 0 it lists on every call.
type DiscoveryCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	entries map[string]cacheEntry
}

type cacheEntry struct {
	metrics []Metric
	expires time.Time
}

// NewDiscoveryCache returns a cache whose entries are served for ttl.
func NewDiscoveryCache(ttl time.Duration, now func() time.Time) *DiscoveryCache {
	return &DiscoveryCache{ttl: ttl, now: now, entries: map[string]cacheEntry{}}
}

// Listing is one discovery result.
type Listing struct {
	Metrics []Metric
	// Calls is the number of ListMetrics calls made: 0 when the listing
	// came from the cache.
	Calls int
}

// Discover returns the cached listing for key, or calls Discover and
// remembers its result. key must identify the region and the credentials.
// dims is as for Discover: nil (any dimension names) and empty (none) are
// different listings.
func (c *DiscoveryCache) Discover(ctx context.Context, key string, api awscw.ListMetricsAPIClient, namespace, metricName string, dims []string) (Listing, error) {
	k := fmt.Sprintf("%s\x00%s\x00%s\x00%t%q", key, namespace, metricName, dims == nil, dims)
	c.mu.Lock()
	prev, hadPrev := c.entries[k]
	c.mu.Unlock()
	if hadPrev && c.ttl > 0 && c.now().Before(prev.expires) {
		return Listing{Metrics: prev.metrics}, nil
	}
	metrics, calls, err := Discover(ctx, api, namespace, metricName, dims)
	if err != nil {
		return Listing{Calls: calls}, err
	}
	c.mu.Lock()
	c.entries[k] = cacheEntry{metrics: metrics, expires: c.now().Add(c.ttl)}
	c.mu.Unlock()
	return Listing{Metrics: metrics, Calls: calls}, nil
}

// Expire drops the cached listings of key, so that the next Discover of
// each lists afresh: another process listed something this one's cached
// listing lacks.
func (c *DiscoveryCache) Expire(key string) {
	prefix := key + "\x00"
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, prefix) {
			delete(c.entries, k)
		}
	}
}
