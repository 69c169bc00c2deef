package collector

import (
	"cmp"
	"slices"
	"time"
)

// The packer puts completed units into remote-write requests. A unit is
// never split (its data and its progress must be stored together), a
// request holds at most maxSamples samples unless one unit alone is larger,
// and units of different timing groups never share a request: if a
// receiver refuses an hourly unit, the one-minute units beside it must not
// fall with it.

// groupKey is a timing group: units whose windows move together.
type groupKey struct {
	period, delay time.Duration
	latest        bool
}

type packer struct {
	maxSamples int
	group      func(*unit) groupKey
	// send writes one request's units; it is called in the caller's
	// goroutine, one request at a time.
	send func(units []*unit)
	open map[groupKey]*openBatch
}

type openBatch struct {
	units   []*unit
	samples int
}

// unitSamples is what a unit adds to a request: its data and its progress
// sample.
func unitSamples(u *unit) int { return u.samples + 1 }

// add queues a completed unit, sending its group's request first when the
// unit would not fit in it.
func (p *packer) add(u *unit) {
	if p.open == nil {
		p.open = map[groupKey]*openBatch{}
	}
	g := p.group(u)
	b := p.open[g]
	if b == nil {
		b = &openBatch{}
		p.open[g] = b
	}
	n := unitSamples(u)
	if len(b.units) > 0 && b.samples+n > p.maxSamples {
		p.send(b.units)
		b.units, b.samples = nil, 0
	}
	b.units = append(b.units, u)
	b.samples += n
}

// flush sends every open request, in a stable order.
func (p *packer) flush() {
	keys := make([]groupKey, 0, len(p.open))
	for k, b := range p.open {
		if len(b.units) > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		if c := cmp.Compare(a.period, b.period); c != 0 {
			return c
		}
		if c := cmp.Compare(a.delay, b.delay); c != 0 {
			return c
		}
		switch {
		case a.latest == b.latest:
			return 0
		case a.latest:
			return 1
		}
		return -1
	})
	for _, k := range keys {
		b := p.open[k]
		p.send(b.units)
		b.units, b.samples = nil, 0
	}
}
