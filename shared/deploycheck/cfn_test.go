package deploycheck

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// This file evaluates a template the way CloudFormation does before it creates
// anything: parameter values against their constraints, the Rules section,
// then the Conditions, so a test can look at the resources a given set of
// parameter values really deploys. It covers the intrinsic functions our
// templates use and refuses any other, so a template that outgrows it fails
// loudly instead of being checked half.

// Pseudo parameter values of the deployments these tests look at.
const (
	testAccountID = "123456789012"
	testStackName = "sigmawatch"
)

// noValue is what Ref AWS::NoValue evaluates to: the property is dropped.
type noValueT struct{}

var noValue = noValueT{}

// deployment is a template as CloudFormation deploys it for one set of
// parameter values in one region.
type deployment struct {
	tpl        map[string]any
	region     string
	params     map[string]any // string, or []string for a CommaDelimitedList
	conditions map[string]bool
	condDefs   map[string]any
}

// deployTemplate validates the given parameter values (the rest take their
// Default) and the template's Rules, as CloudFormation does before creating a
// stack, and reports every problem at once.
func deployTemplate(tpl map[string]any, region string, given map[string]string) (*deployment, error) {
	d := &deployment{tpl: tpl, region: region, params: map[string]any{}, conditions: map[string]bool{}}
	d.condDefs, _ = tpl["Conditions"].(map[string]any)
	decl, _ := tpl["Parameters"].(map[string]any)
	var errs []error
	for name := range given {
		if _, ok := decl[name]; !ok {
			errs = append(errs, fmt.Errorf("parameter %s: not declared in the template", name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(decl)) {
		p, _ := decl[name].(map[string]any)
		val, ok := given[name]
		if !ok {
			def, has := p["Default"]
			if !has {
				errs = append(errs, fmt.Errorf("parameter %s: must have a value (no Default)", name))
				continue
			}
			val = fmt.Sprint(def)
		}
		v, err := checkParameter(name, p, val)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.params[name] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rules, _ := tpl["Rules"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		if err := d.checkRule(name, rules[name]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for name := range d.condDefs {
		if _, err := d.condition(name, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return d, errors.Join(errs...)
}

// checkParameter applies a parameter's Type and constraints to a value and
// returns it as the template sees it.
func checkParameter(name string, p map[string]any, val string) (any, error) {
	fail := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if cd, ok := p["ConstraintDescription"].(string); ok {
			msg += " (" + cd + ")"
		}
		return fmt.Errorf("parameter %s: %s", name, msg)
	}
	typ, _ := p["Type"].(string)
	var elems []string
	switch typ {
	case "String", "Number":
		elems = []string{val}
	case "CommaDelimitedList":
		elems = strings.Split(val, ",")
	default:
		return nil, fmt.Errorf("parameter %s: type %q is not modelled by these tests", name, typ)
	}
	if allowed, ok := p["AllowedValues"].([]any); ok {
		var as []string
		for _, a := range allowed {
			as = append(as, fmt.Sprint(a))
		}
		if !slices.Contains(as, val) {
			return nil, fail("%q is not one of %v", val, as)
		}
	}
	if pat, ok := p["AllowedPattern"].(string); ok {
		// CloudFormation matches the whole value.
		re, err := regexp.Compile(`^(?:` + pat + `)$`)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: AllowedPattern: %w", name, err)
		}
		for _, e := range elems {
			if !re.MatchString(e) {
				return nil, fail("%q does not match %s", e, pat)
			}
		}
	}
	for key, check := range map[string]func(float64) bool{
		"MinLength": func(n float64) bool { return float64(len(val)) >= n },
		"MaxLength": func(n float64) bool { return float64(len(val)) <= n },
	} {
		if n, ok := number(p[key]); ok && !check(n) {
			return nil, fail("length %d breaks %s %g", len(val), key, n)
		}
	}
	if typ == "Number" {
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, fail("%q is not a number", val)
		}
		if n, ok := number(p["MinValue"]); ok && f < n {
			return nil, fail("%g is below MinValue %g", f, n)
		}
		if n, ok := number(p["MaxValue"]); ok && f > n {
			return nil, fail("%g is above MaxValue %g", f, n)
		}
	}
	if typ == "CommaDelimitedList" {
		return elems, nil
	}
	return val, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

func (d *deployment) checkRule(name string, rule any) error {
	r, ok := rule.(map[string]any)
	if !ok {
		return fmt.Errorf("rule %s: not a mapping", name)
	}
	if c, ok := r["RuleCondition"]; ok {
		holds, err := d.boolean(c, nil)
		if err != nil {
			return fmt.Errorf("rule %s: RuleCondition: %w", name, err)
		}
		if !holds {
			return nil
		}
	}
	asserts, _ := r["Assertions"].([]any)
	var errs []error
	for i, a := range asserts {
		am, _ := a.(map[string]any)
		holds, err := d.boolean(am["Assert"], nil)
		if err != nil {
			return fmt.Errorf("rule %s: Assertions[%d]: %w", name, i, err)
		}
		if !holds {
			errs = append(errs, fmt.Errorf("rule %s: %v", name, am["AssertDescription"]))
		}
	}
	return errors.Join(errs...)
}

func (d *deployment) condition(name string, seen []string) (bool, error) {
	if v, ok := d.conditions[name]; ok {
		return v, nil
	}
	if slices.Contains(seen, name) {
		return false, fmt.Errorf("condition %s: cycle through %v", name, seen)
	}
	def, ok := d.condDefs[name]
	if !ok {
		return false, fmt.Errorf("condition %s: not declared", name)
	}
	v, err := d.boolean(def, append(seen, name))
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	d.conditions[name] = v
	return v, nil
}

func (d *deployment) boolean(v any, seen []string) (bool, error) {
	r, err := d.eval(v, seen)
	if err != nil {
		return false, err
	}
	switch b := r.(type) {
	case bool:
		return b, nil
	case string:
		return strconv.ParseBool(b)
	}
	return false, fmt.Errorf("%v is not a boolean", v)
}

// eval resolves every intrinsic function it can: parameters, pseudo
// parameters, conditions and string functions. References to resources
// (Ref, Fn::GetAtt) stay as they are, and so do Fn::Sub and Fn::Join over
// them.
func (d *deployment) eval(v any, seen []string) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			r, err := d.eval(e, seen)
			if err != nil {
				return nil, err
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return d.intrinsic(k, arg, seen)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := d.eval(e, seen)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	}
	return v, nil
}

func (d *deployment) pseudo(name string) (any, bool) {
	switch name {
	case "AWS::Region":
		return d.region, true
	case "AWS::AccountId":
		return testAccountID, true
	case "AWS::StackName":
		return testStackName, true
	case "AWS::Partition":
		return "aws", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	case "AWS::NoValue":
		return noValue, true
	}
	if v, ok := d.params[name]; ok {
		return v, true
	}
	return nil, false
}

func (d *deployment) intrinsic(fn string, arg any, seen []string) (any, error) {
	args, _ := arg.([]any)
	evalArgs := func(n int) ([]any, error) {
		if len(args) != n {
			return nil, fmt.Errorf("%s takes %d arguments, got %v", fn, n, arg)
		}
		out := make([]any, n)
		for i, a := range args {
			r, err := d.eval(a, seen)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if v, ok := d.pseudo(name); ok {
			return v, nil
		}
		return map[string]any{"Ref": name}, nil // a resource
	case "Fn::GetAtt", "Fn::ImportValue", "Fn::GetAZs", "Fn::Base64", "Fn::Cidr":
		return map[string]any{fn: arg}, nil
	case "Condition":
		name, _ := arg.(string)
		return d.condition(name, seen)
	case "Fn::If":
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If takes 3 arguments, got %v", arg)
		}
		name, _ := args[0].(string)
		c, err := d.condition(name, seen)
		if err != nil {
			return nil, err
		}
		if c {
			return d.eval(args[1], seen)
		}
		return d.eval(args[2], seen)
	case "Fn::Equals":
		a, err := evalArgs(2)
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a[0]) == fmt.Sprint(a[1]), nil
	case "Fn::Not":
		a, err := evalArgs(1)
		if err != nil {
			return nil, err
		}
		b, err := d.boolean(a[0], seen)
		return !b, err
	case "Fn::And", "Fn::Or":
		for _, e := range args {
			b, err := d.boolean(e, seen)
			if err != nil {
				return nil, err
			}
			if b == (fn == "Fn::Or") {
				return b, nil
			}
		}
		return fn == "Fn::And", nil
	case "Fn::Contains":
		a, err := evalArgs(2)
		if err != nil {
			return nil, err
		}
		return slices.Contains(strs(a[0]), fmt.Sprint(a[1])), nil
	case "Fn::EachMemberEquals":
		a, err := evalArgs(2)
		if err != nil {
			return nil, err
		}
		for _, m := range strs(a[0]) {
			if m != fmt.Sprint(a[1]) {
				return false, nil
			}
		}
		return true, nil
	case "Fn::EachMemberIn":
		a, err := evalArgs(2)
		if err != nil {
			return nil, err
		}
		allowed := strs(a[1])
		for _, m := range strs(a[0]) {
			if !slices.Contains(allowed, m) {
				return false, nil
			}
		}
		return true, nil
	case "Fn::Join":
		a, err := evalArgs(2)
		if err != nil {
			return nil, err
		}
		parts, ok := a[1].([]any)
		if !ok {
			if ss, isList := a[1].([]string); isList {
				return strings.Join(ss, fmt.Sprint(a[0])), nil
			}
			return map[string]any{fn: a}, nil
		}
		var ss []string
		for _, p := range parts {
			s, isStr := p.(string)
			if !isStr {
				return map[string]any{fn: a}, nil // joins a resource reference
			}
			ss = append(ss, s)
		}
		return strings.Join(ss, fmt.Sprint(a[0])), nil
	case "Fn::Split":
		a, err := evalArgs(2)
		if err != nil {
			return nil, err
		}
		s, ok := a[1].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Split of %v", a[1])
		}
		return strings.Split(s, fmt.Sprint(a[0])), nil
	case "Fn::Select":
		a, err := evalArgs(2)
		if err != nil {
			return nil, err
		}
		i, ok := number(a[0])
		list := strs(a[1])
		if !ok || int(i) < 0 || int(i) >= len(list) {
			return nil, fmt.Errorf("Fn::Select %v out of %v", a[0], a[1])
		}
		return list[int(i)], nil
	case "Fn::Sub":
		return d.sub(arg, seen)
	}
	return nil, fmt.Errorf("%s is not modelled by these tests", fn)
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// sub substitutes parameters, pseudo parameters and Fn::Sub's own variables;
// a string naming a resource (${Res} or ${Res.Attr}) stays a Fn::Sub.
func (d *deployment) sub(arg any, seen []string) (any, error) {
	var tmpl string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		tmpl = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub takes a string or [string, map], got %v", arg)
		}
		tmpl, _ = a[0].(string)
		m, _ := a[1].(map[string]any)
		for k, v := range m {
			r, err := d.eval(v, seen)
			if err != nil {
				return nil, err
			}
			vars[k] = r
		}
	}
	unresolved := false
	out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := vars[name]
		if !ok {
			v, ok = d.pseudo(name)
		}
		s, isStr := v.(string)
		if !ok || !isStr {
			unresolved = true
			return m
		}
		return s
	})
	if unresolved {
		return map[string]any{"Fn::Sub": out}, nil
	}
	return out, nil
}

