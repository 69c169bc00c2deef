package remotewrite

import "errors"

// Batches groups whole series, in order, into batches of at most maxSamples
// samples and about maxBytes bytes of uncompressed protobuf (an upper-bound
// estimate; receivers limit the decompressed size). A limit <= 0 means no
// limit. A series is never split: one larger than a limit travels alone in
// its own batch. The batches share the backing array of series.
func Batches(series []Series, maxSamples, maxBytes int) [][]Series {
	var out [][]Series
	start, samples, size := 0, 0, 0
	for i := range series {
		n, b := len(series[i].Samples), batchSize(&series[i])
		over := (maxSamples > 0 && samples+n > maxSamples) || (maxBytes > 0 && size+b > maxBytes)
		if over && i > start {
			out = append(out, series[start:i:i])
			start, samples, size = i, 0, 0
		}
		samples += n
		size += b
	}
	if start < len(series) {
		out = append(out, series[start:len(series):len(series)])
	}
	return out
}

// batchSize bounds the marshalled size of one prompb.TimeSeries: each field
// costs a tag byte and a length varint (at most 3 bytes below 2 MiB), each
// sample at most 1+1 (message) + 1+8 (double) + 1+10 (varint timestamp).
func batchSize(s *Series) int {
	n := 1 + 5 // the series' own tag and length in the request
	for _, l := range s.Labels {
		if l.Value == "" {
			continue
		}
		n += 1 + 3 + 1 + 3 + len(l.Name) + 1 + 3 + len(l.Value)
	}
	return n + len(s.Samples)*22
}

// Batcher sends series as they are added, in requests of at most
// MaxSamples samples and about MaxBytes bytes of uncompressed protobuf
// (limits as in [Batches]; <= 0 means none), so that a sender building many
// series holds at most one request's worth of them at a time. A series is
// never split. Send gets each batch once, in order, and may keep it. A
// failed batch does not stop the later ones; Err joins the failures. Not
// safe for concurrent use.
type Batcher struct {
	MaxSamples, MaxBytes int
	Send                 func(batch []Series) error
	// Requests and Samples count what was sent, failed batches included.
	Requests, Samples int

	batch         []Series
	samples, size int
	errs          []error
}

// Add queues series, sending the queued batch first whenever a series
// would take it over a limit.
func (b *Batcher) Add(series ...Series) {
	for i := range series {
		b.AddTogether(series[i : i+1]...)
	}
}

// AddTogether queues series that must travel in one request (a
// write that must land whole or not at all), sending the queued batch
// first if they would take it over a limit. Together larger than a limit,
// they travel in a request of their own.
func (b *Batcher) AddTogether(series ...Series) {
	n, size := 0, 0
	for i := range series {
		n += len(series[i].Samples)
		size += batchSize(&series[i])
	}
	over := (b.MaxSamples > 0 && b.samples+n > b.MaxSamples) || (b.MaxBytes > 0 && b.size+size > b.MaxBytes)
	if over && len(b.batch) > 0 {
		b.Flush()
	}
	b.batch = append(b.batch, series...)
	b.samples += n
	b.size += size
}

// Flush sends what is queued, if anything.
func (b *Batcher) Flush() {
	if len(b.batch) == 0 {
		return
	}
	batch := b.batch
	// A new array for the next batch: Send may keep this one.
	b.batch, b.samples, b.size = nil, 0, 0
	b.Requests++
	for i := range batch {
		b.Samples += len(batch[i].Samples)
	}
	if err := b.Send(batch); err != nil {
		b.errs = append(b.errs, err)
	}
}

// Err joins the failures of every batch sent so far.
func (b *Batcher) Err() error { return errors.Join(b.errs...) }
