package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo).With("component", "test")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	log.DebugContext(ctx, "hidden")
	log.InfoContext(ctx, "run finished", "samples", 3)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), "exactly one JSON line: %s", buf.String())
	require.Equal(t, "run finished", rec["message"])
	require.Equal(t, "INFO", rec["level"])
	require.Equal(t, "req-1", rec["requestId"])
	require.Equal(t, "test", rec["component"])
	require.InDelta(t, 3, rec["samples"], 0)
	require.Contains(t, rec, "timestamp")
}
