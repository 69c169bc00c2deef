package collector

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// New series in a cold process.
//
// A resource that appears between two listings of one process is new to
// that process's next listing; a process that starts cold (a new Lambda
// environment after idle, a deploy, concurrency or recycling) knows no
// earlier listing. Either way the unit's stored progress does not cover
// such a series: its unit was written, by whichever process, with a series
// set that lacked it. So each unit's progress is written with a digest of
// its series set (DigestMetric); a run whose listing of a due unit has
// another digest asks the store, for the series planned from progress,
// which have a sample since the catch-up limit. Those without are new and
// are collected from the catch-up limit (nothing of them is stored there,
// so nothing is sent twice); the others continue from progress. Units
// whose digest is unchanged cost nothing more.

// markFresh asks the store which of the series in check (indexes into
// in.listing) have a sample stored since their catch-up limit, one query
// per metrics entry, and marks the others fresh. It returns how many it
// marked and the queries it made.
func (c *Collector) markFresh(ctx context.Context, in *planInput, check []int) (fresh, queries int, err error) {
	if c.reader == nil || len(check) == 0 {
		return 0, 0, nil
	}
	byCfg := map[int][]int{}
	var cfgs []int
	for _, li := range check {
		cfg := in.listing[li].cfg
		if byCfg[cfg] == nil {
			cfgs = append(cfgs, cfg)
		}
		byCfg[cfg] = append(byCfg[cfg], li)
	}
	slices.Sort(cfgs)
	for _, cfg := range cfgs {
		n, err := c.markFreshOf(ctx, in, cfg, byCfg[cfg])
		queries++
		if err != nil {
			return fresh, queries, fmt.Errorf("find which series of %s are new: %w", in.metricNames[cfg], err)
		}
		fresh += n
	}
	return fresh, queries, nil
}

// markFreshOf marks the series among check, all of metrics entry cfg,
// that have no sample stored since the entry's catch-up limit, under any
// statistic. The store is asked for the dimension labels of the target's
// series of the entry that have one: the series of one CloudWatch metric
// differ from the others' by them alone, and the answer stays small (no
// value is read back, one label set per stored metric).
func (c *Collector) markFreshOf(ctx context.Context, in *planInput, cfg int, check []int) (int, error) {
	keys := make([]string, len(check))
	dimNames := map[string]bool{}
	var buf []remotewrite.Label
	for k, li := range check {
		buf = in.labels.dimensions(buf[:0], in.listing[li].metric.Dimensions)
		for _, l := range buf {
			dimNames[l.Name] = true
		}
		keys[k] = labelsKey(buf)
	}
	by := make([]string, 0, len(dimNames))
	for n := range dimNames {
		by = append(by, n)
	}
	slices.Sort(by)
	var matchers strings.Builder
	for _, l := range in.labels.base {
		if l.Value != "" {
			if matchers.Len() > 0 {
				matchers.WriteByte(',')
			}
			fmt.Fprintf(&matchers, "%s=%q", l.Name, l.Value)
		}
	}
	// Read as of T plus the lookahead, as progress is: a late retry of T
	// sees what the runs after it stored.
	from := in.timings[cfg].CatchUp(in.at).Start
	until := in.at.Add(progressLookahead)
	rng := int64(math.Ceil(until.Sub(from).Seconds()))
	// One branch per statistic: count_over_time drops the metric name, and
	// the series of one metric's statistics differ by it alone.
	names := slices.Clone(in.seriesNames[cfg])
	slices.Sort(names)
	names = slices.Compact(names)
	var q strings.Builder
	for k, name := range names {
		if k > 0 {
			q.WriteString(" or ")
		}
		fmt.Fprintf(&q, "group by (%s) (count_over_time(%s{%s}[%ds]))", strings.Join(by, ","), name, matchers.String(), rng)
	}
	samples, err := c.reader.Query(ctx, q.String(), until)
	if err != nil {
		return 0, err
	}
	stored := make(map[string]bool, len(samples))
	for _, s := range samples {
		stored[mapKey(s.Labels)] = true
	}
	fresh := 0
	for k, li := range check {
		if !stored[keys[k]] {
			in.listing[li].fresh = true
			fresh++
		}
	}
	return fresh, nil
}
