package cloudwatch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

var _ awscw.ListMetricsAPIClient = (*awscw.Client)(nil)

// Discover lists the metrics named metricName in namespace whose dimension
// names are exactly dims (in any order; nil: any dimension names, for
// service jobs, which associate each metric with a resource), across all
// pages. It returns them
// de-duplicated and sorted by Key, and the number of ListMetrics calls made.
func Discover(ctx context.Context, api awscw.ListMetricsAPIClient, namespace, metricName string, dims []string) ([]Metric, int, error) {
	in := &awscw.ListMetricsInput{Namespace: aws.String(namespace), MetricName: aws.String(metricName)}
	for _, d := range dims {
		// Filtering by name narrows the listing server-side; the exact-set
		// check below still drops metrics that carry extra dimensions.
		in.Dimensions = append(in.Dimensions, cwtypes.DimensionFilter{Name: aws.String(d)})
	}
	p := awscw.NewListMetricsPaginator(api, in, func(o *awscw.ListMetricsPaginatorOptions) { o.StopOnDuplicateToken = true })
	want := slices.Clone(dims)
	slices.Sort(want)
	seen := map[string]bool{}
	var out []Metric
	calls := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		calls++
		if err != nil {
			return nil, calls, fmt.Errorf("list metrics %s %s: %w", namespace, metricName, err)
		}
		for _, m := range page.Metrics {
			if aws.ToString(m.Namespace) != namespace || aws.ToString(m.MetricName) != metricName {
				continue // moto ignores the namespace when dimensions are filtered
			}
			names := make([]string, 0, len(m.Dimensions))
			dd := make([]Dimension, 0, len(m.Dimensions))
			for _, d := range m.Dimensions {
				names = append(names, aws.ToString(d.Name))
				dd = append(dd, Dimension{Name: aws.ToString(d.Name), Value: aws.ToString(d.Value)})
			}
			slices.Sort(names)
			if dims != nil && !slices.Equal(names, want) {
				continue
			}
			// The namespace and name are the ones asked for: share their
			// strings instead of keeping one copy per listed metric.
			metric := NewMetric(namespace, metricName, dd)
			// CloudWatch lists a metric once; moto lists it once per datapoint.
			if k := metric.Key(); !seen[k] {
				seen[k] = true
				out = append(out, metric)
			}
		}
	}
	slices.SortFunc(out, func(a, b Metric) int { return compareKeys(a.Key(), b.Key()) })
	return out, calls, nil
}

func compareKeys(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DiscoveryCache keeps ListMetrics results across warm invocations of the
// same process, for ttl, so a warm run makes no ListMetrics call.
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

// NewDiscoveryCache returns a cache whose entries live for ttl (0 disables it).
func NewDiscoveryCache(ttl time.Duration, now func() time.Time) *DiscoveryCache {
	return &DiscoveryCache{ttl: ttl, now: now, entries: map[string]cacheEntry{}}
}

// Discover returns the cached listing for key, or calls Discover and caches
// its result. calls is the number of ListMetrics calls this call made.
func (c *DiscoveryCache) Discover(ctx context.Context, key string, api awscw.ListMetricsAPIClient, namespace, metricName string, dims []string) ([]Metric, int, error) {
	k := fmt.Sprintf("%s\x00%s\x00%s\x00%t%v", key, namespace, metricName, dims == nil, dims)
	if c != nil && c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.entries[k]
		c.mu.Unlock()
		if ok && c.now().Before(e.expires) {
			return e.metrics, 0, nil
		}
	}
	metrics, calls, err := Discover(ctx, api, namespace, metricName, dims)
	if err != nil {
		return nil, calls, err
	}
	if c != nil && c.ttl > 0 {
		c.mu.Lock()
		c.entries[k] = cacheEntry{metrics: metrics, expires: c.now().Add(c.ttl)}
		c.mu.Unlock()
	}
	return metrics, calls, nil
}
