package deploycheck

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/schedule"
)

func loadTemplate(t testing.TB) map[string]any {
	t.Helper()
	return loadCFN(t, repoFile(t, "template.yaml"))
}

func resources(t testing.TB, tpl map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range mapAt(t, tpl, "Resources") {
		m, ok := r.(map[string]any)
		require.True(t, ok, "resource %s is not a mapping", id)
		out[id] = m
	}
	return out
}

func ofType(t testing.TB, tpl map[string]any, typ string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range resources(t, tpl) {
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func TestTemplateEnvironment(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	if g, ok := tpl["Globals"].(map[string]any); ok {
		if f, ok := g["Function"].(map[string]any); ok {
			// Globals would merge into both functions and blur who reads what.
			require.NotContains(t, f, "Environment", "set SIGMAWATCH_* per function, not in Globals")
		}
	}
	fns := ofType(t, tpl, "AWS::Serverless::Function")
	require.ElementsMatch(t, slices.Collect(maps.Keys(envVars)), functionIDs(fns))

	for fn, want := range envVars {
		t.Run(string(fn), func(t *testing.T) {
			t.Parallel()
			vars := mapAt(t, fns[string(fn)], "Properties", "Environment", "Variables")
			var got []string
			for k := range vars {
				if strings.HasPrefix(k, "SIGMAWATCH_") {
					got = append(got, k)
				}
			}
			require.ElementsMatch(t, slices.Collect(maps.Keys(want)), got, "SIGMAWATCH_* set for %s", fn)
			for k, v := range want {
				if v != "" {
					require.Equal(t, v, vars[k], k)
				}
			}
			for _, k := range localOnlyEnvVars {
				require.NotContains(t, vars, k, "%s is for local use only", k)
			}
		})
	}
}

func functionIDs(fns map[string]map[string]any) []function {
	var out []function
	for id := range fns {
		out = append(out, function(id))
	}
	return out
}

var envRef = regexp.MustCompile(`SIGMAWATCH_[A-Z0-9_]*[A-Z0-9]`)

// goSourceEnvVars lists the SIGMAWATCH_* names in the project's non-test Go
// sources, this package excluded.
func goSourceEnvVars(t testing.TB, root string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	self := filepath.Join(root, "shared", "deploycheck")
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
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, name := range envRef.FindAllString(string(data), -1) {
			found[name] = append(found[name], rel)
		}
		return nil
	})
	require.NoError(t, err)
	return found
}

// TestCodeEnvironmentMatchesTemplate fails when the code reads a variable the
// template does not know, and — once the code reads any — when the template
// sets one the code never reads.
func TestCodeEnvironmentMatchesTemplate(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, vars := range envVars {
		for k := range vars {
			known[k] = true
		}
	}
	for _, k := range localOnlyEnvVars {
		known[k] = true
	}
	inCode := goSourceEnvVars(t, repoRoot(t))
	for name, files := range inCode {
		require.True(t, known[name], "%s (read in %v) is neither set by template.yaml nor local-only: add it to envVars and the template", name, files)
	}
	if len(inCode) == 0 {
		return // no function code yet: the template side is pinned by TestTemplateEnvironment
	}
	for name := range known {
		require.Contains(t, inCode, name, "template/contract has %s but no Go source reads it", name)
	}
}

func TestCodeEnvironmentScanFindsNames(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	}
	write("shared/config/env.go", `package config; const a = "SIGMAWATCH_CONFIG"; var p = "SIGMAWATCH_" + "X"`)
	write("shared/config/env_test.go", `package config; const b = "SIGMAWATCH_TEST_ONLY"`)
	write("shared/deploycheck/doc.go", `package deploycheck // SIGMAWATCH_SELF`)
	write(".git/x.go", `SIGMAWATCH_HIDDEN`)
	got := goSourceEnvVars(t, root)
	require.Equal(t, map[string][]string{"SIGMAWATCH_CONFIG": {filepath.FromSlash("shared/config/env.go")}}, got)
}

// statements flattens a policy document's statements, taking both branches
// of Fn::If and dropping AWS::NoValue.
func statements(t testing.TB, doc map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	var add func(v any)
	add = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				add(e)
			}
		case map[string]any:
			if br, ok := x["Fn::If"].([]any); ok {
				require.Len(t, br, 3)
				add(br[1])
				add(br[2])
				return
			}
			if x["Ref"] == "AWS::NoValue" {
				return
			}
			out = append(out, x)
		default:
			t.Fatalf("unexpected statement %v", v)
		}
	}
	add(doc["Statement"])
	return out
}

