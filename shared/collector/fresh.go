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

// maxCheckPerQuery bounds how many series one store check asks about: the
// answer (one label set per stored series) is decoded whole, and a 100k
// series fleet in one answer took over 100 MB of heap under the template's
// 48 MiB GOMEMLIMIT (BenchmarkColdRunChangedSet100k).
const maxCheckPerQuery = 2000

// markFresh asks the store which of the series in check (indexes into
// in.listing) have a sample stored since their catch-up limit, in queries
// of up to maxCheckPerQuery series of one metrics entry, and marks the
// others fresh. It returns how many it marked and the queries it made.
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
		for chunk := range slices.Chunk(byCfg[cfg], maxCheckPerQuery) {
			n, err := c.markFreshOf(ctx, in, cfg, chunk)
			queries++
			if err != nil {
				return fresh, queries, fmt.Errorf("find which series of %s are new: %w", in.metricNames[cfg], err)
			}
			fresh += n
		}
	}
	return fresh, queries, nil
}

// checkQueries is how many queries markFresh makes for n series of one
// metrics entry.
func checkQueries(n int) int { return (n + maxCheckPerQuery - 1) / maxCheckPerQuery }

// markFreshOf marks the series among check, all of metrics entry cfg,
// that have no sample stored since the entry's catch-up limit, under any
// statistic. The store is asked for the dimension labels of the target's
// series of the entry that have one, narrowed to the values of check of
// the dimension that tells most of them apart: the series of one
// CloudWatch metric differ from the others' by their dimensions alone, and
// the answer is one label set per stored metric, no value.
func (c *Collector) markFreshOf(ctx context.Context, in *planInput, cfg int, check []int) (int, error) {
	keys := make([]string, len(check))
	values := map[string]map[string]bool{} // dimension label → values
	var buf []remotewrite.Label
	var key []byte
	for k, li := range check {
		buf = in.labels.dimensions(buf[:0], in.listing[li].metric.Dimensions)
		for _, l := range buf {
			if values[l.Name] == nil {
				values[l.Name] = map[string]bool{}
			}
			values[l.Name][l.Value] = true
		}
		key = appendLabelsKey(key[:0], buf)
		keys[k] = string(key)
	}
	by := make([]string, 0, len(values))
	narrow := ""
	for n, vs := range values {
		by = append(by, n)
		// Every series of check has it (or the set is not narrowed).
		if len(vs) > len(values[narrow]) && dimOfAll(in, check, n) {
			narrow = n
		}
	}
	slices.Sort(by)
	var matchers strings.Builder
	for _, l := range in.labels.base {
		// The target's labels only: a context label (account_alias,
		// custom_tag_*) that changed does not make a stored metric new.
		if l.Value != "" && (l.Name == "job" || l.Name == "region" || l.Name == "account_id") {
			if matchers.Len() > 0 {
				matchers.WriteByte(',')
			}
			fmt.Fprintf(&matchers, "%s=%q", l.Name, l.Value)
		}
	}
	if narrow != "" {
		fmt.Fprintf(&matchers, `,%s=~"%s"`, narrow, alternation(values[narrow]))
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
		buf = buf[:0]
		for n, v := range s.Labels {
			buf = append(buf, remotewrite.Label{Name: n, Value: v})
		}
		key = appendLabelsKey(key[:0], buf)
		stored[string(key)] = true
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

// dimOfAll reports whether every series of check has the dimension whose
// label is label (a service job's listing may mix dimension sets).
func dimOfAll(in *planInput, check []int, label string) bool {
	var buf []remotewrite.Label
	for _, li := range check {
		buf = in.labels.dimensions(buf[:0], in.listing[li].metric.Dimensions)
		if !slices.ContainsFunc(buf, func(l remotewrite.Label) bool { return l.Name == label && l.Value != "" }) {
			return false
		}
	}
	return true
}

// appendLabelsKey appends to dst a key of labels that does not depend on
// their order and leaves out empty values (a receiver drops them). It
// sorts labels.
func appendLabelsKey(dst []byte, labels []remotewrite.Label) []byte {
	slices.SortFunc(labels, func(a, b remotewrite.Label) int { return strings.Compare(a.Name, b.Name) })
	for _, l := range labels {
		if l.Value == "" {
			continue
		}
		dst = append(dst, l.Name...)
		dst = append(dst, 0)
		dst = append(dst, l.Value...)
		dst = append(dst, 0)
	}
	return dst
}
