package remotewrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/golang/snappy"
)

// Encode validates series, marshals them as a prompb.WriteRequest (labels
// sorted by name, empty-valued labels dropped) and appends the snappy
// block-format encoding to dst, returning the extended slice. The caller's
// slices are never modified. On a validation error nothing is appended and
// the error lists the problems (see [Validate]).
//
// The protobuf bytes are written directly from series, without building the
// intermediate prompb structs: they are byte-for-byte what
// prompb.WriteRequest.Marshal produces for the same request (the tests and
// the fuzz test check this), at a fraction of the cost and memory of copying
// every label and sample into prompb's types first. Intermediate buffers are
// reused across calls; pass a dst with enough capacity to avoid the one
// allocation of the result.
func Encode(dst []byte, series []Series) ([]byte, error) {
	enc := getEncoder()
	defer putEncoder(enc)
	if err := enc.build(series); err != nil {
		return dst, err
	}
	pb := enc.marshal(series)
	start := len(dst)
	dst = slices.Grow(dst, snappy.MaxEncodedLen(len(pb)))
	out := snappy.Encode(dst[start:cap(dst)], pb)
	return dst[:start+len(out)], nil
}

// encoder holds the per-request working memory. Pooled: a collector run
// encodes many requests of similar shape.
type encoder struct {
	// order holds, per series, the input indexes of its non-empty labels in
	// name order; meta[i] points into it.
	order []int32
	meta  []seriesMeta
	pb    []byte

	seed maphash.Seed
	// seen is an open-addressing hash table (linear probing) from a label-set
	// hash to the first series with it; next chains the later ones, so that
	// a hash collision costs a comparison, not a scan. Cheaper to clear and
	// probe than a map for the ~10,000 entries of a request.
	seen []slot
	next []int32

	// The collector builds every series of a job with the same label names
	// in the same order. When a series has exactly the names of the series
	// that set up the current permutation, that permutation applies and the
	// names need no new checks.
	permNames []Label // input labels of the series that set up the permutation
	permOff   int32
	permOK    bool // permNames had no empty value and valid, unique names
	// last is the previous series when it passed every check with the
	// current permutation: its equal values need no new UTF-8 check.
	last []Label
}

type slot struct {
	hash uint64
	idx  int32 // series index + 1; 0 marks an empty slot
}

type seriesMeta struct {
	off, n int32 // its sorted label order: order[off : off+n]
	size   int   // marshalled size of its TimeSeries message
}

// encoderPool is the only package-level state: a cache, invisible to callers.
var encoderPool = sync.Pool{New: func() any {
	return &encoder{seed: maphash.MakeSeed()}
}}

func getEncoder() *encoder { return encoderPool.Get().(*encoder) }

// maxPooledBytes keeps one huge request from pinning its buffers in the pool.
const maxPooledBytes = 64 << 20

func putEncoder(e *encoder) {
	// Forget the caller's labels: the pool must not keep them alive.
	e.permNames, e.last = nil, nil
	if cap(e.order)*4+cap(e.meta)*16+cap(e.next)*4+cap(e.seen)*16+cap(e.pb) > maxPooledBytes {
		return
	}
	encoderPool.Put(e)
}

// build validates series and computes their sorted label order and sizes.
func (e *encoder) build(series []Series) error {
	e.order = e.order[:0]
	e.meta = slices.Grow(e.meta[:0], len(series))[:len(series)]
	e.next = slices.Grow(e.next[:0], len(series))[:len(series)]
	size := 16
	for size < 2*len(series) {
		size *= 2
	}
	e.seen = slices.Grow(e.seen[:0], size)[:size]
	clear(e.seen)
	e.permNames, e.permOK, e.last = nil, false, nil

	var probs problems
	for i := range series {
		s := &series[i]
		known := e.sameNames(s.Labels)
		if !known {
			e.last = nil
			e.sortLabels(s.Labels)
		}
		m := &e.meta[i]
		m.off, m.n = e.permOff, int32(len(e.order))-e.permOff
		if known {
			m.n = int32(len(s.Labels))
		}
		e.next[i] = -1
		order := e.order[m.off : m.off+m.n]

		err := e.check(s, order, known)
		if !known {
			// Only a series whose names passed every check may set up the
			// fast path of the next ones.
			e.permOK = e.permOK && err == nil
		}
		if err != nil {
			e.last = nil
			probs.add(fmt.Errorf("series[%d] %s: %w", i, seriesName(s.Labels, order), err))
			continue
		}
		e.last = s.Labels
		m.size = seriesSize(s, order)
		if j, dup := e.duplicate(series, i); dup {
			probs.add(fmt.Errorf("series[%d] %s: same labels as series[%d]", i, seriesName(s.Labels, order), j))
		}
	}
	return probs.err()
}

