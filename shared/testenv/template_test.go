package testenv

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFunctionMemoryLimit(t *testing.T) {
	value, bytes, err := FunctionMemoryLimit("AlertFunction")
	require.NoError(t, err)
	mib, err := strconv.ParseInt(strings.TrimSuffix(value, "MiB"), 10, 64)
	require.NoError(t, err, "AlertFunction GOMEMLIMIT %q", value)
	require.Positive(t, mib)
	require.Equal(t, mib<<20, bytes, "AlertFunction GOMEMLIMIT %q", value)

	for _, function := range []string{
		"NoSuchFunction", // not a resource
		"AlertTopic",     // a resource without an environment
	} {
		_, _, err := FunctionMemoryLimit(function)
		require.ErrorContains(t, err, function)
	}
}
