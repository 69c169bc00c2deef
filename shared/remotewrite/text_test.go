package remotewrite_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

func TestTextWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := remotewrite.NewTextWriter(&buf)
	err := w.Write(context.Background(), []remotewrite.Series{{
		Labels:  []remotewrite.Label{{Name: "region", Value: "us-east-1"}, {Name: "__name__", Value: "aws_ec2_cpuutilization_average"}, {Name: "dimension_InstanceId", Value: `i-"1"`}, {Name: "empty", Value: ""}},
		Samples: []remotewrite.Sample{{T: 1000, V: 1.5}, {T: 61000, V: 2}},
	}})
	require.NoError(t, err)
	require.Equal(t, `aws_ec2_cpuutilization_average{dimension_InstanceId="i-\"1\"",region="us-east-1"} 1.5 1000
aws_ec2_cpuutilization_average{dimension_InstanceId="i-\"1\"",region="us-east-1"} 2 61000
`, buf.String())
	require.Error(t, w.Write(context.Background(), []remotewrite.Series{{Labels: []remotewrite.Label{{Name: "__name__", Value: "x"}}, Samples: []remotewrite.Sample{{T: 2}, {T: 1}}}}), "invalid requests are refused as by the real client")
}
