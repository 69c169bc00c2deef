package deploycheck

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cfnLint runs cfn-lint with the informational rules included, in every
// region of lintRegions, so a clean result means no error, no warning and no
// informational finding anywhere. cfn-lint runs the SAM transform itself,
// offline.
func cfnLint(t *testing.T, dir, file string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		// Never a skip: a machine without cfn-lint cannot prove the template.
		t.Fatalf("cfn-lint is not on PATH (%v): install it with `pip install cfn-lint` (CI=%q)", err, os.Getenv("CI"))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	args := append([]string{"--include-checks", "I", "--regions"}, lintRegions...)
	cmd := exec.CommandContext(ctx, bin, append(args, "--", file)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Run()
	return out.String(), err
}

func TestCfnLintTemplate(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"template.yaml", "infra/cross-account-role.yaml"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			out, err := cfnLint(t, repoRoot(t), file)
			require.NoError(t, err, "cfn-lint %s:\n%s", file, out)
			require.Empty(t, strings.TrimSpace(out), "cfn-lint must print nothing")
		})
	}
}

// TestCfnLintCatchesErrors proves the lint run above is real: the same
// template with an impossible Lambda timeout must fail.
func TestCfnLintCatchesErrors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(repoFile(t, "template.yaml"))
	require.NoError(t, err)
	const good = "Timeout: 55\n"
	require.Contains(t, string(data), good)
	bad := strings.Replace(string(data), good, "Timeout: 5500\n", 1)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "template.yaml"), []byte(bad), 0o600))

	out, err := cfnLint(t, dir, "template.yaml")
	require.Error(t, err)
	require.Contains(t, out, "E3034", "cfn-lint should report the timeout above 900 s")
}
