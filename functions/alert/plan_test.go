package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// TestPlanCLI runs `alert -plan` on the example rules with the series given
// by flag (no store): one row per rule, a total, the price and the naive
// figures; and refuses to guess the series without a store or -series.
func TestPlanCLI(t *testing.T) {
	t.Parallel()
	env := func(string) string { return "" }
	var out bytes.Buffer
	err := run(context.Background(), []string{"-plan", "-config", "../../infra/examples/rules.yaml", "-series", "10000", "-resolution", "1m"}, env, &out)
	require.NoError(t, err)
	text := out.String()
	t.Log("\n" + text)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	file, err := rules.LoadFile("../../infra/examples/rules.yaml")
	require.NoError(t, err)
	n := len(file.Rules())
	autos := 0
	for _, r := range file.Rules() {
		if r.Anomaly != nil && r.Anomaly.Detector().Method == anomaly.MethodAuto {
			autos++
		}
	}
	require.Positive(t, autos, "the example has auto rules")
	// A header, a row per rule, the total, the note, the auto rules' note
	// and the first runs of each auto rule.
	require.Len(t, lines, 1+n+1+1+1+autos, text)
	require.Contains(t, text, "auto*")
	require.Contains(t, lines[n+3], "* auto rules are evaluated incrementally")
	require.Contains(t, lines[n+3], "$90.00 per billion samples")
	require.Contains(t, lines[n+4], "first runs of ")
	require.Contains(t, lines[0], "samples/month")
	require.Contains(t, lines[0], "write USD/month")
	require.Contains(t, lines[0], "naive USD/month")
	require.Contains(t, text, "EC2CPUAnomaly")
	require.Contains(t, text, "1m (flags)")
	require.Contains(t, text, "$0.10 per billion")
	require.Regexp(t, `^\s+total\s`, lines[n+1])

	out.Reset()
	err = run(context.Background(), []string{"-plan", "-config", "../../infra/examples/rules.yaml", "-series", "10000", "-usd-per-billion-samples", "0.5"}, env, &out)
	require.NoError(t, err)
	require.Contains(t, out.String(), "$0.50 per billion")

	out.Reset()
	err = run(context.Background(), []string{"-plan", "-config", "../../infra/examples/rules.yaml", "-series", "10000", "-usd-per-billion-ingested", "35"}, env, &out)
	require.NoError(t, err)
	require.Contains(t, out.String(), "$35.00 per billion samples")
	require.Contains(t, out.String(), "1m (default)")

	err = run(context.Background(), []string{"-plan", "-config", "../../infra/examples/rules.yaml"}, env, &out)
	require.ErrorContains(t, err, "-series")
}
