package remotewrite_test

import (
	"fmt"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// yaceSeries builds n series shaped like the collector's output: a YACE
// metric name and 8 labels, in the (unsorted) order the collector builds
// them, with samples one minute apart.
func yaceSeries(n, samples int, t0 int64) []remotewrite.Series {
	metrics := []string{
		"aws_ec2_cpuutilization_average", "aws_ec2_cpuutilization_maximum", "aws_ec2_network_in_sum",
		"aws_rds_database_connections_average", "aws_elb_request_count_sum", "aws_sqs_approximate_number_of_messages_visible_average",
	}
	out := make([]remotewrite.Series, n)
	for i := range out {
		s := remotewrite.Series{
			Labels: []remotewrite.Label{
				{Name: "__name__", Value: metrics[i%len(metrics)]},
				{Name: "job", Value: "ec2"},
				{Name: "region", Value: "us-east-1"},
				{Name: "account_id", Value: "123456789012"},
				{Name: "name", Value: fmt.Sprintf("arn:aws:ec2:us-east-1:123456789012:instance/i-%017x", i)},
				{Name: "dimension_InstanceId", Value: fmt.Sprintf("i-%017x", i)},
				{Name: "dimension_AutoScalingGroupName", Value: fmt.Sprintf("web-asg-%d", i%37)},
				{Name: "dimension_ImageId", Value: "ami-0abcdef1234567890"},
			},
			Samples: make([]remotewrite.Sample, samples),
		}
		for j := range s.Samples {
			s.Samples[j] = remotewrite.Sample{T: t0 + int64(j)*60_000, V: float64(i*7+j) * 1.25}
		}
		out[i] = s
	}
	return out
}

const benchSeries, benchSamples = 10_000, 5

// BenchmarkEncode is the whole conversion: validation, label sorting,
// prompb conversion, marshal and snappy.
func BenchmarkEncode(b *testing.B) {
	series := yaceSeries(benchSeries, benchSamples, 1_700_000_000_000)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		dst, err = remotewrite.Encode(dst[:0], series)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSeries*benchSamples), "ns/sample")
}

// BenchmarkFloor is what Encode cannot avoid: marshal an already built,
// already sorted prompb.WriteRequest and snappy-encode it.
func BenchmarkFloor(b *testing.B) {
	series := yaceSeries(benchSeries, benchSamples, 1_700_000_000_000)
	req := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, len(series))}
	for i, s := range series {
		ts := prompb.TimeSeries{}
		for _, l := range s.Labels {
			ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
		}
		sortPromLabels(ts.Labels)
		for _, x := range s.Samples {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: x.T, Value: x.V})
		}
		req.Timeseries[i] = ts
	}
	var pb, dst []byte
	b.ReportAllocs()
	for b.Loop() {
		size := req.Size()
		if cap(pb) < size {
			pb = make([]byte, size)
		}
		n, err := req.MarshalToSizedBuffer(pb[:size])
		if err != nil {
			b.Fatal(err)
		}
		dst = snappy.Encode(dst[:cap(dst)], pb[size-n:size])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSeries*benchSamples), "ns/sample")
}

// BenchmarkFloorMarshal is the floor as the brief words it, with the
// allocating Marshal (a naive sender's cost).
func BenchmarkFloorMarshal(b *testing.B) {
	series := yaceSeries(benchSeries, benchSamples, 1_700_000_000_000)
	req := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, len(series))}
	for i, s := range series {
		ts := prompb.TimeSeries{}
		for _, l := range s.Labels {
			ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
		}
		sortPromLabels(ts.Labels)
		for _, x := range s.Samples {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: x.T, Value: x.V})
		}
		req.Timeseries[i] = ts
	}
	b.ReportAllocs()
	for b.Loop() {
		pb, err := req.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		_ = snappy.Encode(nil, pb)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSeries*benchSamples), "ns/sample")
}

func sortPromLabels(l []prompb.Label) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].Name < l[j-1].Name; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}
