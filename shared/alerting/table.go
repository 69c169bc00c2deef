package alerting

import (
	"context"
	"encoding/binary"
	"slices"
	"time"
)

// seriesTable interns the series one evaluation reads. Every instant read
// of a run (the smoothing window's mean, latest and median, the baseline's
// edges, the history counts) answers with the same series and their label
// sets: 100,000 series and ten reads gave a million label maps and
// fingerprints, most of them held until the run ended. The table keeps one
// label set (SeriesLabels) and one fingerprint per series, found again by
// the labels themselves without building either, so what a run holds grows
// with its series and not with its reads.
type seriesTable struct {
	index  map[string]int32
	labels []map[string]string
	fps    []string
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
	ls := SeriesLabels(raw)
	id := int32(len(t.fps))
	t.index[string(t.key)] = id
	t.labels = append(t.labels, ls)
	t.fps = append(t.fps, Fingerprint(ls))
	return id
}

// fp and labelsOf are series id's fingerprint and labels (shared: never
// changed).
func (t *seriesTable) fp(id int32) string                  { return t.fps[id] }
func (t *seriesTable) labelsOf(id int32) map[string]string { return t.labels[id] }

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