func strs(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case string:
		return []string{x}
	}
	return nil
}

// resources are the resources this deployment creates (their Condition
// holds), with every intrinsic function resolved as far as it goes.
func (d *deployment) resources(t testing.TB) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range mapAt(t, d.tpl, "Resources") {
		rm, ok := r.(map[string]any)
		require.True(t, ok, id)
		if c, ok := rm["Condition"].(string); ok {
			holds, err := d.condition(c, nil)
			require.NoError(t, err, id)
			if !holds {
				continue
			}
		}
		v, err := d.eval(rm, nil)
		require.NoError(t, err, id)
		out[id], ok = v.(map[string]any)
		require.True(t, ok, id)
	}
	return out
}

// minimalParams is the least a first-time user gives: a store and an email.
func minimalParams() map[string]string {
	return map[string]string{
		"RemoteWriteURL": "https://prometheus.example.com/api/v1/write",
		"PrometheusURL":  "https://prometheus.example.com",
		"AlertEmail":     "oncall@example.com",
	}
}

func withParams(base map[string]string, kv ...string) map[string]string {
	out := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestDeploymentEvaluator(t *testing.T) {
	t.Parallel()
	tpl := map[string]any{
		"Parameters": map[string]any{
			"Mode":  map[string]any{"Type": "String", "Default": "none", "AllowedValues": []any{"none", "basic"}},
			"URL":   map[string]any{"Type": "String", "Default": "", "AllowedPattern": `(https://\S+)?`, "ConstraintDescription": "https only"},
			"Jobs":  map[string]any{"Type": "CommaDelimitedList", "Default": ""},
			"Count": map[string]any{"Type": "Number", "Default": 0, "MinValue": 0, "MaxValue": 1},
		},
		"Rules": map[string]any{
			"BasicNeedsURL": map[string]any{
				"RuleCondition": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Mode"}, "basic"}},
				"Assertions": []any{map[string]any{
					"Assert":            map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "URL"}, ""}}}},
					"AssertDescription": "basic needs a URL",
				}},
			},
		},
		"Conditions": map[string]any{
			"HasJobs":  map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Fn::Join": []any{"", map[string]any{"Ref": "Jobs"}}}, ""}}}},
			"Reserved": map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Count"}, "0"}}}},
		},
		"Resources": map[string]any{
			"Fn": map[string]any{"Type": "X", "Properties": map[string]any{
				"Reserved": map[string]any{"Fn::If": []any{"Reserved", map[string]any{"Ref": "Count"}, map[string]any{"Ref": "AWS::NoValue"}}},
				"Name":     map[string]any{"Fn::Sub": "${AWS::StackName}-${Other.Arn}"},
				"Region":   map[string]any{"Fn::Select": []any{3, map[string]any{"Fn::Split": []any{":", "arn:aws:sns:eu-west-1:1:t"}}}},
			}},
			"Shard": map[string]any{"Type": "X", "Condition": "HasJobs"},
		},
	}
	tests := []struct {
		name    string
		given   map[string]string
		wantErr []string
		check   func(t *testing.T, res map[string]map[string]any)
	}{
		{name: "defaults", check: func(t *testing.T, res map[string]map[string]any) {
			require.NotContains(t, res, "Shard")
			require.Equal(t, map[string]any{
				"Name":   map[string]any{"Fn::Sub": "sigmawatch-${Other.Arn}"},
				"Region": "eu-west-1",
			}, res["Fn"]["Properties"])
		}},
		{name: "list and number", given: map[string]string{"Jobs": "ec2,rds", "Count": "1"}, check: func(t *testing.T, res map[string]map[string]any) {
			require.Contains(t, res, "Shard")
			require.Equal(t, "1", at(t, res["Fn"], "Properties", "Reserved"))
		}},
		{name: "rule", given: map[string]string{"Mode": "basic"}, wantErr: []string{"rule BasicNeedsURL: basic needs a URL"}},
		{name: "every constraint at once", given: map[string]string{"Mode": "x", "URL": "http://a", "Count": "2", "Nope": "1"},
			wantErr: []string{"parameter Mode", "parameter URL: \"http://a\" does not match", "(https only)", "parameter Count: 2 is above MaxValue 1", "parameter Nope: not declared"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := deployTemplate(tpl, "eu-west-1", tt.given)
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					require.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, d.resources(t))
		})
	}
}
