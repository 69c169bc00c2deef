package resource

import (
	"cmp"
	"slices"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
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
	resources map[string]*Resource // by dimKey of the values
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
func NewAssociator(svc *Service, resources []Resource) *Associator {
	a := &Associator{}
	mapped := make([]bool, len(resources))
	for _, p := range svc.patterns {
		m := mapping{dims: p.dims, resources: map[string]*Resource{}}
		for i := range resources {
			if mapped[i] {
				continue
			}
			match := p.re.FindStringSubmatch(resources[i].ARN)
			if match == nil {
				continue
			}
			m.resources[dimKey(match[1:])] = &resources[i]
			mapped[i] = true
		}
		if len(m.resources) > 0 {
			a.mappings = append(a.mappings, m)
		}
	}
	slices.SortStableFunc(a.mappings, func(x, y mapping) int { return cmp.Compare(len(y.dims), len(x.dims)) })
	return a
}

// Associate returns the resource of a metric with these dimensions, or nil
// for a global metric; skip reports a metric to leave out.
func (a *Associator) Associate(dims []cloudwatch.Dimension) (res *Resource, skip bool) {
	if len(dims) == 0 || a == nil {
		return nil, false
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
	return nil, applied
}
