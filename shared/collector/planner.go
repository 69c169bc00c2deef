package collector

import (
	"fmt"
	"hash/maphash"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// The planner decides, for one target at scheduled time T and from stored
// progress alone, which units are due, which window each series needs and
// what is given up. It does no I/O: every scenario of the delivery contract
// has a small test of its own (planner_test.go) besides the end-to-end ones.

// planInput is everything planTarget reads.
type planInput struct {
	at     time.Time
	shards int
	// metricNames, timings and seriesNames are per entry of the job's
	// metrics: its CloudWatch name, its timing, and per statistic the
	// series name.
	metricNames []string
	stats       [][]string
	timings     []cloudwatch.Timing
	seriesNames [][]string
	listing     []listed
	progress    *targetProgress
	labels      *labeler
}

// unit is one progress unit that is due in this run: a metrics entry's
// series that hash to one shard. Its data and its progress sample travel in
// one request, so it is stored whole or not at all.
type unit struct {
	key unitKey
	cfg int
	// end is what the unit is covered until once this run has written it.
	end time.Time
	// baseline, when set, is written before anything is fetched: the unit
	// has series but no progress of its own yet, and a run cut short must
	// still leave a record of where its coverage starts (else the time it
	// never covered would be counted nowhere).
	baseline    time.Time
	hasBaseline bool
	// pending counts the unit's queries not answered yet.
	pending int
	// digest is the unit's series set in this run's listing (the sum of
	// metricDigest), written with its progress.
	digest uint64
	// Filled while the data streams in: per answered query its samples.
	// Labels are rendered only when the unit is written.
	data    []unitData
	samples int
	err     error
}

// unitData is one series' samples, by the query that fetched them.
type unitData struct {
	query   int32
	samples []remotewrite.Sample
}

// queryMeta says where a query's data goes: its unit, and its metrics
// entry and statistic (which name the series).
type queryMeta struct {
	unit      int32
	cfg, stat uint16
	// res is the listed metric's resource (listed.res).
	res int32
}

// droppedSeries is a series the run does not collect because a receiver
// would refuse it, or would take it and another for one series.
type droppedSeries struct {
	labels string // the label set, for the log
	metric string // the CloudWatch metric and statistic behind it
	why    string
}

// targetPlan is what a run does in one target.
type targetPlan struct {
	units   []*unit
	queries []cloudwatch.Query
	meta    []queryMeta
	// skipped is the longest span a series gives up in this run.
	skipped time.Duration
	dropped []droppedSeries
	// check lists (by listing index) the series planned from progress in
	// due units whose series set is not the one stored with their progress
	// (or that have no stored digest): some of them may be new, with none
	// of their data stored. markFresh asks the store which.
	check []int
}

// planned is one series to fetch.
type planned struct {
	li, si int
	unit   int
	w      cloudwatch.Window
	// fromProgress: w continues from stored progress.
	fromProgress bool
}

// planTarget plans one target's run.
//
// A unit is due when the newest settled window end of its timing is past
// its own progress. Each series of a due unit is fetched from where it is
// covered — the newest progress of any unit it belongs to, under any shard
// count — or, with no progress anywhere, over a first run's window; a
// fresh series (new to its unit, nothing stored: markFresh) from the
// catch-up limit. A due unit's listed series set is digested, to be
// written with its progress; when it differs from the stored digest, the
// series planned from progress are listed in check. Series a
// receiver would refuse (invalid labels, or two CloudWatch metrics that map
// to one series) are dropped before anything is fetched. Queries come out
// with the oldest windows first, so the most lagging units are fetched
// first when the run's time runs short.
func planTarget(in planInput) *targetPlan {
	p := &targetPlan{}
	shards := max(in.shards, 1)
	unitOf := map[unitKey]int{}
	notDue := map[unitKey]bool{}
	// Label sets seen, for collisions: order-independent hash → first
	// (listing index, statistic index).
	type seen struct{ li, si int }
	seed := maphash.MakeSeed()
	first := map[uint64]seen{}
	var buf, other []remotewrite.Label
	series := make([]planned, 0, len(in.listing))

	// Labels first, over every listed series whether due or not: a series
	// that a receiver would refuse, or that collides with another, is
	// dropped on every run, never written by one and refused in the next.
	bad := map[seen]bool{}
	drop := func(at seen, labels []remotewrite.Label, why string) {
		if bad[at] {
			return
		}
		bad[at] = true
		l := &in.listing[at.li]
		p.dropped = append(p.dropped, droppedSeries{labels: labelString(labels), metric: describeMetric(l.metric, in.stats[l.cfg][at.si]), why: why})
	}
	// The label names of a job's series repeat (discovery lists only
	// metrics with exactly the job's dimension names): names checked once
	// for an entry, statistic and resource (whose name and tag labels were
	// part of the check) need only their values checked again.
	type checked struct {
		cfg, si int
		res     int32
		dims    []cloudwatch.Dimension
	}
	var last *checked
	for li := range in.listing {
		l := &in.listing[li]
		for si := range in.stats[l.cfg] {
			buf = in.labels.labels(buf[:0], in.seriesNames[l.cfg][si], l.res, l.metric.Dimensions)
			if last != nil && last.cfg == l.cfg && last.si == si && last.res == l.res && sameNames(last.dims, l.metric.Dimensions) {
				if err := validValues(l.metric.Dimensions); err != nil {
					drop(seen{li, si}, buf, err.Error())
					continue
				}
			} else if err := remotewrite.ValidateLabels(buf); err != nil {
				drop(seen{li, si}, buf, err.Error())
				continue
			} else {
				last = &checked{cfg: l.cfg, si: si, res: l.res, dims: l.metric.Dimensions}
			}
			hash := labelSetHash(seed, buf)
			f, dup := first[hash]
			if !dup {
				first[hash] = seen{li, si}
				continue
			}
			fl := &in.listing[f.li]
			other = in.labels.labels(other[:0], in.seriesNames[fl.cfg][f.si], fl.res, fl.metric.Dimensions)
			if sameLabelSet(buf, other) {
				drop(seen{li, si}, buf, "maps to the same series as "+describeMetric(fl.metric, in.stats[fl.cfg][f.si]))
				drop(f, other, "maps to the same series as "+describeMetric(l.metric, in.stats[l.cfg][si]))
			}
		}
	}

	for li := range in.listing {
		l := &in.listing[li]
		h := seriesHash(l.metric)
		key := unitKey{metric: in.metricNames[l.cfg], shards: shards, shard: int(h % uint32(shards))}
		if notDue[key] {
			continue
		}
		timing := in.timings[l.cfg]
		ui, ok := unitOf[key]
		if !ok {
			end := timing.End(in.at)
			own, hasOwn := in.progress.own(key)
			if hasOwn && !end.After(own) {
				notDue[key] = true
				continue
			}
			ui = len(p.units)
			unitOf[key] = ui
			u := &unit{key: key, cfg: l.cfg, end: end}
			if !hasOwn {
				u.hasBaseline = true
				u.baseline = timing.First(in.at).Start
			}
			p.units = append(p.units, u)
		}
		u := p.units[ui]
		u.digest += metricDigest(l.metric)
		covered, hasCover := in.progress.covered(key.metric, h)
		if !hasCover {
			covered, hasCover = in.progress.legacyCovered(l.metric, timing)
		}
		var w cloudwatch.Window
		var skipped time.Duration
		switch {
		case l.fresh:
			// New to its unit, with nothing stored since the catch-up
			// limit: ListMetrics lists metrics active in the last three
			// hours, so it appeared since the unit's last write.
			w = timing.CatchUp(in.at)
		case hasCover:
			w, skipped = timing.Next(in.at, covered)
			if u.hasBaseline && covered.Before(u.baseline) {
				u.baseline = covered
			}
		default:
			w = timing.First(in.at)
		}
		for si := range in.stats[l.cfg] {
			if bad[seen{li, si}] {
				continue
			}
			// Given up even when nothing is left to fetch (a period change
			// skips to the next whole period): the unit moves past it now.
			p.skipped = max(p.skipped, skipped)
			if !w.Empty() {
				series = append(series, planned{li: li, si: si, unit: ui, w: w, fromProgress: hasCover && !l.fresh})
			}
		}
	}
	p.check = changedSeries(in.progress, p.units, series)
	// Oldest windows first, so the most lagging units complete first; then
	// unit by unit, so units complete one after another while the data
	// streams in and memory does not grow with the number of series;
	// listing order within a unit. A counting sort: there are few distinct
	// window starts and units, and many series.
	series = orderPlanned(series, len(p.units))
	p.queries = make([]cloudwatch.Query, 0, len(series))
	p.meta = make([]queryMeta, 0, len(series))
	for _, s := range series {
		l := &in.listing[s.li]
		p.queries = append(p.queries, cloudwatch.Query{
			Metric: l.metric, Stat: in.stats[l.cfg][s.si], Period: in.timings[l.cfg].Period, Start: s.w.Start, End: s.w.End,
		})
		p.meta = append(p.meta, queryMeta{unit: int32(s.unit), cfg: uint16(l.cfg), stat: uint16(s.si), res: l.res})
		p.units[s.unit].pending++
	}
	return p
}

// changedSeries lists, by listing index, the series planned from progress
// in units whose series set differs from the one stored with their progress.
// A unit with a stored digest equal to its listing's costs nothing more.
func changedSeries(progress *targetProgress, units []*unit, series []planned) []int {
	changed := make([]bool, len(units))
	some := false
	for i, u := range units {
		stored, ok := progress.digest(u.key)
		changed[i] = !ok || stored != u.digest&(1<<digestBits-1)
		some = some || changed[i]
	}
	if !some {
		return nil
	}
	var out []int
	for _, s := range series {
		// A series comes once per statistic, one after another.
		if s.fromProgress && changed[s.unit] && (len(out) == 0 || out[len(out)-1] != s.li) {
			out = append(out, s.li)
		}
	}
	return out
}

// orderPlanned orders series by window start, then unit, keeping the
// listing order within each (window start, unit).
func orderPlanned(series []planned, units int) []planned {
	var starts []time.Time
	for _, s := range series {
		if !slices.ContainsFunc(starts, s.w.Start.Equal) {
			starts = append(starts, s.w.Start)
		}
	}
	slices.SortFunc(starts, time.Time.Compare)
	startIdx := func(t time.Time) int {
		i, _ := slices.BinarySearchFunc(starts, t, time.Time.Compare)
		return i
	}
	offset := make([]int, len(starts)*units+1)
	for _, s := range series {
		offset[startIdx(s.w.Start)*units+s.unit+1]++
	}
	for i := 1; i < len(offset); i++ {
		offset[i] += offset[i-1]
	}
	out := make([]planned, len(series))
	for _, s := range series {
		k := startIdx(s.w.Start)*units + s.unit
		out[offset[k]] = s
		offset[k]++
	}
	return out
}

// sameNames reports whether a and b have the same dimension names.
func sameNames(a, b []cloudwatch.Dimension) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// validValues checks dimension values for what a receiver refuses.
func validValues(dims []cloudwatch.Dimension) error {
	for _, d := range dims {
		if !utf8.ValidString(d.Value) {
			return fmt.Errorf("label %q: value is not valid UTF-8", naming.DimensionLabel(d.Name))
		}
	}
	return nil
}
