package deploycheck

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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

// templateFunction is what the README quotes of a function in template.yaml.
type templateFunction struct {
	memoryMB, timeoutS int
	memLimit           string // GOMEMLIMIT, "" when unset
}

func templateFunctions(t testing.TB, tpl map[string]any) map[string]templateFunction {
	t.Helper()
	global := map[string]any{}
	if g, ok := tpl["Globals"].(map[string]any); ok {
		global, _ = g["Function"].(map[string]any)
	}
	prop := func(props map[string]any, key string) int {
		v, ok := props[key]
		if !ok {
			v = global[key]
		}
		n, ok := number(v)
		require.True(t, ok, "%s: not a number in template.yaml: %v", key, v)
		return int(n)
	}
	out := map[string]templateFunction{}
	for id, fn := range ofType(t, tpl, "AWS::Serverless::Function") {
		props := mapAt(t, fn, "Properties")
		name := strings.ToLower(strings.TrimSuffix(id, "Function"))
		f := templateFunction{memoryMB: prop(props, "MemorySize"), timeoutS: prop(props, "Timeout")}
		if env, ok := props["Environment"].(map[string]any); ok {
			if vars, ok := env["Variables"].(map[string]any); ok {
				f.memLimit, _ = vars["GOMEMLIMIT"].(string)
			}
		}
		out[name] = f
	}
	require.Contains(t, out, "collect")
	require.Contains(t, out, "alert")
	return out
}

var (
	readmeMemory  = regexp.MustCompile(`(collect|alert)\s+at\s+(\d+)\s+MB(\s+with\s+GOMEMLIMIT\s+(\w+))?`)
	readmeTimeout = regexp.MustCompile(`(collect|alert)(?:'s|\s+at\s+[^;)]*?\s+(?:and|with)\s+an?)\s+(\d+)\s+s\s+timeout`)
	readmeGBs     = regexp.MustCompile(`(collect|alert) at (\d+) MB[^:]*: ([\d.]+)–([\d.]+) s × ([\d,]+) runs = ([\d,]+)–([\d,]+) GB-s`)
	readmeGBsSum  = regexp.MustCompile(`\*\*([\d,]+)–([\d,]+) GB-seconds\*\*`)
	readmeAlarms  = regexp.MustCompile(`(\d+) standard alarms at \$0\.10 each \((\d+) with a phone number\)`)
)

// TestReadmeFiguresMatchTemplate: the figures the README's deploy section
// and cost table quote of the template — each function's memory, GOMEMLIMIT
// and timeout, the Lambda GB-seconds they make at the default schedules, the
// number of alarms — are the template's. They drifted once (the cost table
// said 256 MB for collect after the template went to 128 MB).
func TestReadmeFiguresMatchTemplate(t *testing.T) {
	t.Parallel()
	doc := readmeDeploy(t)
	tpl := loadTemplate(t)
	fns := templateFunctions(t, tpl)

	quotedLimit := map[string]bool{}
	for _, m := range readmeMemory.FindAllStringSubmatch(doc, -1) {
		fn := fns[m[1]]
		require.Equal(t, strconv.Itoa(fn.memoryMB), m[2], "README quotes %q; template.yaml gives %s %d MB", m[0], m[1], fn.memoryMB)
		if m[4] != "" {
			require.Equal(t, fn.memLimit, m[4], "README quotes %q; template.yaml gives %s GOMEMLIMIT %q", m[0], m[1], fn.memLimit)
			quotedLimit[m[1]] = true
		}
	}
	for name, fn := range fns {
		require.Regexp(t, regexp.MustCompile(name+`\s+at\s+\d+\s+MB`), doc, "README's deploy section states %s's memory", name)
		if fn.memLimit != "" {
			require.True(t, quotedLimit[name], "README's deploy section states %s's GOMEMLIMIT %s", name, fn.memLimit)
		}
	}
	timeouts := readmeTimeout.FindAllStringSubmatch(doc, -1)
	require.GreaterOrEqual(t, len(timeouts), 3, "collect's timeout (twice) and alert's")
	for _, m := range timeouts {
		require.Equal(t, strconv.Itoa(fns[m[1]].timeoutS), m[2], "README quotes %q; template.yaml gives %s %d s", m[0], m[1], fns[m[1]].timeoutS)
	}

	// GB-seconds: duration × runs a month (30 days at the default rate) ×
	// memory, per function, and their sum.
	rates := map[string]string{"collect": "CollectScheduleRate", "alert": "AlertScheduleRate"}
	gbs := readmeGBs.FindAllStringSubmatch(doc, -1)
	require.Len(t, gbs, 2, "the Lambda cost row gives collect's and alert's GB-seconds")
	var lo, hi float64
	for _, m := range gbs {
		rate, ok := scheduleRate(stringAt(t, tpl, "Parameters", rates[m[1]], "Default"))
		require.True(t, ok)
		runs := int((30 * 24 * time.Hour) / rate)
		require.Equal(t, runs, readmeInt(t, m[5]), "%q: runs a month at %s", m[0], rate)
		gb := float64(fns[m[1]].memoryMB) / 1024
		for i, d := range []string{m[3], m[4]} {
			s, err := strconv.ParseFloat(d, 64)
			require.NoError(t, err)
			require.InDelta(t, s*float64(runs)*gb, float64(readmeInt(t, m[6+i])), 1, "%q", m[0])
		}
		lo += float64(readmeInt(t, m[6]))
		hi += float64(readmeInt(t, m[7]))
	}
	sum := readmeGBsSum.FindStringSubmatch(doc)
	require.NotNil(t, sum, "the Lambda cost row gives the total GB-seconds")
	require.Equal(t, []int{int(lo), int(hi)}, []int{readmeInt(t, sum[1]), readmeInt(t, sum[2])}, "total GB-seconds")

	alarms := readmeAlarms.FindStringSubmatch(doc)
	require.NotNil(t, alarms, "the cost table counts the alarms")
	count := func(params map[string]string) int {
		d, err := deployTemplate(tpl, "us-east-1", params)
		require.NoError(t, err)
		n := 0
		for _, r := range d.resources(t) {
			if r["Type"] == "AWS::CloudWatch::Alarm" {
				n++
			}
		}
		return n
	}
	require.Equal(t, strconv.Itoa(count(minimalParams())), alarms[1], "alarms without a phone number")
	require.Equal(t, strconv.Itoa(count(withParams(minimalParams(), "AlertPhoneNumber", "+14155550100"))), alarms[2], "alarms with a phone number")
}

func readmeInt(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	require.NoError(t, err, s)
	return n
}