// sameNames reports whether in has exactly the names, in the same order, of
// the series that set up the permutation, and no empty value.
func (e *encoder) sameNames(in []Label) bool {
	if !e.permOK || len(in) != len(e.permNames) {
		return false
	}
	for i := range in {
		if in[i].Name != e.permNames[i].Name || in[i].Value == "" {
			return false
		}
	}
	return true
}

// sortLabels appends to e.order the input indexes of the non-empty labels of
// in, in name order, and makes it the current permutation. Insertion sort:
// it beats the generic sort for the ~8 labels of a CloudWatch series.
func (e *encoder) sortLabels(in []Label) {
	off := len(e.order)
	for i := range in {
		if in[i].Value != "" {
			e.order = append(e.order, int32(i))
		}
	}
	idx := e.order[off:]
	if len(idx) > 16 {
		slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(in[a].Name, in[b].Name) })
	} else {
		for i := 1; i < len(idx); i++ {
			for j := i; j > 0 && in[idx[j]].Name < in[idx[j-1]].Name; j-- {
				idx[j], idx[j-1] = idx[j-1], idx[j]
			}
		}
	}
	e.permOff = int32(off)
	e.permOK = len(idx) == len(in) && len(in) > 0
	e.permNames = in
}

// check validates one series, reading its labels in name order. With
// namesKnown the names are those of an already validated series: only the
// values need checking, and only those that differ from the last series'.
func (e *encoder) check(s *Series, order []int32, namesKnown bool) error {
	var errs []error
	if len(s.Samples) == 0 {
		errs = append(errs, errors.New("no samples"))
	}
	last := e.last
	hasName := false
	for k, p := range order {
		l := &s.Labels[p]
		same := last != nil && last[p].Value == l.Value
		switch {
		case l.Name == "__name__":
			hasName = true
			if !same && !isMetricName(l.Value) {
				errs = append(errs, fmt.Errorf("invalid metric name %q", l.Value))
			}
		case namesKnown:
		case !isLabelName(l.Name):
			errs = append(errs, fmt.Errorf("invalid label name %q", l.Name))
		}
		if !namesKnown && k > 0 && s.Labels[order[k-1]].Name == l.Name {
			errs = append(errs, fmt.Errorf("duplicate label name %q", l.Name))
		}
		if !same && !utf8.ValidString(l.Value) {
			errs = append(errs, fmt.Errorf("label %q: value is not valid UTF-8", l.Name))
		}
	}
	if !hasName {
		errs = append(errs, errors.New("no __name__ label"))
	}
	for j, x := range s.Samples {
		if math.IsNaN(x.V) {
			errs = append(errs, fmt.Errorf("sample[%d] at %d: NaN value", j, x.T))
			break
		}
		if j > 0 && x.T <= s.Samples[j-1].T {
			errs = append(errs, fmt.Errorf("sample[%d]: timestamp %d not after %d", j, x.T, s.Samples[j-1].T))
			break
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return joinInline(errs)
}

// joinInline joins errors on one line: they describe one series.
func joinInline(errs []error) error {
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// duplicate reports whether series i has the same labels as an earlier valid
// series, and which one.
func (e *encoder) duplicate(series []Series, i int) (int, bool) {
	in := series[i].Labels
	m := e.meta[i]
	order := e.order[m.off : m.off+m.n]
	// Hash the values and the name lengths only: names repeat across the
	// series of a request and would double the cost for little spread.
	// Equal label sets hash equally; anything else is settled by comparison.
	sum := uint64(len(order))
	for _, p := range order {
		sum = (sum^maphash.String(e.seed, in[p].Value)^uint64(len(in[p].Name)))*0x100000001b3 + 0x9e3779b97f4a7c15
	}
	mask := uint64(len(e.seen) - 1)
	// Fibonacci hashing: the top bits of the product are well mixed.
	h := (sum * 0x9e3779b97f4a7c15) >> (64 - bits.Len64(mask))
	for e.seen[h].idx != 0 && e.seen[h].hash != sum {
		h = (h + 1) & mask
	}
	if e.seen[h].idx == 0 {
		e.seen[h] = slot{hash: sum, idx: int32(i) + 1}
		return 0, false
	}
	first := e.seen[h].idx - 1
	last := first
	for j := first; j >= 0; j = e.next[j] {
		if e.labelsEqual(series, int(j), i) {
			return int(j), true
		}
		last = j
	}
	e.next[last] = int32(i)
	return 0, false
}

func (e *encoder) labelsEqual(series []Series, a, b int) bool {
	ma, mb := e.meta[a], e.meta[b]
	if ma.n != mb.n {
		return false
	}
	oa, ob := e.order[ma.off:ma.off+ma.n], e.order[mb.off:mb.off+mb.n]
	la, lb := series[a].Labels, series[b].Labels
	for k := range oa {
		if la[oa[k]] != lb[ob[k]] {
			return false
		}
	}
	return true
}

// seriesName names a series in errors: its metric name, or its labels when it
// has none.
func seriesName(in []Label, order []int32) string {
	for _, p := range order {
		if in[p].Name == "__name__" {
			if isMetricName(in[p].Value) {
				return in[p].Value
			}
			return strconv.Quote(in[p].Value)
		}
	}
	var b strings.Builder
	b.WriteByte('{')
	for k, p := range order {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", in[p].Name, in[p].Value)
	}
	b.WriteByte('}')
	return b.String()
}

// Protobuf wire format of prompb (remote.proto, types.proto), proto3:
//
//	WriteRequest { repeated TimeSeries timeseries = 1; }
//	TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	Label        { string name = 1; string value = 2; }
//	Sample       { double value = 1; int64 timestamp = 2; }
//
// Fields are written in field order and zero scalars are omitted, as gogo's
// generated marshaller does, so the bytes are identical to prompb's.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2

	tagField1Bytes  = 1<<3 | wireBytes   // timeseries / labels / name
	tagField2Bytes  = 2<<3 | wireBytes   // samples / value
	tagField1Double = 1<<3 | wireFixed64 // sample value
	tagField2Varint = 2<<3 | wireVarint  // sample timestamp
)

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

func labelSize(l *Label) int {
	return 1 + uvarintLen(uint64(len(l.Name))) + len(l.Name) + 1 + uvarintLen(uint64(len(l.Value))) + len(l.Value)
}

func sampleSize(x Sample) int {
	n := 0
	if x.V != 0 {
		n += 1 + 8
	}
	if x.T != 0 {
		n += 1 + uvarintLen(uint64(x.T))
	}
	return n
}

func seriesSize(s *Series, order []int32) int {
	n := 0
	for _, p := range order {
		ls := labelSize(&s.Labels[p])
		n += 1 + uvarintLen(uint64(ls)) + ls
	}
	for _, x := range s.Samples {
		ss := sampleSize(x)
		n += 1 + uvarintLen(uint64(ss)) + ss
	}
	return n
}

// marshal writes the WriteRequest of the validated series into e.pb.
func (e *encoder) marshal(series []Series) []byte {
	total := 0
	for i := range e.meta {
		total += 1 + uvarintLen(uint64(e.meta[i].size)) + e.meta[i].size
	}
	b := slices.Grow(e.pb[:0], total)
	for i := range series {
		s, m := &series[i], e.meta[i]
		b = append(b, tagField1Bytes)
		b = binary.AppendUvarint(b, uint64(m.size))
		for _, p := range e.order[m.off : m.off+m.n] {
			l := &s.Labels[p]
			b = append(b, tagField1Bytes)
			b = binary.AppendUvarint(b, uint64(labelSize(l)))
			b = append(b, tagField1Bytes)
			b = binary.AppendUvarint(b, uint64(len(l.Name)))
			b = append(b, l.Name...)
			b = append(b, tagField2Bytes)
			b = binary.AppendUvarint(b, uint64(len(l.Value)))
			b = append(b, l.Value...)
		}
		for _, x := range s.Samples {
			b = append(b, tagField2Bytes)
			b = binary.AppendUvarint(b, uint64(sampleSize(x)))
			if x.V != 0 {
				b = append(b, tagField1Double)
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x.V))
			}
			if x.T != 0 {
				b = append(b, tagField2Varint)
				b = binary.AppendUvarint(b, uint64(x.T))
			}
		}
	}
	e.pb = b
	return b
}
