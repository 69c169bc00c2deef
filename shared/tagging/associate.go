package tagging

import (
	"cmp"
	"slices"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/resource"
)

// Associator maps a CloudWatch metric to the tagged resource it describes,
// the way YACE does:
//
//   - every pattern of the service maps the resources it matches (each
//     resource by the first pattern that matches it) from the dimension
//     values it extracts from their ARNs; patterns that map no resource are
//     dropped;
//   - a metric is tried against the patterns with the most dimensions
//     first; a pattern applies when the metric has all its dimensions (and
//     possibly more), and the metric belongs to the resource whose values
//     equal the metric's for those dimensions;
//   - a metric without dimensions, or one to which no pattern applies, is
//     kept as a "global" metric of no resource; a metric to which some
//     pattern applied but no resource matched is skipped: it belongs to a
//     resource that was filtered out (search_tags) or is not tagged.
type Associator struct {
	mappings []mapping
}

type mapping struct {
	dims      []string
	resources map[string]int // resource index, by dimKey of the values
}

// dimKey encodes dimension values in the order of names, unambiguously.
func dimKey(values []string) string {
	var b strings.Builder
	for _, v := range values {
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.String()
}

// NewAssociator builds the mappings of svc's patterns over resources.
func NewAssociator(svc *resource.Service, resources []resource.Resource) *Associator {
	a := &Associator{}
	mapped := make([]bool, len(resources))
	for _, p := range svc.ARNPatterns() {
		m := mapping{dims: p.Dims, resources: map[string]int{}}
		for i := range resources {
			if mapped[i] {
				continue
			}
			match := p.Re.FindStringSubmatch(resources[i].ARN)
			if match == nil {
				continue
			}
			m.resources[dimKey(match[1:])] = i
			mapped[i] = true
		}
		if len(m.resources) > 0 {
			a.mappings = append(a.mappings, m)
		}
	}
	slices.SortStableFunc(a.mappings, func(x, y mapping) int { return cmp.Compare(len(y.dims), len(x.dims)) })
	return a
}

// Associate returns the index, in the resources the Associator was built
// over, of the resource a metric with these dimensions belongs to, or -1
// for a global metric; skip reports a metric to leave out.
func (a *Associator) Associate(dims []cloudwatch.Dimension) (res int, skip bool) {
	if len(dims) == 0 || a == nil {
		return -1, false
	}
	values := make([]string, 0, 4)
	applied := false
	for _, m := range a.mappings {
		values = values[:0]
		for _, name := range m.dims {
			i := slices.IndexFunc(dims, func(d cloudwatch.Dimension) bool { return d.Name == name })
			if i < 0 {
				break
			}
			values = append(values, dims[i].Value)
		}
		if len(values) != len(m.dims) {
			continue
		}
		applied = true
		if r, ok := m.resources[dimKey(values)]; ok {
			return r, false
		}
	}
	return -1, applied
}

// Selected is a metric of a service job, by its index in the listing, and
// the index of the resource it belongs to (-1: a global metric).
type Selected struct {
	Metric, Resource int
}

// Select associates listed metrics with resources and keeps what YACE
// keeps: nothing when the service has no tagged resource left after
// search_tags (YACE collects nothing for such a job and region), and of the
// rest every metric but those of a resource that is not among them.
func Select(svc *resource.Service, resources []resource.Resource, metrics []cloudwatch.Metric) []Selected {
	if len(resources) == 0 {
		return nil
	}
	a := NewAssociator(svc, resources)
	out := make([]Selected, 0, len(metrics))
	for i := range metrics {
		r, skip := a.Associate(metrics[i].Dimensions)
		if skip {
			continue
		}
		out = append(out, Selected{Metric: i, Resource: r})
	}
	return out
}
