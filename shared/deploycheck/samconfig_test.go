package deploycheck

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// loadTOML reads a TOML file with Python's tomllib (Python is already needed
// for cfn-lint), so the tests parse samconfig.toml as SAM does without a Go
// dependency.
func loadTOML(t testing.TB, path string) map[string]any {
	t.Helper()
	python, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 (3.11+, for tomllib) is needed to read samconfig.toml")
	out, err := exec.Command(python, "-c",
		"import json, sys, tomllib; json.dump(tomllib.load(open(sys.argv[1], 'rb')), sys.stdout)", path).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("%s: %s", path, ee.Stderr)
	}
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(out, &v))
	return v
}

// personalData finds what must not be committed: email addresses and phone
// numbers that `sam deploy --guided` would save with the parameters.
var personalData = regexp.MustCompile(`[^\s@"=]+@[^\s@"]+\.[a-z]{2,}|\+[1-9]\d{6,14}`)

// TestSamconfig: the tracked samconfig.toml never runs `sam sync --watch`
// against the production stack (sync skips change sets), holds no personal
// data, and the guided deploy writes to the git-ignored local file instead.
func TestSamconfig(t *testing.T) {
	t.Parallel()
	cfg := loadTOML(t, repoFile(t, "samconfig.toml"))
	prod := stringAt(t, cfg, "default", "global", "parameters", "stack_name")
	for env, v := range cfg {
		e, ok := v.(map[string]any)
		if !ok {
			continue // version
		}
		stack := prod
		if s, ok := tomlParams(e, "global")["stack_name"].(string); ok {
			stack = s
		}
		if tomlParams(e, "sync")["watch"] == true {
			require.NotEqual(t, prod, stack, "[%s.sync.parameters] watch = true on the production stack %q", env, prod)
		}
		if env == "default" {
			p := tomlParams(e, "deploy")
			require.Equal(t, true, p["confirm_changeset"], "production changes are reviewed as a change set")
			require.Contains(t, p["capabilities"], "CAPABILITY_IAM")
		}
	}
	data, err := os.ReadFile(repoFile(t, "samconfig.toml"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		require.NotRegexp(t, personalData, line, "samconfig.toml is tracked: no email or phone number in it")
	}

	ignored := false
	f, err := os.Open(repoFile(t, ".gitignore"))
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	for s := bufio.NewScanner(f); s.Scan(); {
		if strings.TrimSpace(s.Text()) == "/samconfig.local.toml" {
			ignored = true
		}
	}
	require.True(t, ignored, ".gitignore must ignore /samconfig.local.toml")
}

// tomlParams is [env.command.parameters], or nil.
func tomlParams(env map[string]any, command string) map[string]any {
	c, _ := env[command].(map[string]any)
	p, _ := c["parameters"].(map[string]any)
	return p
}

func TestPersonalDataPattern(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`AlertEmail="oncall@example.com"`, `AlertPhoneNumber=\"+14155550100\"`} {
		require.Regexp(t, personalData, s)
	}
	for _, s := range []string{`stack_name = "sigmawatch"`, `capabilities = "CAPABILITY_IAM"`, `s3_prefix = "sigmawatch"`} {
		require.NotRegexp(t, personalData, s)
	}
}

