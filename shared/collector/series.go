package collector

import (
	"hash/maphash"
	"slices"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/resource"
)

// labeler builds the labels of a target's data series the YACE way:
// __name__, job, region, account_id, the job's context labels
// (account_alias, custom_tag_*), name, a service job's tag_* labels, and
// dimension_<Name> per dimension. It caches the dimension label names,
// which repeat on every series of a job.
type labeler struct {
	base []remotewrite.Label // job, region, account_id and the context labels
	// name is the name label of a series of no resource.
	name remotewrite.Label
	// resources holds, per resource of a service job, its name label (the
	// ARN) and its tag_* labels; listed.res indexes it from 1.
	resources [][]remotewrite.Label
	snakeCase bool
	dimLabel  map[string]string
}

// newLabeler returns the labeler of job's series in one target; alias is
// the account's alias for jobs that carry it, resources a service job's
// resources.
func newLabeler(job *config.Job, region, account, alias string, resources []resource.Resource) *labeler {
	l := &labeler{
		base: append([]remotewrite.Label{
			{Name: "job", Value: job.Name}, {Name: "region", Value: region}, {Name: "account_id", Value: account},
		}, contextLabels(job, alias)...),
		name:      remotewrite.Label{Name: "name", Value: resourceName(job)},
		snakeCase: job.LabelsSnakeCase,
		dimLabel:  map[string]string{},
	}
	if len(resources) > 0 {
		l.resources = make([][]remotewrite.Label, len(resources))
		for i := range resources {
			l.resources[i] = resource.MetricLabels(&resources[i], job.ExportedTags, job.LabelsSnakeCase)
		}
	}
	return l
}

// size is how many labels a series of resource res with dims has.
func (l *labeler) size(res int32, dims []cloudwatch.Dimension) int {
	n := 1
	if res > 0 {
		n = len(l.resources[res-1])
	}
	return 1 + len(l.base) + n + len(dims)
}

// labels appends the labels of series name of resource res with dims to
// dst.
func (l *labeler) labels(dst []remotewrite.Label, name string, res int32, dims []cloudwatch.Dimension) []remotewrite.Label {
	dst = append(dst, remotewrite.Label{Name: "__name__", Value: name})
	dst = append(dst, l.base...)
	if res > 0 {
		dst = append(dst, l.resources[res-1]...)
	} else {
		dst = append(dst, l.name)
	}
	return l.dimensions(dst, dims)
}

// dimensions appends the dimension_<Name> labels of dims to dst.
func (l *labeler) dimensions(dst []remotewrite.Label, dims []cloudwatch.Dimension) []remotewrite.Label {
	for _, d := range dims {
		ln, ok := l.dimLabel[d.Name]
		if !ok {
			ln = naming.Label("dimension_", d.Name, l.snakeCase)
			l.dimLabel[d.Name] = ln
		}
		dst = append(dst, remotewrite.Label{Name: ln, Value: d.Value})
	}
	return dst
}

// labelSetHash hashes a label set independently of label order, so that
// two series a receiver would see as one hash alike.
func labelSetHash(seed maphash.Seed, labels []remotewrite.Label) uint64 {
	var sum uint64
	for _, l := range labels {
		if l.Value == "" {
			continue
		}
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(l.Name)
		h.WriteByte(0xff)
		h.WriteString(l.Value)
		sum += h.Sum64()
	}
	return sum
}

// sameLabelSet reports whether a and b are one label set for a receiver.
func sameLabelSet(a, b []remotewrite.Label) bool {
	norm := func(in []remotewrite.Label) []remotewrite.Label {
		out := make([]remotewrite.Label, 0, len(in))
		for _, l := range in {
			if l.Value != "" {
				out = append(out, l)
			}
		}
		slices.SortFunc(out, func(x, y remotewrite.Label) int { return strings.Compare(x.Name, y.Name) })
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// labelString formats labels for a log line, in name order.
func labelString(labels []remotewrite.Label) string {
	sorted := slices.Clone(labels)
	slices.SortStableFunc(sorted, func(x, y remotewrite.Label) int { return strings.Compare(x.Name, y.Name) })
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range sorted {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(l.Value)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// describeMetric names a CloudWatch metric and statistic in a log line.
func describeMetric(m *cloudwatch.Metric, stat string) string {
	var b strings.Builder
	b.WriteString(m.Namespace)
	b.WriteByte(' ')
	b.WriteString(m.Name)
	b.WriteByte(' ')
	b.WriteString(stat)
	for _, d := range m.Dimensions {
		b.WriteByte(' ')
		b.WriteString(d.Name)
		b.WriteByte('=')
		b.WriteString(d.Value)
	}
	return b.String()
}

// arenaBlock is how many samples an arena allocates at once.
const arenaBlock = 4096

// arena hands out the sample slices of data series, carved from larger
// blocks: one allocation per few hundred series instead of one per series.
// A block lives until the last series carved from it is written.
type arena struct {
	samples []remotewrite.Sample
}

// sampleSlice returns a slice of n samples.
func (a *arena) sampleSlice(n int) []remotewrite.Sample {
	if cap(a.samples)-len(a.samples) < n {
		a.samples = make([]remotewrite.Sample, 0, max(n, arenaBlock))
	}
	start := len(a.samples)
	a.samples = a.samples[:start+n]
	return a.samples[start : start+n : start+n]
}

// renderer turns units' data into remote-write series, with buffers reused
// from one request to the next: a request's labels live only until it is
// encoded, so they are not allocated per series.
type renderer struct {
	labels      *labeler
	queries     []cloudwatch.Query
	meta        []queryMeta
	seriesNames [][]string
	req         []remotewrite.Series
	lbuf        []remotewrite.Label
}

// series renders the data of units, in order; the result is valid until
// the next call.
func (r *renderer) series(units []*unit) []remotewrite.Series {
	n, nl := 0, 0
	for _, u := range units {
		n += len(u.data)
		for _, d := range u.data {
			nl += r.labels.size(r.meta[d.query].res, r.queries[d.query].Metric.Dimensions)
		}
	}
	if cap(r.lbuf) < nl {
		r.lbuf = make([]remotewrite.Label, 0, nl)
	}
	lbuf := r.lbuf[:0]
	req := slices.Grow(r.req[:0], n)
	for _, u := range units {
		for _, d := range u.data {
			q := &r.queries[d.query]
			m := r.meta[d.query]
			start := len(lbuf)
			lbuf = r.labels.labels(lbuf, r.seriesNames[m.cfg][m.stat], m.res, q.Metric.Dimensions)
			req = append(req, remotewrite.Series{Labels: lbuf[start:len(lbuf):len(lbuf)], Samples: d.samples})
		}
	}
	r.req, r.lbuf = req[:0], lbuf[:0]
	return req
}
