package alerting

import (
	"context"
	"encoding/binary"
	"slices"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/promql"
)

// seriesTable interns the series one evaluation reads. Every instant read
// of a run (the smoothing window's mean, latest and median, the baseline's
// edges, the history counts) answers with the same series and their label
// sets: 100,000 series and ten reads gave a million label maps and
// fingerprints, most of them held until the run ended. The table keeps one
// entry per series, found again by its labels without building anything:
// the kept labels (SeriesLabels) encoded in one string, and the
// fingerprint. The label map a result carries is built from that string
// (its values share its bytes) once, when first asked for, at the end of
// the run: while the reads go on, a series costs its key and fingerprint.
type seriesTable struct {
	index map[string]int32
	// keys are the series' kept labels, sorted by name, each name and
	// value prefixed by its length.
	keys   []string
	fps    []string
	labels []map[string]string // built by labelsOf
	// names and key are scratch space for the lookup.
	names []string
	key   []byte
}

func newSeriesTable() *seriesTable { return &seriesTable{index: map[string]int32{}} }

// intern is the id of the series whose labels (as a query answers them,
// __name__ and the store's own labels included) are raw; raw is not kept.
func (t *seriesTable) intern(raw map[string]string) int32 {
	t.names = t.names[:0]
	for k, v := range raw {
		if kept(k, v) {
			t.names = append(t.names, k)
		}
	}
	slices.Sort(t.names)
	// Length-prefixed: no label value can make two sets one key.
	t.key = t.key[:0]
	for _, k := range t.names {
		t.key = binary.AppendUvarint(t.key, uint64(len(k)))
		t.key = append(t.key, k...)
		t.key = binary.AppendUvarint(t.key, uint64(len(raw[k])))
		t.key = append(t.key, raw[k]...)
	}
	if id, ok := t.index[string(t.key)]; ok {
		return id
	}
	id := int32(len(t.fps))
	key := string(t.key)
	t.index[key] = id
	t.keys = append(t.keys, key)
	t.fps = append(t.fps, fingerprintSorted(t.names, raw))
	t.labels = append(t.labels, nil)
	return id
}

// fp is series id's fingerprint.
func (t *seriesTable) fp(id int32) string { return t.fps[id] }

// labelsOf is series id's labels (SeriesLabels of what the store
// answered), one map a series however often it is asked for: callers share
// it and never change it.
func (t *seriesTable) labelsOf(id int32) map[string]string {
	if ls := t.labels[id]; ls != nil {
		return ls
	}
	key := t.keys[id]
	ls := map[string]string{}
	for len(key) > 0 {
		var name, value string
		name, key = nextField(key)
		value, key = nextField(key)
		ls[name] = value
	}
	t.labels[id] = ls
	return ls
}

// nextField splits a length-prefixed field off the front of key.
func nextField(key string) (string, string) {
	n, w := binary.Uvarint([]byte(key[:min(len(key), binary.MaxVarintLen64)]))
	end := w + int(n)
	return key[w:end], key[end:]
}

// len is the number of series interned.
func (t *seriesTable) len() int { return len(t.fps) }

// sampleReader is a Querier that hands an instant query's samples over one
// at a time (*promql.Client): the read never holds its answer twice (see
// promql.Client.QueryEach). fn's labels are valid during the call only.
type sampleReader interface {
	QueryEach(ctx context.Context, query string, at time.Time, fn func(labels map[string]string, t time.Time, v float64)) error
}

// queryEach runs the instant query through q's QueryEach when it has one,
// and through Query otherwise.
func queryEach(ctx context.Context, q Querier, query string, at time.Time, fn func(labels map[string]string, t time.Time, v float64)) error {
	if r, ok := q.(sampleReader); ok {
		return r.QueryEach(ctx, query, at, fn)
	}
	samples, err := q.Query(ctx, query, at)
	if err != nil {
		return err
	}
	for _, s := range samples {
		fn(s.Labels, s.T, s.V)
	}
	return nil
}

// seriesReader is a Querier that hands a range read's series over one at
// a time (*promql.Client): the read never holds them all decoded (see
// promql.Client.QuerySeriesEach). fn's labels and points are valid during
// the call only.
type seriesReader interface {
	QuerySeriesEach(ctx context.Context, query string, at time.Time, fn func(labels map[string]string, points []promql.Point)) error
}

// querySeriesEach runs the range read through q's QuerySeriesEach when it
// has one, and through QuerySeries otherwise.
func querySeriesEach(ctx context.Context, q Querier, query string, at time.Time, fn func(labels map[string]string, points []promql.Point)) error {
	if r, ok := q.(seriesReader); ok {
		return r.QuerySeriesEach(ctx, query, at, fn)
	}
	series, err := q.QuerySeries(ctx, query, at)
	if err != nil {
		return err
	}
	for _, s := range series {
		fn(s.Labels, s.Points)
	}
	return nil
}
