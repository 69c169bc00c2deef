package deploycheck

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeDeploy is the README's Deploy section, its cost table included.
func readmeDeploy(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(repoFile(t, "README.md"))
	require.NoError(t, err)
	s := string(data)
	start := strings.Index(s, "\n## Deploy\n")
	require.GreaterOrEqual(t, start, 0, "README.md has no ## Deploy section")
	s = s[start+1:]
	if end := strings.Index(s[3:], "\n## "); end >= 0 {
		s = s[:end+3]
	}
	return s
}

var (
	makeTarget   = regexp.MustCompile("make ([a-z][a-z0-9-]+)")
	backtickName = regexp.MustCompile("`([A-Z][A-Za-z0-9]+)`")
	targetLine   = regexp.MustCompile(`(?m)^([a-zA-Z][a-zA-Z0-9-]*):`)
)

// TestReadmeDeployIsCurrent: the steps a first-time user follows name make
// targets that exist, and template parameters and outputs that exist — and
// every parameter of the template is explained there.
func TestReadmeDeployIsCurrent(t *testing.T) {
	t.Parallel()
	doc := readmeDeploy(t)
	mk, err := os.ReadFile(repoFile(t, "Makefile"))
	require.NoError(t, err)
	targets := map[string]bool{}
	for _, m := range targetLine.FindAllStringSubmatch(string(mk), -1) {
		targets[m[1]] = true
	}
	for _, m := range makeTarget.FindAllStringSubmatch(doc, -1) {
		require.True(t, targets[m[1]], "README's Deploy names `make %s`, which the Makefile lacks", m[1])
	}

	known := map[string]bool{}
	main := loadTemplate(t)
	cross := loadCFN(t, repoFile(t, crossAccountTemplate))
	for _, tpl := range []map[string]any{main, cross} {
		for _, section := range []string{"Parameters", "Outputs"} {
			for k := range mapAt(t, tpl, section) {
				known[k] = true
			}
		}
	}
	for _, m := range backtickName.FindAllStringSubmatch(doc, -1) {
		if strings.HasSuffix(m[1], "Function") || m[1] == "Promotional" || m[1] == "Transactional" {
			continue // function names and SMS types
		}
		require.True(t, known[m[1]], "README's Deploy names `%s`, neither a parameter nor an output of the templates", m[1])
	}
	for p := range mapAt(t, main, "Parameters") {
		require.True(t, strings.Contains(doc, "`"+p+"`"), "README's Deploy must explain the parameter %s", p)
	}
}