// makeDryRun prints the commands a make target would run.
func makeDryRun(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-n"}, args...)...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

// TestDeployTargets: the guided deploy saves its answers (email, phone) to
// the git-ignored local file, later deploys read it, and both check the
// configs they are about to package first.
func TestDeployTargets(t *testing.T) {
	t.Parallel()
	guided := makeDryRun(t, "deploy-guided")
	require.Regexp(t, `sam deploy --guided --config-file samconfig\.local\.toml`, guided)
	deploy := makeDryRun(t, "deploy")
	require.Regexp(t, `sam deploy --config-file samconfig\.local\.toml`, deploy)
	for _, out := range []string{guided, deploy} {
		require.Contains(t, out, "sam build")
		require.Contains(t, out, "-verify-config -config infra/examples/collect.yaml")
		require.Contains(t, out, "-verify-config -config infra/examples/rules.yaml")
	}
	for _, out := range []string{guided, deploy} {
		require.Contains(t, out, "infra/scripts/alert-parts.py samconfig.local.toml", "the saved AlertParts are checked against the rules")
	}
	custom := makeDryRun(t, "deploy", "COLLECT_CONFIG=/etc/sigmawatch/collect.yaml", "RULES_CONFIG=/etc/sigmawatch/rules.yaml")
	require.Contains(t, custom, "-verify-config -config /etc/sigmawatch/collect.yaml")
	require.Contains(t, custom, "-verify-config -config /etc/sigmawatch/rules.yaml")
}

// TestSAMBuildTargetsTakeConfigPaths: production config lives where the user
// keeps it; the build packages that file, and refuses a bad one with its
// path, before anything reaches AWS.
func TestSAMBuildTargetsTakeConfigPaths(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	mine := t.TempDir()
	collect, err := os.ReadFile(filepath.Join(root, "infra", "examples", "collect.yaml"))
	require.NoError(t, err)
	good := filepath.Join(mine, "prod-collect.yaml")
	require.NoError(t, os.WriteFile(good, append([]byte("# production\n"), collect...), 0o600))
	bad := filepath.Join(mine, "broken.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("interval: 5m\njobs:\n  - name: x\n    namespcae: AWS/EC2\n"), 0o600))

	t.Run("packages the given file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cmd := exec.Command("make", "--no-print-directory", "build-CollectFunction", "ARTIFACTS_DIR="+dir)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "COLLECT_CONFIG="+good) // as `COLLECT_CONFIG=... sam build` passes it
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		got, err := os.ReadFile(filepath.Join(dir, "collect.yaml"))
		require.NoError(t, err)
		require.Equal(t, "# production\n"+string(collect), string(got))
	})
	t.Run("refuses a bad file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cmd := exec.Command("make", "--no-print-directory", "build-CollectFunction", "ARTIFACTS_DIR="+dir, "COLLECT_CONFIG="+bad)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		require.Contains(t, string(out), "namespcae")
		require.NoFileExists(t, filepath.Join(dir, "bootstrap"), "nothing is built from a bad config")
	})
}

// TestDeployChecksAlertParts (issue 14): the split of the rule groups that a
// later deploy gives (samconfig.local.toml's AlertParts, or the older
// AlertGroups and AlertShardGroups) is checked against the rules it
// packages before anything reaches AWS, as the deployed function checks it
// at every start: a group in two parts or in none stops the deploy, naming
// the group and the parts. Before, only the deployed function could tell.
func TestDeployChecksAlertParts(t *testing.T) {
	t.Parallel()
	const all = "ec2,rds,alb,lambda,sqs,dynamodb,sigmawatch-self" // infra/examples/rules.yaml's groups
	tests := []struct {
		name      string
		samconfig string // "" for no file
		want      string // in the output
		fails     bool
	}{
		{name: "no saved answers yet", want: "ok ("},
		{name: "no split", samconfig: `parameter_overrides = "AlertEmail=\"oncall@example.com\""`, want: "ok ("},
		{name: "four parts", samconfig: `parameter_overrides = "AlertEmail=\"oncall@example.com\" AlertParts=\"ec2;rds,alb;lambda,sqs;dynamodb,sigmawatch-self\""`,
			want: "alert parts of "},
		{name: "a group in no part", samconfig: `parameter_overrides = "AlertParts=\"ec2;rds,alb;lambda,sqs;dynamodb\" AlertEmail=\"oncall@example.com\""`,
			fails: true, want: `rule group "sigmawatch-self" is in none of the 4 parts (1: "ec2", 2: "rds,alb", 3: "lambda,sqs", 4: "dynamodb")`},
		{name: "a group in two parts, as a list", samconfig: `parameter_overrides = ["AlertParts=\"ec2,rds;rds,alb,lambda,sqs,dynamodb,sigmawatch-self\""]`,
			fails: true, want: `rule group "rds" is in parts 1 and 2`},
		{name: "the older two schedules", samconfig: `parameter_overrides = "AlertGroups=\"ec2,rds,alb,lambda\" AlertShardGroups=\"sqs,dynamodb\""`,
			fails: true, want: `rule group "sigmawatch-self" is in none of the 2 parts`},
		{name: "the older main schedule alone", samconfig: `parameter_overrides = "AlertGroups=\"` + all + `\""`, want: "ok ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "samconfig.local.toml")
			if tt.samconfig != "" {
				body := "version = 0.1\n[default.deploy.parameters]\nstack_name = \"sigmawatch\"\n" + tt.samconfig + "\n"
				require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
			}
			cmd := exec.Command("make", "--no-print-directory", "verify-alert-parts", "SAM_LOCAL_CONFIG="+path)
			cmd.Dir = repoRoot(t)
			out, err := cmd.CombinedOutput()
			if tt.fails {
				require.Error(t, err, string(out))
			} else {
				require.NoError(t, err, string(out))
			}
			require.Contains(t, string(out), tt.want)
		})
	}
}
