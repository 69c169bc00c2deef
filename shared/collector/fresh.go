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
	var buf []remotewrite.Label
	for _, cfg := range cfgs {
		stored, err := c.storedSeries(ctx, in, cfg)
		queries++
		if err != nil {
			return fresh, queries, fmt.Errorf("find which series of %s are new: %w", in.metricNames[cfg], err)
		}
		for _, li := range byCfg[cfg] {
			l := &in.listing[li]
			has := false
			for _, name := range in.seriesNames[cfg] {
				buf = in.labels.labels(buf[:0], name, l.res, l.metric.Dimensions)
				if stored[seriesKey(buf)] {
					has = true
					break
				}
			}
			if !has {
				l.fresh = true
				fresh++
			}
		}
	}
	return fresh, queries, nil
}

// storedSeries returns the keys (seriesKey) of the target's series of a
// metrics entry, any statistic, that have a sample stored since the
// entry's catch-up limit.
func (c *Collector) storedSeries(ctx context.Context, in *planInput, cfg int) (map[string]bool, error) {
	names := map[string]bool{}
	for _, n := range in.seriesNames[cfg] {
		names[n] = true
	}
	var sel strings.Builder
	fmt.Fprintf(&sel, `{__name__=~"%s"`, alternation(names))
	for _, l := range in.labels.base {
		if l.Value != "" {
			fmt.Fprintf(&sel, ",%s=%q", l.Name, l.Value)
		}
	}
	sel.WriteByte('}')
	// Read as of T plus the lookahead, as progress is: a late retry of T
	// sees what the runs after it stored.
	from := in.timings[cfg].CatchUp(in.at).Start
	until := in.at.Add(progressLookahead)
	q := fmt.Sprintf("last_over_time(%s[%ds])", sel.String(), int64(math.Ceil(until.Sub(from).Seconds())))
	samples, err := c.reader.Query(ctx, q, until)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(samples))
	for _, s := range samples {
		out[mapKey(withoutName(s.Labels))] = true
	}
	return out, nil
}

// seriesKey is the key of a series' labels without its name: the series
// of one CloudWatch metric differ only by it (one per statistic).
func seriesKey(labels []remotewrite.Label) string {
	m := make(map[string]string, len(labels))
	for _, l := range labels {
		if l.Value != "" && l.Name != "__name__" {
			m[l.Name] = l.Value
		}
	}
	return mapKey(m)
}

func withoutName(labels map[string]string) map[string]string {
	delete(labels, "__name__")
	return labels
}
