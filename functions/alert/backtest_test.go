package main

import (
	"encoding/csv"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestBacktestCLI runs `alert -backtest -csv` exactly as a user would, on a
// week of synthetic CPU with a one-hour spike at row 1801 (index 1800).
func TestBacktestCLI(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildCLI(t, "./functions/alert")
	out := t.TempDir()
	cmd := exec.Command(bin, "-backtest", "-config", "testdata/backtest/rules.yaml", "-csv", "testdata/backtest", "-out", out)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	t.Logf("alert -backtest:\n%s", b)
	f, err := os.Open(filepath.Join(out, "synthetic", "cpu.csv"))
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"timestamp", "value", "anomaly_score"}, rows[0])
	require.Len(t, rows, 2017, "same rows as the input, plus the header")
	var fired []int
	for i, r := range rows[1:] {
		if r[2] == "1" {
			fired = append(fired, i)
		}
	}
	require.Equal(t, []int{1800}, fired, "fires once, at the first point of the spike")
	pngs, err := filepath.Glob(filepath.Join(out, "synthetic", "*.png"))
	require.NoError(t, err)
	require.Len(t, pngs, 1)
	pf, err := os.Open(pngs[0])
	require.NoError(t, err)
	defer func() { require.NoError(t, pf.Close()) }()
	_, err = png.Decode(pf)
	require.NoError(t, err)
	require.True(t, strings.Contains(string(b), "CPUAnomaly"), "the report names the rule")

	// The Lambda build leaves the backtest out, and says so.
	boot := testenv.BuildBootstrap(t, "./functions/alert")
	cmd = exec.Command(boot, "-backtest", "-config", "testdata/backtest/rules.yaml", "-csv", "testdata/backtest", "-out", out)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	b, err = cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(b), "part of the CLI build")
}
