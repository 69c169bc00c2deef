package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
)

// listed is one CloudWatch metric a job collects in a target.
type listed struct {
	// metric points into the listing, which the discovery cache shares
	// between runs: read only.
	metric *cloudwatch.Metric
	// cfg indexes the job's metrics entry it comes from.
	cfg int
	// fresh: this process's discovery found it newly listed and has not
	// written it yet, so none of its data is stored: it is collected from
	// the oldest start catch-up allows, not from its shard's progress.
	fresh bool
}

// lister lists a job's metrics in a target: static dimension sets, or
// discovery through the process's cache. The run and the cost preview share
// it, so -plan sees what a run sees. Another kind of job (resources found by
// their tags) plugs in here: it yields listed metrics like the others, and
// the planner, the packer and the delivery stay as they are.
type lister struct {
	cache       *cloudwatch.DiscoveryCache
	concurrency int
	// fresh remembers, per discovery key, the metrics a refreshed listing
	// added until their unit is written (nil: not tracked, as in -plan).
	fresh *freshSet
}

// list returns the job's metrics in target and the ListMetrics calls made.
// Discovery of the job's metric names runs concurrently.
func (l *lister) list(ctx context.Context, target Target, job *config.Job) ([]listed, int, error) {
	if job.Static != nil {
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
		return out, 0, nil
	}
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
			results[i], errs[i] = l.cache.Discover(ctx, discoveryKey(target), target.API, job.Namespace, job.Metrics[i].Name, job.Dimensions)
		}()
	}
	wg.Wait()
	calls, n := 0, 0
	for i := range results {
		calls += results[i].Calls
		n += len(results[i].Metrics)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, calls, err
	}
	out := make([]listed, 0, n)
	for i := range results {
		// Both sorted by CompareMetrics: one walk marks the fresh ones.
		fresh := l.fresh.note(discoveryKey(target), results[i].Added)
		ms := results[i].Metrics
		f := 0
		for j := range ms {
			for f < len(fresh) && cloudwatch.CompareMetrics(fresh[f], ms[j]) < 0 {
				f++
			}
			isFresh := f < len(fresh) && cloudwatch.CompareMetrics(fresh[f], ms[j]) == 0
			out = append(out, listed{metric: &ms[j], cfg: i, fresh: isFresh})
		}
	}
	return out, calls, nil
}

// discoveryKey identifies a target for the discovery cache: the region
// always, whatever the connector's CacheKey says.
func discoveryKey(t Target) string { return fmt.Sprintf("%s\x00%s", t.Region, t.CacheKey) }

// freshSet holds the metrics that refreshed listings added and that have
// not been written since. It lives as long as the process (warm
// invocations); a cold start knows of none and collects every series from
// its shard's progress.
type freshSet struct {
	mu sync.Mutex
	// byKey: discovery key → fresh metrics, sorted by CompareMetrics.
	byKey map[string][]cloudwatch.Metric
}

// note records the metrics a listing added and returns the discovery key's
// fresh metrics (a copy, sorted).
func (s *freshSet) note(key string, added []cloudwatch.Metric) []cloudwatch.Metric {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(added) > 0 {
		if s.byKey == nil {
			s.byKey = map[string][]cloudwatch.Metric{}
		}
		set := append(s.byKey[key], added...)
		slices.SortFunc(set, cloudwatch.CompareMetrics)
		s.byKey[key] = slices.CompactFunc(set, func(a, b cloudwatch.Metric) bool { return cloudwatch.CompareMetrics(a, b) == 0 })
	}
	return slices.Clone(s.byKey[key])
}

// written forgets fresh metrics whose unit has been stored.
func (s *freshSet) written(key string, metrics []*cloudwatch.Metric) {
	if s == nil || len(metrics) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.byKey[key]
	for _, m := range metrics {
		if i, ok := slices.BinarySearchFunc(set, *m, cloudwatch.CompareMetrics); ok {
			set = slices.Delete(set, i, i+1)
		}
	}
	s.byKey[key] = set
}
