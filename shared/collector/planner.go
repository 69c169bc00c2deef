package collector

import (
	"hash/maphash"
	"slices"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
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
	// fresh lists the unit's newly listed metrics (their keys).
	fresh []string
	// Filled while the data streams in.
	series  []remotewrite.Series
	samples int
	err     error
}

// queryMeta says where a query's data goes.
type queryMeta struct {
	unit int
	name string // the series name
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
}

// planTarget plans one target's run.
//
// A unit is due when the newest settled window end of its timing is past
// its own progress. Each series of a due unit is fetched from where it is
// covered — the newest progress of any unit it belongs to, under any shard
// count — or, with no progress anywhere, over a first run's window; a
// series newly listed by this process from the catch-up limit. Series a
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
	type planned struct {
		li, si int
		unit   int
		w      cloudwatch.Window
	}
	var series []planned

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
	for li := range in.listing {
		l := &in.listing[li]
		for si := range in.stats[l.cfg] {
			buf = in.labels.labels(buf[:0], in.seriesNames[l.cfg][si], l.metric.Dimensions)
			if err := remotewrite.ValidateLabels(buf); err != nil {
				drop(seen{li, si}, buf, err.Error())
				continue
			}
			hash := labelSetHash(seed, buf)
			f, dup := first[hash]
			if !dup {
				first[hash] = seen{li, si}
				continue
			}
			fl := &in.listing[f.li]
			other = in.labels.labels(other[:0], in.seriesNames[fl.cfg][f.si], fl.metric.Dimensions)
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
		covered, hasCover := in.progress.covered(key.metric, h)
		var w cloudwatch.Window
		var skipped time.Duration
		switch {
		case l.fresh:
			// Absent from this process's previous listing, which asked for
			// metrics active in the three hours before it: whatever was
			// ever written of it is older than the catch-up limit.
			w = timing.CatchUp(in.at)
			u.fresh = append(u.fresh, l.metric.Key())
		case hasCover:
			w, skipped = timing.Next(in.at, covered)
			if u.hasBaseline && covered.Before(u.baseline) {
				u.baseline = covered
			}
		default:
			w = timing.First(in.at)
		}
		if w.Empty() {
			continue
		}
		for si := range in.stats[l.cfg] {
			if bad[seen{li, si}] {
				continue
			}
			p.skipped = max(p.skipped, skipped)
			series = append(series, planned{li: li, si: si, unit: ui, w: w})
		}
	}
	// Oldest windows first: the most lagging units complete first.
	slices.SortStableFunc(series, func(a, b planned) int { return a.w.Start.Compare(b.w.Start) })
	p.queries = make([]cloudwatch.Query, 0, len(series))
	p.meta = make([]queryMeta, 0, len(series))
	for _, s := range series {
		l := &in.listing[s.li]
		p.queries = append(p.queries, cloudwatch.Query{
			Metric: l.metric, Stat: in.stats[l.cfg][s.si], Period: in.timings[l.cfg].Period, Start: s.w.Start, End: s.w.End,
		})
		p.meta = append(p.meta, queryMeta{unit: s.unit, name: in.seriesNames[l.cfg][s.si]})
		p.units[s.unit].pending++
	}
	return p
}
