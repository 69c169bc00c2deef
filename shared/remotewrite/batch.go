package remotewrite

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
