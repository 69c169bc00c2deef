package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FunctionMemoryLimit is the GOMEMLIMIT template.yaml sets for a function
// (Resources.<function>.Properties.Environment.Variables.GOMEMLIMIT), as
// written ("200MiB") and in bytes: benchmarks run under what the deployed
// function runs under, not under a copy of the number that can drift.
func FunctionMemoryLimit(function string) (string, int64, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", 0, err
	}
	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return "", 0, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", 0, fmt.Errorf("template.yaml: %w", err)
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, key := range []string{"Resources", function, "Properties", "Environment", "Variables", "GOMEMLIMIT"} {
		if n = mappingValue(n, key); n == nil {
			return "", 0, fmt.Errorf("template.yaml: no %s GOMEMLIMIT (at %s)", function, key)
		}
	}
	mib, ok := strings.CutSuffix(n.Value, "MiB")
	v, err := strconv.ParseInt(mib, 10, 64)
	if !ok || err != nil || v <= 0 {
		return "", 0, fmt.Errorf("template.yaml: %s GOMEMLIMIT %q: want a number of MiB", function, n.Value)
	}
	return n.Value, v << 20, nil
}

// mappingValue is config.MappingValue: testenv imports no package of the
// project, so that the tests of every package (config's own dependencies
// included) can use it without an import cycle.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
