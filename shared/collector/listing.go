package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/resource"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// listed is one CloudWatch metric a job collects in a target.
type listed struct {
	// metric points into the listing, which the discovery cache shares
	// between runs: read only.
	metric *cloudwatch.Metric
	// cfg indexes the job's metrics entry it comes from.
	cfg int
	// fresh: its unit's series set changed since the unit's progress was
	// written and the store holds none of its data since the catch-up
	// limit (markFresh): it is collected from the oldest start catch-up
	// allows, not from its unit's progress.
	fresh bool
	// res is, for a service job, 1 + the index of the resource the metric
	// belongs to in the listing's resources (its name and tag labels); 0:
	// no resource (the job's name label).
	res int32
}

// listing is what a job collects in a target.
type listing struct {
	metrics []listed
	// resources are a service job's tagged resources that passed its search
	// tags: the labels of their metrics, and their info series.
	resources []resource.Resource
	// listCalls, tagCalls and restCalls count ListMetrics, GetResources and
	// GetRestApis calls.
	listCalls, tagCalls, restCalls int
	// cached: part of it came from the process's caches, and may be older
	// than what another process listed since.
	cached bool
}

// lister lists a job's metrics in a target: static dimension sets,
// discovery through the process's cache, or, for a service job (type), the
// metrics of its tagged resources. The run and the cost preview share it,
// so -plan sees what a run sees. Each kind yields listed metrics, and the
// planner, the packer and the delivery stay as they are.
type lister struct {
	cache *cloudwatch.DiscoveryCache
	// tags caches service jobs' GetResources like cache does ListMetrics.
	tags        *tagging.Cache
	concurrency int
}

// list returns the job's metrics in target.
func (l *lister) list(ctx context.Context, target Target, job *config.Job) (listing, error) {
	switch {
	case job.IsService():
		return l.listService(ctx, target, job)
	case job.Static != nil:
		var out []listed
		for i := range job.Metrics {
			for _, dims := range job.Static {
				dd := make([]cloudwatch.Dimension, 0, len(dims))
				for k, v := range dims {
					dd = append(dd, cloudwatch.Dimension{Name: k, Value: v})
				}
				m := cloudwatch.NewMetric(job.Namespace, job.Metrics[i].Name, dd)
				out = append(out, listed{metric: &m, cfg: i})
			}
		}
		return listing{metrics: out}, nil
	}
	results, calls, cached, err := l.discover(ctx, target, job, job.Dimensions)
	if err != nil {
		return listing{listCalls: calls}, err
	}
	n := 0
	for i := range results {
		n += len(results[i].Metrics)
	}
	out := make([]listed, 0, n)
	for i := range results {
		ms := results[i].Metrics
		for j := range ms {
			out = append(out, listed{metric: &ms[j], cfg: i})
		}
	}
	return listing{metrics: out, listCalls: calls, cached: cached}, nil
}

// expire forgets target's cached listings and resources: the next list
// asks AWS again.
func (l *lister) expire(target Target) {
	l.cache.Expire(discoveryKey(target))
	l.tags.Expire(discoveryKey(target))
}

// discover lists each of the job's metric names in its namespace with
// these dimension names (nil: any), concurrently, through the cache. It
// returns one listing per metrics entry, the ListMetrics calls made, and
// whether any listing came from the cache.
func (l *lister) discover(ctx context.Context, target Target, job *config.Job, dims []string) ([]cloudwatch.Listing, int, bool, error) {
	results := make([]cloudwatch.Listing, len(job.Metrics))
	errs := make([]error, len(job.Metrics))
	sem := make(chan struct{}, max(l.concurrency, 1))
	var wg sync.WaitGroup
	for i := range job.Metrics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = l.cache.Discover(ctx, discoveryKey(target), target.API, job.Namespace, job.Metrics[i].Name, dims)
		}()
	}
	wg.Wait()
	calls, cached := 0, false
	for i := range results {
		calls += results[i].Calls
		cached = cached || (results[i].Calls == 0 && errs[i] == nil)
	}
	return results, calls, cached, errors.Join(errs...)
}

// discoveryKey identifies a target for the discovery cache: the region
// always, whatever the connector's CacheKey says.
func discoveryKey(t Target) string { return fmt.Sprintf("%s\x00%s", t.Region, t.CacheKey) }