// rolePolicies gathers every policy document attached to each IAM role.
func rolePolicies(t testing.TB, tpl map[string]any) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for id, r := range ofType(t, tpl, "AWS::IAM::Role") {
		props := mapAt(t, r, "Properties")
		require.NotContains(t, props, "ManagedPolicyArns", "%s: a managed policy hides what is granted", id)
		out[id] = nil
		if ps, ok := props["Policies"].([]any); ok {
			for _, p := range ps {
				out[id] = append(out[id], mapAt(t, p, "PolicyDocument"))
			}
		}
	}
	for id, r := range resources(t, tpl) {
		switch r["Type"] {
		case "AWS::IAM::RolePolicy":
			role, ok := mapAt(t, r, "Properties", "RoleName")["Ref"].(string)
			require.True(t, ok, "%s: RoleName must Ref a role of this template", id)
			require.Contains(t, out, role, "%s", id)
			out[role] = append(out[role], mapAt(t, r, "Properties", "PolicyDocument"))
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::UserPolicy", "AWS::IAM::GroupPolicy":
			t.Fatalf("%s: attach policies as AWS::IAM::RolePolicy or inline (found %s)", id, r["Type"])
		}
	}
	return out
}

func getAttArn(t testing.TB, v any) string {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "%v is not !GetAtt X.Arn", v)
	ga, ok := m["Fn::GetAtt"].([]any)
	require.True(t, ok && len(ga) == 2 && ga[1] == "Arn", "%v is not !GetAtt X.Arn", v)
	id, ok := ga[0].(string)
	require.True(t, ok)
	return id
}

func TestTemplateIAM(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	policies := rolePolicies(t, tpl)

	// Which role plays which part.
	expected := map[string][]string{}
	for id, fn := range ofType(t, tpl, "AWS::Serverless::Function") {
		props := mapAt(t, fn, "Properties")
		require.NotContains(t, props, "Policies", "%s: SAM-generated policies are not visible to this test; use an explicit role", id)
		role := getAttArn(t, props["Role"])
		require.Contains(t, codeAPIs, function(id))
		expected[role] = append(slices.Clone(codeAPIs[function(id)]), platformActions["function"]...)
		for ev, e := range mapAt(t, props, "Events") {
			if at(t, e, "Type") == "ScheduleV2" {
				sr := getAttArn(t, at(t, e, "Properties", "RoleArn"))
				if prev, ok := expected[sr]; ok {
					require.Equal(t, platformActions["scheduler"], prev, "%s.%s: role shared with a function", id, ev)
				}
				expected[sr] = platformActions["scheduler"]
			}
		}
	}
	// The role SNS writes SMS delivery logs with.
	for id, r := range ofType(t, tpl, "AWS::IAM::Role") {
		for _, st := range statements(t, mapAt(t, r, "Properties", "AssumeRolePolicyDocument")) {
			if equalJSON(st["Principal"], map[string]any{"Service": "sns.amazonaws.com"}) {
				require.NotContains(t, expected, id)
				expected[id] = platformActions["sms-delivery-status"]
			}
		}
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(expected)), slices.Collect(maps.Keys(policies)),
		"every IAM role must belong to a function, a schedule or SMS delivery logging")

	for role, docs := range policies {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			granted := map[string]bool{}
			for _, doc := range docs {
				for _, st := range statements(t, doc) {
					require.Equal(t, "Allow", st["Effect"])
					require.NotContains(t, st, "NotAction")
					require.NotContains(t, st, "NotResource")
					actions := stringList(t, st["Action"])
					for _, a := range actions {
						granted[a] = true
					}
					res := st["Resource"]
					if res == "*" {
						for _, a := range actions {
							require.Contains(t, unscopableActions, a, "%s granted on Resource *", a)
						}
						continue
					}
					for _, a := range actions {
						if want, ok := scopedResources[a]; ok {
							require.True(t, slices.ContainsFunc(want, func(w any) bool { return cmp.Equal(w, res) }),
								"%s is granted on %v; it may be granted only on one of %v", a, res, want)
						}
						if strings.HasPrefix(a, "kms:") {
							requireViaService(t, st, res)
						}
					}
				}
			}
			want := map[string]bool{}
			for _, a := range expected[role] {
				want[a] = true
			}
			require.Empty(t, cmp.Diff(want, granted), "IAM actions of %s (-code/platform +template)", role)
		})
	}
}

