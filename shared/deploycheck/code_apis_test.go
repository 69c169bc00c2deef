package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// apiPatterns map what the Go code does to the IAM action it needs. The
// scan covers every package of this module that a function links, so a new
// SDK call anywhere in its dependency graph shows up here.
var apiPatterns = []struct {
	re     *regexp.Regexp
	action string
}{
	{regexp.MustCompile(`\bGetMetricData\(|NewGetMetricDataPaginator\(`), "cloudwatch:GetMetricData"},
	{regexp.MustCompile(`\bListMetrics\(|NewListMetricsPaginator\(`), "cloudwatch:ListMetrics"},
	{regexp.MustCompile(`stscreds\.NewAssumeRoleProvider\(|\.AssumeRole\(`), "sts:AssumeRole"},
	{regexp.MustCompile(`\.GetSecretValue\(`), "secretsmanager:GetSecretValue"},
	{regexp.MustCompile(`\.Publish\(ctx`), "sns:Publish"},
	{regexp.MustCompile(`\bPutMetricData\(`), "cloudwatch:PutMetricData"},
	// Service jobs (tagged discovery): resources by tag, the account alias,
	// the names of REST APIs.
	{regexp.MustCompile(`NewGetResourcesPaginator\(|\.GetResources\(ctx`), "tag:GetResources"},
	{regexp.MustCompile(`\.ListAccountAliases\(`), "iam:ListAccountAliases"},
	{regexp.MustCompile(`NewGetRestApisPaginator\(|\.GetRestApis\(ctx`), "apigateway:GET"},
}

// packageActions: linking these packages means talking to the store, which
// with SIGMAWATCH_AUTH=sigv4 against AMP needs these actions.
var packageActions = map[string]string{
	"shared/remotewrite": "aps:RemoteWrite",
	"shared/promql":      "aps:QueryMetrics",
}

// impliedActions are granted for a call the code makes through a service:
// publishing to the KMS-encrypted topic makes SNS use the key as the caller.
// Reading a secret encrypted with a customer-managed key makes Secrets
// Manager decrypt it as the caller.
var impliedActions = map[string][]string{
	"sns:Publish":                   {"kms:Decrypt", "kms:GenerateDataKey*"},
	"secretsmanager:GetSecretValue": {"kms:Decrypt"},
}

// TestCodeAPIsMatchTemplateContract derives each function's AWS calls from
// its code and compares them with codeAPIs, which the template tests hold
// the IAM policies to: a new call without a grant, or a grant the code no
// longer needs, fails here.
func TestCodeAPIsMatchTemplateContract(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for fn, pkg := range map[function]string{collectFn: "./functions/collect", alertFn: "./functions/alert"} {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		require.NoError(t, err, "go list %s", pkg)
		found := map[string][]string{}
		for _, dir := range strings.Fields(string(out)) {
			rel, err := filepath.Rel(root, dir)
			if err != nil || strings.HasPrefix(rel, "..") {
				continue // not this module
			}
			if a, ok := packageActions[filepath.ToSlash(rel)]; ok {
				found[a] = append(found[a], rel)
			}
			files, err := filepath.Glob(filepath.Join(dir, "*.go"))
			require.NoError(t, err)
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				src, err := os.ReadFile(f)
				require.NoError(t, err)
				for _, p := range apiPatterns {
					if p.re.Match(src) {
						r, _ := filepath.Rel(root, f)
						found[p.action] = append(found[p.action], r)
					}
				}
			}
		}
		for a := range found {
			for _, implied := range impliedActions[a] {
				found[implied] = append(found[implied], "implied by "+a)
			}
		}
		var got []string
		for a := range found {
			got = append(got, a)
		}
		slices.Sort(got)
		want := slices.Clone(codeAPIs[fn])
		slices.Sort(want)
		require.Equal(t, want, got, "%s: the AWS calls in its code (with where: %v) differ from codeAPIs, which the template's IAM policy is checked against", fn, found)
	}
}
