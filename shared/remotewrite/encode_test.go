package remotewrite_test

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/golang/snappy"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// decode is what a receiver does with a body: snappy block decode, then
// protobuf unmarshal.
func decode(t testing.TB, body []byte) *prompb.WriteRequest {
	t.Helper()
	raw, err := snappy.Decode(nil, body)
	require.NoError(t, err)
	var req prompb.WriteRequest
	require.NoError(t, req.Unmarshal(raw))
	return &req
}

// ignoreXXX hides the gogo bookkeeping fields from comparisons.
var ignoreXXX = cmpopts.IgnoreFields(prompb.TimeSeries{}, "XXX_NoUnkeyedLiteral", "XXX_unrecognized", "XXX_sizecache")

func cmpOpts() cmp.Options {
	return cmp.Options{
		ignoreXXX,
		cmpopts.IgnoreFields(prompb.Label{}, "XXX_NoUnkeyedLiteral", "XXX_unrecognized", "XXX_sizecache"),
		cmpopts.IgnoreFields(prompb.Sample{}, "XXX_NoUnkeyedLiteral", "XXX_unrecognized", "XXX_sizecache"),
		cmpopts.IgnoreFields(prompb.WriteRequest{}, "XXX_NoUnkeyedLiteral", "XXX_unrecognized", "XXX_sizecache"),
		cmpopts.EquateEmpty(),
	}
}