// requireViaService: a KMS grant is usable only through the service that
// needs the key (kmsViaService).
func requireViaService(t testing.TB, st map[string]any, res any) {
	t.Helper()
	var key string
	if m, ok := res.(map[string]any); ok {
		if ga, ok := m["Fn::GetAtt"].([]any); ok {
			key, _ = ga[0].(string)
		} else {
			key, _ = m["Ref"].(string)
		}
	}
	prefix, ok := kmsViaService[key]
	require.True(t, ok, "KMS granted on %v, which kmsViaService does not know", res)
	via := at(t, st, "Condition", "StringEquals", "kms:ViaService")
	require.Contains(t, fmt.Sprint(via), prefix, "KMS on %s must be limited to kms:ViaService %s...", key, prefix)
}

// scheduleRate turns "rate(5 minutes)" into 5m.
func scheduleRate(expr string) (time.Duration, bool) {
	m := regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`).FindStringSubmatch(expr)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, false
	}
	unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
	return time.Duration(n) * unit, true
}

func TestScheduleRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"minutes", "rate(5 minutes)", 5 * time.Minute, true},
		{"one minute", "rate(1 minute)", time.Minute, true},
		{"hours", "rate(2 hours)", 2 * time.Hour, true},
		{"cron is not a rate", "cron(0/5 * * * ? *)", 0, false},
		{"no unit", "rate(5)", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := scheduleRate(tt.in)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func configInterval(t testing.TB, s, def string) time.Duration {
	t.Helper()
	if s == "" {
		s = def
	}
	d, err := model.ParseDuration(s)
	require.NoError(t, err)
	return time.Duration(d)
}

func TestTemplateSchedules(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	collect := loadYAML[collectConfig](t, repoFile(t, "infra/examples/collect.yaml"))
	rules := loadYAML[rulesConfig](t, repoFile(t, "infra/examples/rules.yaml"))
	intervals := map[string]time.Duration{
		"CollectScheduleRate": configInterval(t, collect.Interval, "5m"),
		"AlertScheduleRate":   configInterval(t, rules.Settings.Interval, "1m"),
	}
	for param, want := range intervals {
		got, ok := scheduleRate(stringAt(t, tpl, "Parameters", param, "Default"))
		require.True(t, ok, "%s default is not rate(N unit)", param)
		require.Equal(t, want, got, "%s must equal the config's interval", param)
	}

	wantRate := map[function]string{collectFn: "CollectScheduleRate", alertFn: "AlertScheduleRate"}
	schedules := 0
	for fn, rate := range wantRate {
		events := mapAt(t, tpl, "Resources", string(fn), "Properties", "Events")
		for name, e := range events {
			require.Equal(t, "ScheduleV2", at(t, e, "Type"), "%s.%s", fn, name)
			p := mapAt(t, e, "Properties")
			schedules++
			require.Equal(t, map[string]any{"Ref": rate}, p["ScheduleExpression"], "%s.%s", fn, name)
			require.Contains(t, p, "RetryPolicy", "%s.%s", fn, name)
			require.Contains(t, mapAt(t, p, "DeadLetterConfig"), "Arn", "%s.%s", fn, name)
			for _, in := range renderInputs(t, p["Input"]) {
				// The Input as Scheduler delivers it, decoded by the
				// functions' own event type.
				const placeholder = `"<aws.scheduler.scheduled-time>"`
				require.Contains(t, in, `"time": `+placeholder, "%s.%s", fn, name)
				var ev schedule.Event
				require.NoError(t, json.Unmarshal([]byte(strings.Replace(in, placeholder, `"2026-11-25T16:05:00Z"`, 1)), &ev), "%s.%s Input %s", fn, name, in)
				if fn == alertFn {
					require.Nil(t, ev.Jobs, "%s.%s: the alert function takes groups", fn, name)
				} else {
					require.Nil(t, ev.Groups, "%s.%s: the collect function takes jobs", fn, name)
				}
			}
		}
	}
	require.Equal(t, 10, schedules, "collect, collect shard, and the eight alert parts' (the first on the main alert schedule)")
}

// renderInputs evaluates a schedule Input for every branch of its Fn::If,
// with every list parameter set to [ec2, rds].
func renderInputs(t testing.TB, v any) []string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		if br, ok := x["Fn::If"].([]any); ok {
			return append(renderInputs(t, br[1]), renderInputs(t, br[2])...)
		}
		if j, ok := x["Fn::Join"].([]any); ok {
			sep, _ := j[0].(string)
			return []string{"ec2" + sep + "rds"}
		}
		if s, ok := x["Fn::Sub"].([]any); ok {
			out := []string{stringList(t, s[0])[0]}
			for name, val := range mapAt(t, s, 1) {
				var next []string
				for _, o := range out {
					for _, r := range renderInputs(t, val) {
						next = append(next, strings.ReplaceAll(o, "${"+name+"}", r))
					}
				}
				out = next
			}
			return out
		}
	}
	t.Fatalf("cannot render Input %v", v)
	return nil
}

func TestRenderInputs(t *testing.T) {
	t.Parallel()
	in := map[string]any{"Fn::If": []any{"C",
		map[string]any{"Fn::Sub": []any{`{"jobs": ["${J}"]}`, map[string]any{"J": map[string]any{"Fn::Join": []any{`", "`, map[string]any{"Ref": "L"}}}}}},
		`{}`,
	}}
	require.Equal(t, []string{`{"jobs": ["ec2", "rds"]}`, `{}`}, renderInputs(t, in))
}

// roleArnsDiff compares the role_arns of a collect config with the template's
// CollectRoleArns default.
func roleArnsDiff(c collectConfig, paramDefault string) string {
	inConfig := map[string]bool{}
	for _, j := range c.Jobs {
		if j.RoleARN != "" {
			inConfig[j.RoleARN] = true
		}
	}
	inTemplate := map[string]bool{}
	for a := range strings.SplitSeq(paramDefault, ",") {
		if a = strings.TrimSpace(a); a != "" {
			inTemplate[a] = true
		}
	}
	return cmp.Diff(inConfig, inTemplate)
}

func TestTemplateRoleArnsMirrorCollectConfig(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	collect := loadYAML[collectConfig](t, repoFile(t, "infra/examples/collect.yaml"))
	require.Equal(t, "CommaDelimitedList", at(t, tpl, "Parameters", "CollectRoleArns", "Type"))
	def := stringAt(t, tpl, "Parameters", "CollectRoleArns", "Default")
	require.Empty(t, roleArnsDiff(collect, def), "CollectRoleArns default must list the role_arns of collect.yaml (-config +template)")
}

func TestRoleArnsDiff(t *testing.T) {
	t.Parallel()
	c := collectConfig{Jobs: make([]collectJob, 3)}
	c.Jobs[0].RoleARN = "arn:aws:iam::111122223333:role/a"
	c.Jobs[2].RoleARN = "arn:aws:iam::444455556666:role/b"
	tests := []struct {
		name  string
		param string
		same  bool
	}{
		{"same, any order", "arn:aws:iam::444455556666:role/b,arn:aws:iam::111122223333:role/a", true},
		{"one missing", "arn:aws:iam::111122223333:role/a", false},
		{"one extra", "arn:aws:iam::111122223333:role/a,arn:aws:iam::444455556666:role/b,arn:aws:iam::1:role/c", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.same, roleArnsDiff(c, tt.param) == "")
		})
	}
}

// TestTemplateFailuresAreKept: every way a run can be lost leaves a record —
// the async invoke config of each function sends failures to an SQS queue
// after a set number of retries, each schedule has a dead-letter queue, and
// the logs go to a log group with retention. (TestFailureQueuesPage and
// TestFunctionWatchdogs check that each of these pages someone.)
func TestTemplateFailuresAreKept(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, fn := range []function{collectFn, alertFn} {
		p := mapAt(t, tpl, "Resources", string(fn), "Properties")
		eic := mapAt(t, p, "EventInvokeConfig")
		require.Contains(t, eic, "MaximumRetryAttempts")
		require.Contains(t, eic, "MaximumEventAgeInSeconds")
		q := getAttArn(t, at(t, eic, "DestinationConfig", "OnFailure", "Destination"))
		require.Equal(t, "SQS", at(t, eic, "DestinationConfig", "OnFailure", "Type"))
		require.Equal(t, "AWS::SQS::Queue", at(t, tpl, "Resources", q, "Type"))
		for name, e := range mapAt(t, p, "Events") {
			dlq := getAttArn(t, at(t, e, "Properties", "DeadLetterConfig", "Arn"))
			require.Equal(t, "AWS::SQS::Queue", at(t, tpl, "Resources", dlq, "Type"), "%s.%s", fn, name)
		}
		lg := mapAt(t, p, "LoggingConfig")
		require.Equal(t, "JSON", lg["LogFormat"])
		group := mapAt(t, lg, "LogGroup")["Ref"].(string)
		require.Equal(t, "AWS::Logs::LogGroup", at(t, tpl, "Resources", group, "Type"))
		require.Contains(t, mapAt(t, tpl, "Resources", group, "Properties"), "RetentionInDays")
		require.Equal(t, "makefile", at(t, tpl, "Resources", string(fn), "Metadata", "BuildMethod"))
	}
}

func TestTemplateSubscriptions(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	subs := ofType(t, tpl, "AWS::SNS::Subscription")
	byProtocol := map[string]map[string]any{}
	for id, s := range subs {
		p := mapAt(t, s, "Properties")
		if equalJSON(p["TopicArn"], opsTopic) {
			continue // TestOperatorHearsEveryAlarm
		}
		require.Equal(t, map[string]any{"Ref": "AlertTopic"}, p["TopicArn"], id)
		require.NotEmpty(t, s["Condition"], "%s is created only when its parameter is given", id)
		byProtocol[stringAt(t, p, "Protocol")] = p
	}
	require.ElementsMatch(t, []string{"email", "sms"}, slices.Collect(maps.Keys(byProtocol)))
	require.Equal(t, map[string]any{"severity": []any{"critical"}}, byProtocol["sms"]["FilterPolicy"])
	require.Equal(t, "MessageAttributes", byProtocol["sms"]["FilterPolicyScope"])
	require.NotContains(t, byProtocol["email"], "FilterPolicy", "email receives every alert")

	for _, out := range []string{"AlertTopicArn", "OpsTopicArn", "CollectFunctionRoleArn", "CollectFunctionName", "AlertFunctionName", "CollectScheduleName", "AlertScheduleName"} {
		require.Contains(t, mapAt(t, tpl, "Outputs"), out)
	}
}

// TestSecretKeyGrant: a secret under a customer-managed key is readable only
// if the function may decrypt with that key through Secrets Manager — in the
// secret's region, which may differ from the stack's — and for that secret
// only. Without AuthSecretKmsKeyArn no KMS grant for secrets exists.
func TestSecretKeyGrant(t *testing.T) {
	t.Parallel()
	const (
		secret = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:sigmawatch/store-AbC123"
		key    = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	)
	tpl := loadTemplate(t)
	grants := func(params map[string]string) map[string][]map[string]any {
		d, err := deployTemplate(tpl, "us-east-1", params)
		require.NoError(t, err)
		res := d.resources(t)
		out := map[string][]map[string]any{}
		for _, policy := range []string{"CollectFunctionPolicy", "AlertFunctionPolicy"} {
			for _, st := range statements(t, mapAt(t, res[policy], "Properties", "PolicyDocument")) {
				if st["Resource"] == key {
					out[policy] = append(out[policy], st)
				}
			}
		}
		return out
	}
	basic := withParams(minimalParams(), "AuthMode", "basic", "AuthSecretArn", secret)
	require.Empty(t, grants(basic), "no KMS grant without AuthSecretKmsKeyArn")

	got := grants(withParams(basic, "AuthSecretKmsKeyArn", key))
	for _, policy := range []string{"CollectFunctionPolicy", "AlertFunctionPolicy"} {
		require.Len(t, got[policy], 1, policy)
		st := got[policy][0]
		require.Equal(t, "kms:Decrypt", st["Action"], policy)
		require.Equal(t, map[string]any{"StringEquals": map[string]any{
			"kms:ViaService":                  "secretsmanager.eu-central-1.amazonaws.com",
			"kms:EncryptionContext:SecretARN": secret,
		}}, st["Condition"], policy)
	}
}
