package cloudwatch

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Dimension is one CloudWatch dimension.
type Dimension struct {
	Name, Value string
}

// Metric identifies one CloudWatch metric: namespace, name and dimensions
// (sorted by name, so equal metrics compare equal).
type Metric struct {
	Namespace  string
	Name       string
	Dimensions []Dimension
}

// NewMetric returns a Metric with its dimensions sorted.
func NewMetric(namespace, name string, dims []Dimension) Metric {
	return ownedMetric(namespace, name, slices.Clone(dims))
}

// ownedMetric is NewMetric for dims the Metric may keep and sort.
func ownedMetric(namespace, name string, dims []Dimension) Metric {
	slices.SortFunc(dims, func(a, b Dimension) int { return cmp.Compare(a.Name, b.Name) })
	return Metric{Namespace: namespace, Name: name, Dimensions: dims}
}

// CompareMetrics orders metrics by namespace, name and dimensions; 0 means
// the same metric. It allocates nothing, unlike comparing Keys.
func CompareMetrics(a, b Metric) int {
	if c := cmp.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	for i := range min(len(a.Dimensions), len(b.Dimensions)) {
		if c := cmp.Compare(a.Dimensions[i].Name, b.Dimensions[i].Name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Dimensions[i].Value, b.Dimensions[i].Value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.Dimensions), len(b.Dimensions))
}

// Key is a stable identity string for the metric.
func (m Metric) Key() string {
	var b strings.Builder
	b.Grow(len(m.Namespace) + len(m.Name) + 16*len(m.Dimensions))
	b.WriteString(m.Namespace)
	b.WriteByte(0)
	b.WriteString(m.Name)
	for _, d := range m.Dimensions {
		b.WriteByte(0)
		b.WriteString(d.Name)
		b.WriteByte('=')
		b.WriteString(d.Value)
	}
	return b.String()
}

// Query asks for one statistic of one metric at one period over [Start, End).
// Metric points at the caller's listing, which must not change during Fetch.
type Query struct {
	Metric *Metric
	Stat   string
	Period time.Duration
	Start  time.Time
	End    time.Time
}

// Point is one datapoint at its CloudWatch timestamp.
type Point struct {
	T time.Time
	V float64
}
