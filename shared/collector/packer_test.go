package collector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPacker(t *testing.T) {
	t.Parallel()
	minute := groupKey{period: time.Minute, delay: 10 * time.Minute}
	hourly := groupKey{period: time.Hour, delay: 10 * time.Minute}
	tests := []struct {
		name  string
		units []struct {
			samples int
			group   groupKey
		}
		want [][]int // unit indexes per request, in order
	}{
		{"fill up to the limit, progress samples count", units(minute, 4, 4, 4), [][]int{{0, 1}, {2}}},
		{"a unit larger than the limit travels alone, never split", units(minute, 2, 30, 2), [][]int{{0}, {1}, {2}}},
		{"an empty unit still carries its progress", units(minute, 0, 0, 0), [][]int{{0, 1, 2}}},
		{"groups never share a request", append(units(minute, 1), append(units(hourly, 1), units(minute, 1)...)...), [][]int{{0, 2}, {1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var us []*unit
			groups := map[*unit]groupKey{}
			idx := map[*unit]int{}
			for i, x := range tt.units {
				u := &unit{samples: x.samples}
				us = append(us, u)
				groups[u] = x.group
				idx[u] = i
			}
			var got [][]int
			p := &packer{maxSamples: 10, group: func(u *unit) groupKey { return groups[u] }, send: func(batch []*unit) {
				var ids []int
				for _, u := range batch {
					ids = append(ids, idx[u])
				}
				got = append(got, ids)
			}}
			for _, u := range us {
				p.add(u)
			}
			p.flush()
			require.Equal(t, tt.want, got)
		})
	}
}

func units(g groupKey, samples ...int) []struct {
	samples int
	group   groupKey
} {
	var out []struct {
		samples int
		group   groupKey
	}
	for _, n := range samples {
		out = append(out, struct {
			samples int
			group   groupKey
		}{n, g})
	}
	return out
}
