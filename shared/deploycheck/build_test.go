package deploycheck

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSAMBuildTargets runs the Makefile targets SAM's makefile build method
// calls and checks what lands in ARTIFACTS_DIR: a static linux/arm64
// bootstrap and the config file SIGMAWATCH_CONFIG points at.
func TestSAMBuildTargets(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, tt := range []struct{ target, config string }{
		{"build-CollectFunction", "collect.yaml"},
		{"build-AlertFunction", "rules.yaml"},
	} {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", tt.target, "ARTIFACTS_DIR="+dir)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			f, err := elf.Open(filepath.Join(dir, "bootstrap"))
			require.NoError(t, err)
			defer func() { require.NoError(t, f.Close()) }()
			require.Equal(t, elf.EM_AARCH64, f.Machine, "bootstrap must be linux/arm64 for provided.al2023 on arm64")
			require.Equal(t, elf.ELFOSABI_NONE, f.OSABI)
			interp := f.Section(".interp")
			require.Nil(t, interp, "bootstrap must be static (CGO_ENABLED=0)")
			require.Nil(t, f.Section(".symtab"), "bootstrap must be stripped")
			want, err := os.ReadFile(filepath.Join(root, "infra", "examples", tt.config))
			require.NoError(t, err)
			got, err := os.ReadFile(filepath.Join(dir, tt.config))
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
}

// TestLambdaBuildLeavesChartsOut: the chart library (gonum/plot, ~8 MB and
// ~5 ms of cold start) belongs to the CLI's backtest and the demo, never to
// a bootstrap.
func TestLambdaBuildLeavesChartsOut(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, pkg := range []string{"./functions/collect", "./functions/alert"} {
		cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		require.NoError(t, err)
		for _, dep := range strings.Fields(string(out)) {
			require.False(t, strings.HasPrefix(dep, "gonum.org/") || strings.HasSuffix(dep, "/shared/chart") || strings.HasSuffix(dep, "/shared/backtest"),
				"%s's Lambda build links %s", pkg, dep)
		}
	}
}
