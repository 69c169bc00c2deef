package remotewrite_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// fuzzSeries builds a request from fuzzer input: two series sharing a metric
// name, with labels taken from a "name=value;name=value" spec, so the fuzzer
// reaches invalid names, empty values, duplicates and bad UTF-8.
func fuzzSeries(metric, spec1, spec2 string, t0, step int64, n uint8, v float64) []remotewrite.Series {
	mk := func(spec string, shift int64) remotewrite.Series {
		s := remotewrite.Series{Labels: []remotewrite.Label{{Name: "__name__", Value: metric}}}
		for item := range strings.SplitSeq(spec, ";") {
			if item == "" {
				continue
			}
			name, value, _ := strings.Cut(item, "=")
			s.Labels = append(s.Labels, remotewrite.Label{Name: name, Value: value})
		}
		for i := range int64(n % 8) {
			s.Samples = append(s.Samples, remotewrite.Sample{T: t0 + shift + i*step, V: v * float64(i)})
		}
		return s
	}
	return []remotewrite.Series{mk(spec1, 0), mk(spec2, 1)}
}

// normalise is what a receiver should see: labels sorted, empty ones dropped.
func normalise(in []remotewrite.Series) []prompb.TimeSeries {
	out := make([]prompb.TimeSeries, 0, len(in))
	for _, s := range in {
		var ts prompb.TimeSeries
		for _, l := range s.Labels {
			if l.Value != "" {
				ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
			}
		}
		slices.SortStableFunc(ts.Labels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
		for _, x := range s.Samples {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: x.T, Value: x.V})
		}
		out = append(out, ts)
	}
	return out
}

// FuzzEncode checks that decode(Encode(x)) == normalise(x) for every request
// Validate accepts, that Encode refuses exactly what Validate refuses, that
// the bytes equal prompb's own marshalling, and that the input is untouched.
func FuzzEncode(f *testing.F) {
	f.Fuzz(func(t *testing.T, metric, spec1, spec2 string, t0, step int64, n uint8, v float64) {
		series := fuzzSeries(metric, spec1, spec2, t0, step, n, v)
		before := cloneSeries(series)
		verr := remotewrite.Validate(series)
		body, err := remotewrite.Encode(nil, series)
		require.Empty(t, cmp.Diff(before, series, cmp.Comparer(sameFloat)), "Encode modified its input")
		if verr != nil {
			require.Error(t, err)
			require.Equal(t, verr.Error(), err.Error())
			return
		}
		require.NoError(t, err)
		raw, err := snappy.Decode(nil, body)
		require.NoError(t, err)
		want := normalise(series)
		ref, err := (&prompb.WriteRequest{Timeseries: want}).Marshal()
		require.NoError(t, err)
		require.Equal(t, ref, raw, "bytes differ from prompb's marshalling")

		var got prompb.WriteRequest
		require.NoError(t, got.Unmarshal(raw))
		require.Empty(t, cmp.Diff(want, got.Timeseries, cmpOpts(), cmp.Comparer(sameFloat)))
		for _, ts := range got.Timeseries {
			require.True(t, slices.IsSortedFunc(ts.Labels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) }))
			for i := 1; i < len(ts.Samples); i++ {
				require.Less(t, ts.Samples[i-1].Timestamp, ts.Samples[i].Timestamp)
			}
		}
	})
}

// sameFloat treats -0 and 0 alike: proto3 does not send a zero value at all.
func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

func TestEncodeMatchesPrompbMarshal(t *testing.T) {
	t.Parallel()
	series := yaceSeries(300, 5, 1_700_000_000_000)
	series = append(series,
		remotewrite.Series{Labels: lbl("__name__", "zero", "x", "y"), Samples: []remotewrite.Sample{{T: 0, V: 0}, {T: 1, V: math.Copysign(0, -1)}}},
		remotewrite.Series{Labels: lbl("__name__", "negative_time"), Samples: []remotewrite.Sample{{T: -1 << 40, V: -1.5}, {T: -1, V: math.MaxFloat64}}},
		remotewrite.Series{Labels: lbl("__name__", "long", "v", strings.Repeat("é", 200)), Samples: []remotewrite.Sample{{T: 1, V: math.Inf(-1)}}},
	)
	body, err := remotewrite.Encode(nil, series)
	require.NoError(t, err)
	raw, err := snappy.Decode(nil, body)
	require.NoError(t, err)
	ref, err := (&prompb.WriteRequest{Timeseries: normalise(series)}).Marshal()
	require.NoError(t, err)
	require.Equal(t, ref, raw)
}
