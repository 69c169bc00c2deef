package deploycheck

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// repoRoot walks up from the working directory to the one holding go.mod, so
// the tests work from any package directory and from `go test ./...`.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func repoFile(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), filepath.FromSlash(rel))
}

// loadCFN reads a CloudFormation YAML file into plain maps, slices and
// scalars, turning short-form intrinsics (!Ref, !Sub, !GetAtt, !If, ...) into
// their long form ({"Ref": ...}, {"Fn::Sub": ...}), as CloudFormation does.
func loadCFN(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc))
	v, err := cfnValue(&doc)
	require.NoError(t, err)
	m, ok := v.(map[string]any)
	require.True(t, ok, "%s: top level is not a mapping", path)
	return m
}

func cfnValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty document")
		}
		return cfnValue(n.Content[0])
	case yaml.AliasNode:
		return cfnValue(n.Alias)
	}
	if tag, ok := shortIntrinsic(n.Tag); ok {
		return cfnIntrinsic(tag, n)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := cfnValue(n.Content[i+1])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n.Content[i].Value, err)
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := cfnValue(c)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

// shortIntrinsic maps a YAML tag such as !Sub to its long-form key.
func shortIntrinsic(tag string) (string, bool) {
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return "", false
	}
	name := strings.TrimPrefix(tag, "!")
	if name == "Ref" || name == "Condition" {
		return name, true
	}
	return "Fn::" + name, true
}

func cfnIntrinsic(key string, n *yaml.Node) (any, error) {
	if n.Kind == yaml.ScalarNode {
		if key == "Fn::GetAtt" {
			// !GetAtt Resource.Attribute is the list [Resource, Attribute].
			res, attr, ok := strings.Cut(n.Value, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %q has no attribute", n.Line, n.Value)
			}
			return map[string]any{key: []any{res, attr}}, nil
		}
		return map[string]any{key: n.Value}, nil
	}
	untagged := *n
	untagged.Tag = ""
	v, err := cfnValue(&untagged)
	if err != nil {
		return nil, err
	}
	return map[string]any{key: v}, nil
}

// at follows a path of mapping keys and sequence indexes.
func at(t testing.TB, v any, path ...any) any {
	t.Helper()
	cur := v
	for i, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			require.True(t, ok, "%v: not a mapping", path[:i])
			cur, ok = m[k]
			require.True(t, ok, "%v: no key %q", path[:i], k)
		case int:
			s, ok := cur.([]any)
			require.True(t, ok, "%v: not a sequence", path[:i])
			require.Less(t, k, len(s), "%v: index out of range", path[:i])
			cur = s[k]
		default:
			t.Fatalf("bad path element %T", p)
		}
	}
	return cur
}

func mapAt(t testing.TB, v any, path ...any) map[string]any {
	t.Helper()
	m, ok := at(t, v, path...).(map[string]any)
	require.True(t, ok, "%v: not a mapping", path)
	return m
}

func stringAt(t testing.TB, v any, path ...any) string {
	t.Helper()
	s, ok := at(t, v, path...).(string)
	require.True(t, ok, "%v: not a string", path)
	return s
}

// stringList returns a string or a list of strings as a list.
func stringList(t testing.TB, v any) []string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			require.True(t, ok, "list element %v is not a string", e)
			out = append(out, s)
		}
		return out
	}
	t.Fatalf("%v is neither a string nor a list", v)
	return nil
}

// yaceName is the series name YACE's BuildMetricName gives a CloudWatch
// metric, re-implemented here so the tests do not depend on the collector
// being written: the collector has its own golden table for the same rules.
func yaceName(namespace, metric, statistic string) string {
	ns := strings.TrimPrefix(promString(strings.ToLower(namespace)), "_")
	var b strings.Builder
	if !strings.HasPrefix(ns, "aws") {
		b.WriteString("aws_")
	}
	b.WriteString(ns)
	b.WriteString("_")
	name := promString(metric)
	// Names that repeat the namespace lose the repeated part (Glue's glue.*).
	for part := range strings.SplitSeq(ns, "_") {
		name = strings.TrimPrefix(name, part)
	}
	b.WriteString(strings.TrimPrefix(name, "_"))
	if statistic != "" {
		b.WriteString("_")
		b.WriteString(promString(statistic))
	}
	return b.String()
}

// promString snake-cases a CloudWatch name the way YACE does.
func promString(s string) string {
	var b strings.Builder
	var prev rune
	for _, c := range s {
		switch c {
		case ' ', ',', '\t', '/', '\\', '.', '-', ':', '=', '@', '<', '>', '(', ')', '“':
			b.WriteRune('_')
		case '%':
			b.WriteString("_percent")
		default:
			if unicode.IsUpper(c) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
				b.WriteRune('_')
			}
			b.WriteRune(unicode.ToLower(c))
		}
		prev = c
	}
	return b.String()
}

// collectConfig is the part of collect.yaml these tests need. It is decoded
// leniently on purpose: strictness is the config package's job.
type collectConfig struct {
	Interval string       `yaml:"interval"`
	Jobs     []collectJob `yaml:"jobs"`
}

type collectJob struct {
	Name      string          `yaml:"name"`
	RoleARN   string          `yaml:"role_arn"`
	Namespace string          `yaml:"namespace"`
	Metrics   []collectMetric `yaml:"metrics"`
}

type collectMetric struct {
	Name       string   `yaml:"name"`
	Statistics []string `yaml:"statistics"`
}

type rulesConfig struct {
	Settings struct {
		Interval string `yaml:"interval"`
	} `yaml:"settings"`
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadYAML[T any](t testing.TB, path string) T {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var v T
	require.NoError(t, yaml.Unmarshal(data, &v), path)
	return v
}

// seriesOf lists the aws_* series a collect config produces.
func seriesOf(c collectConfig) map[string]bool {
	out := map[string]bool{}
	for _, j := range c.Jobs {
		for _, m := range j.Metrics {
			for _, s := range m.Statistics {
				out[yaceName(j.Namespace, m.Name, s)] = true
			}
		}
	}
	return out
}
