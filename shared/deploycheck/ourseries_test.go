package deploycheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
)

// ourNames are the names sigmawatch gives its own series and labels
// (DESIGN.md, Our own series), read from the project's non-test Go sources
// so that a series added to the code is known here without a list to keep:
// every sigmawatch_* name in a string literal must be the value of a
// constant whose name ends in Metric (a series) or Label (a label).
type ourNames struct {
	series, labels map[string]string // name → where it is declared
}

var ourName = regexp.MustCompile(`\bsigmawatch_[a-z0-9_]+`)

// scanOurNames reads the names of root's sources and requires that every
// one is declared as a *Metric or *Label constant.
func scanOurNames(t testing.TB, root string) ourNames {
	t.Helper()
	names, problems, err := readOurNames(root)
	require.NoError(t, err)
	require.Empty(t, problems, "every sigmawatch_* name is a declared series or label")
	return names
}

// readOurNames reads every non-test Go file under root (this package,
// hidden folders, testdata and vendor excluded) and lists, as problems, any
// sigmawatch_* name that is not declared as a *Metric or *Label constant.
func readOurNames(root string) (ourNames, []string, error) {
	names := ourNames{series: map[string]string{}, labels: map[string]string{}}
	type use struct{ name, where string }
	var uses []use
	var problems []string
	self := filepath.Join(root, "shared", "deploycheck")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || path == self) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		declared := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			gd, ok := n.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				return true
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil || !ourName.MatchString(v) || ourName.FindString(v) != v {
						continue
					}
					declared[lit] = true
					where := rel + ": " + id.Name
					switch lower := strings.ToLower(id.Name); {
					case strings.HasSuffix(lower, "metric"):
						names.series[v] = where
					case strings.HasSuffix(lower, "label"):
						names.labels[v] = where
					default:
						problems = append(problems, where+" = "+strconv.Quote(v)+": name the constant *Metric (a series) or *Label (a label)")
					}
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || declared[lit] {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, name := range ourName.FindAllString(v, -1) {
				uses = append(uses, use{name, rel + ":" + strconv.Itoa(fset.Position(lit.Pos()).Line)})
			}
			return true
		})
		return nil
	})
	if err != nil {
		return ourNames{}, nil, err
	}
	for _, u := range uses {
		if names.series[u.name] == "" && names.labels[u.name] == "" {
			problems = append(problems, u.where+": "+u.name+" is written inline: declare it as a *Metric or *Label constant")
		}
	}
	slices.Sort(problems)
	return names, problems, nil
}

// ourSeries lists the series sigmawatch writes about itself.
func ourSeries(t testing.TB) map[string]string {
	t.Helper()
	return scanOurNames(t, repoRoot(t)).series
}

// TestOurSeriesAreFound: the scan finds the series the code exports, those
// written only as labels are not series, and it is not fooled by tests,
// this package or names written inline.
func TestOurSeriesAreFound(t *testing.T) {
	t.Parallel()
	names := scanOurNames(t, repoRoot(t))
	for _, s := range []string{
		collector.LastSuccessMetric, collector.SkippedMetric, collector.DroppedMetric, collector.CoveredMetric, collector.CostMetric,
		alerting.AlertsMetric, alerting.ZScoreMetric, alerting.LastRunMetric, alerting.CircuitOpenMetric, alerting.OutboxMetric, alerting.SentMetric,
		alertengine.QuerySamplesMetric,
	} {
		require.Contains(t, names.series, s)
	}
	require.Contains(t, names.labels, config.DeploymentLabel)
	require.NotContains(t, names.series, config.DeploymentLabel)

	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	}
	write("shared/a/a.go", "package a\nconst (\n\tFooMetric = \"sigmawatch_foo\"\n\tbarLabel = \"sigmawatch_bar\"\n)\nvar q = \"max(sigmawatch_foo{sigmawatch_bar=\\\"x\\\"})\"\n")
	write("shared/a/a_test.go", "package a\nvar x = \"sigmawatch_test_only\"\n")
	write("shared/deploycheck/x.go", "package deploycheck\nvar y = \"sigmawatch_self\"\n")
	got := scanOurNames(t, root)
	require.Equal(t, map[string]string{"sigmawatch_foo": filepath.FromSlash("shared/a/a.go") + ": FooMetric"}, got.series)
	require.Equal(t, map[string]string{"sigmawatch_bar": filepath.FromSlash("shared/a/a.go") + ": barLabel"}, got.labels)

	write("shared/b/b.go", "package b\nconst other = \"sigmawatch_other\"\nvar q = \"sum(sigmawatch_inline)\"\n")
	_, problems, err := readOurNames(root)
	require.NoError(t, err)
	b := filepath.FromSlash("shared/b/b.go")
	require.Equal(t, []string{
		b + ": other = \"sigmawatch_other\": name the constant *Metric (a series) or *Label (a label)",
		b + ":3: sigmawatch_inline is written inline: declare it as a *Metric or *Label constant",
	}, problems)
}