func lbl(kv ...string) []remotewrite.Label {
	out := make([]remotewrite.Label, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, remotewrite.Label{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func plbl(kv ...string) []prompb.Label {
	out := make([]prompb.Label, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, prompb.Label{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		series []remotewrite.Series
		want   []prompb.TimeSeries
	}{
		{
			name: "labels sorted, empty values dropped, samples kept in order",
			series: []remotewrite.Series{{
				Labels:  lbl("region", "us-east-1", "__name__", "aws_ec2_cpuutilization_average", "dimension_InstanceId", "i-1", "name", ""),
				Samples: []remotewrite.Sample{{T: 1000, V: 1.5}, {T: 61000, V: math.Inf(1)}, {T: 121000, V: -0}},
			}},
			want: []prompb.TimeSeries{{
				Labels:  plbl("__name__", "aws_ec2_cpuutilization_average", "dimension_InstanceId", "i-1", "region", "us-east-1"),
				Samples: []prompb.Sample{{Timestamp: 1000, Value: 1.5}, {Timestamp: 61000, Value: math.Inf(1)}, {Timestamp: 121000, Value: 0}},
			}},
		},
		{
			name: "several series keep their order",
			series: []remotewrite.Series{
				{Labels: lbl("__name__", "b", "job", "x"), Samples: []remotewrite.Sample{{T: 1, V: 1}}},
				{Labels: lbl("__name__", "a", "job", "x"), Samples: []remotewrite.Sample{{T: -5, V: 2}, {T: 7, V: 3}}},
			},
			want: []prompb.TimeSeries{
				{Labels: plbl("__name__", "b", "job", "x"), Samples: []prompb.Sample{{Timestamp: 1, Value: 1}}},
				{Labels: plbl("__name__", "a", "job", "x"), Samples: []prompb.Sample{{Timestamp: -5, Value: 2}, {Timestamp: 7, Value: 3}}},
			},
		},
		{
			name: "more than 16 labels take the generic sort",
			series: []remotewrite.Series{{
				Labels: lbl("z", "1", "y", "1", "x", "1", "w", "1", "v", "1", "u", "1", "t", "1", "s", "1", "r", "1",
					"q", "1", "p", "1", "o", "1", "n", "1", "m", "1", "l", "1", "k", "1", "j", "1", "__name__", "m"),
				Samples: []remotewrite.Sample{{T: 1, V: 1}},
			}},
			want: []prompb.TimeSeries{{
				Labels: plbl("__name__", "m", "j", "1", "k", "1", "l", "1", "m", "1", "n", "1", "o", "1", "p", "1", "q", "1",
					"r", "1", "s", "1", "t", "1", "u", "1", "v", "1", "w", "1", "x", "1", "y", "1", "z", "1"),
				Samples: []prompb.Sample{{Timestamp: 1, Value: 1}},
			}},
		},
		{name: "empty request", series: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := cloneSeries(tt.series)
			body, err := remotewrite.Encode(nil, tt.series)
			require.NoError(t, err)
			got := decode(t, body)
			if diff := cmp.Diff(tt.want, got.Timeseries, cmpOpts()); diff != "" {
				t.Fatalf("decoded request (-want +got):\n%s", diff)
			}
			require.Empty(t, cmp.Diff(before, tt.series, cmpopts.EquateEmpty()), "Encode modified its input")
		})
	}
}

func TestEncodeAppendsToDst(t *testing.T) {
	t.Parallel()
	series := []remotewrite.Series{{Labels: lbl("__name__", "up"), Samples: []remotewrite.Sample{{T: 1, V: 1}}}}
	alone, err := remotewrite.Encode(nil, series)
	require.NoError(t, err)

	prefix := []byte("prefix")
	dst := make([]byte, len(prefix), 1024)
	copy(dst, prefix)
	got, err := remotewrite.Encode(dst, series)
	require.NoError(t, err)
	require.Equal(t, prefix, got[:len(prefix)])
	require.Equal(t, alone, got[len(prefix):])
	require.Same(t, &dst[0], &got[0], "dst had room: no new allocation expected")

	// A validation error leaves dst untouched.
	bad, err := remotewrite.Encode(dst, []remotewrite.Series{{Labels: lbl("__name__", "up")}})
	require.Error(t, err)
	require.Equal(t, prefix, bad)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := []remotewrite.Sample{{T: 1, V: 1}, {T: 2, V: 2}}
	tests := []struct {
		name    string
		series  []remotewrite.Series
		wantErr []string // substrings; empty means valid
	}{
		{name: "valid", series: []remotewrite.Series{{Labels: lbl("__name__", "a:b_c", "l_1", "v"), Samples: ok}}},
		{name: "empty value is an absent label", series: []remotewrite.Series{{Labels: lbl("__name__", "a", "x", ""), Samples: ok}}},
		{name: "non-ASCII value", series: []remotewrite.Series{{Labels: lbl("__name__", "a", "x", "Zürich ✓"), Samples: ok}}},
		{name: "infinite values are data", series: []remotewrite.Series{{Labels: lbl("__name__", "a"), Samples: []remotewrite.Sample{{T: 1, V: math.Inf(-1)}}}}},
		{name: "no __name__", series: []remotewrite.Series{{Labels: lbl("job", "x"), Samples: ok}}, wantErr: []string{`series[0] {job="x"}: no __name__ label`}},
		{name: "empty __name__ is absent", series: []remotewrite.Series{{Labels: lbl("__name__", "", "job", "x"), Samples: ok}}, wantErr: []string{"no __name__ label"}},
		{name: "bad metric name", series: []remotewrite.Series{{Labels: lbl("__name__", "1abc"), Samples: ok}}, wantErr: []string{`series[0] "1abc": invalid metric name "1abc"`}},
		{name: "bad label name", series: []remotewrite.Series{{Labels: lbl("__name__", "a", "dimension-Id", "x"), Samples: ok}}, wantErr: []string{`invalid label name "dimension-Id"`}},
		{name: "label name with colon", series: []remotewrite.Series{{Labels: lbl("__name__", "a", "a:b", "x"), Samples: ok}}, wantErr: []string{`invalid label name "a:b"`}},
		{name: "label name starting with digit", series: []remotewrite.Series{{Labels: lbl("__name__", "a", "0a", "x"), Samples: ok}}, wantErr: []string{`invalid label name "0a"`}},
		{name: "duplicate label name", series: []remotewrite.Series{{Labels: lbl("__name__", "a", "job", "x", "job", "y"), Samples: ok}}, wantErr: []string{`duplicate label name "job"`}},
		{name: "invalid UTF-8", series: []remotewrite.Series{{Labels: lbl("__name__", "a", "job", "\xff"), Samples: ok}}, wantErr: []string{`label "job": value is not valid UTF-8`}},
		{name: "no samples", series: []remotewrite.Series{{Labels: lbl("__name__", "a")}}, wantErr: []string{"series[0] a: no samples"}},
		{name: "NaN", series: []remotewrite.Series{{Labels: lbl("__name__", "a"), Samples: []remotewrite.Sample{{T: 1, V: math.NaN()}}}}, wantErr: []string{"sample[0] at 1: NaN value"}},
		{name: "equal timestamps", series: []remotewrite.Series{{Labels: lbl("__name__", "a"), Samples: []remotewrite.Sample{{T: 1, V: 1}, {T: 1, V: 1}}}}, wantErr: []string{"sample[1]: timestamp 1 not after 1"}},
		{name: "decreasing timestamps", series: []remotewrite.Series{{Labels: lbl("__name__", "a"), Samples: []remotewrite.Sample{{T: 5, V: 1}, {T: 3, V: 1}}}}, wantErr: []string{"timestamp 3 not after 5"}},
		{
			name: "duplicate series, labels in another order",
			series: []remotewrite.Series{
				{Labels: lbl("__name__", "a", "x", "1", "y", "2"), Samples: ok},
				{Labels: lbl("y", "2", "__name__", "a", "x", "1"), Samples: ok},
			},
			wantErr: []string{"series[1] a: same labels as series[0]"},
		},
		{
			name: "duplicate once empty labels are dropped",
			series: []remotewrite.Series{
				{Labels: lbl("__name__", "a", "x", "1"), Samples: ok},
				{Labels: lbl("__name__", "a", "x", "1", "y", ""), Samples: ok},
			},
			wantErr: []string{"same labels as series[0]"},
		},
		{
			name: "every problem is reported",
			series: []remotewrite.Series{
				{Labels: lbl("__name__", "a", "bad-1", "x"), Samples: ok},
				{Labels: lbl("__name__", "b"), Samples: []remotewrite.Sample{{T: 1, V: math.NaN()}}},
			},
			wantErr: []string{`series[0] a: invalid label name "bad-1"`, "series[1] b: sample[0] at 1: NaN value"},
		},
		{
			name: "several problems of one series on one line",
			series: []remotewrite.Series{
				{Labels: lbl("job", "j", "bad-1", "x")},
			},
			wantErr: []string{`no samples; invalid label name "bad-1"; no __name__ label`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := remotewrite.Validate(tt.series)
			_, encErr := remotewrite.Encode(nil, tt.series)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				require.NoError(t, encErr)
				return
			}
			require.Error(t, err)
			require.Error(t, encErr)
			require.Equal(t, err.Error(), encErr.Error())
			for _, want := range tt.wantErr {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestValidateCapsProblems(t *testing.T) {
	t.Parallel()
	series := make([]remotewrite.Series, 25)
	for i := range series {
		series[i] = remotewrite.Series{Labels: lbl("__name__", "a", "i", string(rune('a'+i)))}
	}
	err := remotewrite.Validate(series)
	require.Error(t, err)
	require.Contains(t, err.Error(), "series[9] ")
	require.NotContains(t, err.Error(), "series[10] ")
	require.Contains(t, err.Error(), "and 15 more problems")
}

func cloneSeries(in []remotewrite.Series) []remotewrite.Series {
	out := make([]remotewrite.Series, len(in))
	for i, s := range in {
		out[i] = remotewrite.Series{Labels: slices.Clone(s.Labels), Samples: slices.Clone(s.Samples)}
	}
	return out
}

func TestBatches(t *testing.T) {
	t.Parallel()
	mk := func(samples int) remotewrite.Series {
		return remotewrite.Series{Labels: lbl("__name__", "m"), Samples: make([]remotewrite.Sample, samples)}
	}
	tests := []struct {
		name       string
		sizes      []int
		maxSamples int
		maxBytes   int
		want       [][]int
	}{
		{name: "empty", sizes: nil, maxSamples: 10, want: nil},
		{name: "no limits", sizes: []int{3, 4, 5}, want: [][]int{{3, 4, 5}}},
		{name: "by samples", sizes: []int{3, 4, 5, 1}, maxSamples: 7, want: [][]int{{3, 4}, {5, 1}}},
		{name: "exactly at the limit", sizes: []int{5, 5, 5}, maxSamples: 10, want: [][]int{{5, 5}, {5}}},
		{name: "oversized series alone, never split", sizes: []int{2, 20, 2}, maxSamples: 10, want: [][]int{{2}, {20}, {2}}},
		{name: "by bytes", sizes: []int{1, 1, 1, 1}, maxBytes: 2 * (6 + 1 + 3 + 1 + 3 + 8 + 1 + 3 + 1 + 22), want: [][]int{{1, 1}, {1, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var series []remotewrite.Series
			for _, n := range tt.sizes {
				series = append(series, mk(n))
			}
			var got [][]int
			total := 0
			for _, b := range remotewrite.Batches(series, tt.maxSamples, tt.maxBytes) {
				var sizes []int
				for _, s := range b {
					sizes = append(sizes, len(s.Samples))
					total++
				}
				got = append(got, sizes)
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, len(series), total)

			// A Batcher fed one series at a time sends the same batches.
			var sent [][]int
			bt := remotewrite.Batcher{MaxSamples: tt.maxSamples, MaxBytes: tt.maxBytes, Send: func(b []remotewrite.Series) error {
				var sizes []int
				for _, s := range b {
					sizes = append(sizes, len(s.Samples))
				}
				sent = append(sent, sizes)
				return nil
			}}
			for _, s := range series {
				bt.Add(s)
			}
			bt.Flush()
			require.Equal(t, tt.want, sent)
			require.Equal(t, len(tt.want), bt.Requests)
			require.NoError(t, bt.Err())
		})
	}
}

// TestBatcherGoesOnAfterAFailure: a refused batch is reported, and the
// batches after it are still sent, each with its own series (Send may keep
// a batch: the next one does not overwrite it).
func TestBatcherGoesOnAfterAFailure(t *testing.T) {
	t.Parallel()
	var kept [][]remotewrite.Series
	refused := errors.New("refused")
	bt := remotewrite.Batcher{MaxSamples: 2, Send: func(b []remotewrite.Series) error {
		kept = append(kept, b)
		if len(kept) == 2 {
			return refused
		}
		return nil
	}}
	for i := range 5 {
		bt.Add(remotewrite.Series{Labels: lbl("__name__", "m", "i", strconv.Itoa(i)), Samples: []remotewrite.Sample{{T: 1, V: 1}}})
	}
	bt.Flush()
	bt.Flush() // nothing left: no empty request
	require.ErrorIs(t, bt.Err(), refused)
	require.Equal(t, 3, bt.Requests)
	require.Equal(t, 5, bt.Samples)
	var got []string
	for _, b := range kept {
		for _, s := range b {
			got = append(got, s.Labels[1].Value)
		}
	}
	require.Equal(t, []string{"0", "1", "2", "3", "4"}, got)
}

// TestBatcherKeepsTogether: series added together travel in one request,
// with what fits after them, however large they are.
func TestBatcherKeepsTogether(t *testing.T) {
	t.Parallel()
	one := func(i int) remotewrite.Series {
		return remotewrite.Series{Labels: lbl("__name__", "m", "i", strconv.Itoa(i)), Samples: []remotewrite.Sample{{T: 1, V: 1}}}
	}
	var sent []int
	bt := remotewrite.Batcher{MaxSamples: 3, Send: func(b []remotewrite.Series) error {
		sent = append(sent, len(b))
		return nil
	}}
	bt.Add(one(0))
	bt.AddTogether(one(1), one(2), one(3), one(4)) // over the limit: alone
	bt.Add(one(5), one(6), one(7), one(8))
	bt.AddTogether(one(9), one(10))
	bt.Flush()
	require.Equal(t, []int{1, 4, 3, 3}, sent)
}

// TestBatchesBytesIsAnUpperBound checks the size estimate against real
// marshalled sizes: a batch under maxBytes must marshal to at most maxBytes.
func TestBatchesBytesIsAnUpperBound(t *testing.T) {
	t.Parallel()
	series := yaceSeries(500, 5, 1_700_000_000_000)
	const maxBytes = 64 << 10
	batches := remotewrite.Batches(series, 0, maxBytes)
	require.Greater(t, len(batches), 1)
	for _, b := range batches {
		body, err := remotewrite.Encode(nil, b)
		require.NoError(t, err)
		raw, err := snappy.Decode(nil, body)
		require.NoError(t, err)
		require.LessOrEqual(t, len(raw), maxBytes)
	}
}

func TestValidateLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		labels []remotewrite.Label
		want   string
	}{
		{"ok", []remotewrite.Label{{"__name__", "aws_ec2_cpu"}, {"dimension_InstanceId", "i-1"}, {"empty", ""}}, ""},
		{"sanitized dimensions collide", []remotewrite.Label{{"__name__", "aws_x"}, {"dimension_Instance_Id", "a"}, {"dimension_Instance_Id", "b"}}, `duplicate label name "dimension_Instance_Id"`},
		{"bad name", []remotewrite.Label{{"__name__", "aws_x"}, {"dimension-x", "a"}}, `invalid label name "dimension-x"`},
		{"no name", []remotewrite.Label{{"job", "x"}}, "no __name__ label"},
		{"bad metric name", []remotewrite.Label{{"__name__", "1x"}}, `invalid metric name "1x"`},
		{"bad utf-8", []remotewrite.Label{{"__name__", "x"}, {"a", "\xff"}}, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := remotewrite.ValidateLabels(tt.labels)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			// What ValidateLabels refuses, the request encoder refuses too.
			require.Error(t, remotewrite.Validate([]remotewrite.Series{{Labels: tt.labels, Samples: []remotewrite.Sample{{T: 1, V: 1}}}}))
		})
	}
}
