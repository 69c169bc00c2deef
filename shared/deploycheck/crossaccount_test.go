package deploycheck

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// infra/cross-account-role.yaml is deployed in every account a collect job
// reads through role_arn: it creates the role the collect function assumes.

const crossAccountTemplate = "infra/cross-account-role.yaml"

// targetServices are the services collect calls with a job's role_arn
// credentials: the metrics, and the resources and account they describe.
// Everything else it calls (STS to assume the role, the store, its secret)
// runs as its own role in its own account.
var targetServices = []string{"cloudwatch:", "tag:", "iam:", "apigateway:"}

func targetRoleActions() []string {
	var out []string
	for _, a := range codeAPIs[collectFn] {
		for _, s := range targetServices {
			if strings.HasPrefix(a, s) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestCrossAccountRole: the target account's role trusts the collect role
// only, only with the external id, and may call exactly what collect calls
// through it.
func TestCrossAccountRole(t *testing.T) {
	t.Parallel()
	tpl := loadCFN(t, repoFile(t, crossAccountTemplate))
	require.NotContains(t, tpl, "Transform", "plain CloudFormation: deployable from the console in any account")
	res := resources(t, tpl)
	roles := ofType(t, tpl, "AWS::IAM::Role")
	require.Len(t, roles, 1)
	require.Len(t, res, 1, "the role, nothing else")
	var role map[string]any
	for _, r := range roles {
		role = r
	}
	props := mapAt(t, role, "Properties")
	require.NotContains(t, props, "ManagedPolicyArns", "a managed policy (ReadOnlyAccess...) grants far more than collect needs")

	trust := statements(t, mapAt(t, props, "AssumeRolePolicyDocument"))
	require.Len(t, trust, 1)
	require.Equal(t, "Allow", trust[0]["Effect"])
	require.Equal(t, "sts:AssumeRole", trust[0]["Action"])
	require.Equal(t, map[string]any{"AWS": map[string]any{"Ref": "CollectRoleArn"}}, trust[0]["Principal"])
	require.Equal(t, map[string]any{"StringEquals": map[string]any{"sts:ExternalId": map[string]any{"Ref": "ExternalId"}}}, trust[0]["Condition"])

	granted := map[string]bool{}
	for _, p := range props["Policies"].([]any) {
		for _, st := range statements(t, mapAt(t, p, "PolicyDocument")) {
			require.Equal(t, "Allow", st["Effect"])
			for _, a := range stringList(t, st["Action"]) {
				// What takes no resource-level permission on "*", the rest
				// on the resource the main template grants it on.
				if want, scoped := scopedResources[a]; scoped {
					require.Contains(t, want, st["Resource"], "%s", a)
				} else {
					require.Equal(t, "*", st["Resource"], "%s takes no resource-level permission", a)
				}
				granted[a] = true
			}
		}
	}
	require.Equal(t, targetRoleActions(), slices.Sorted(maps.Keys(granted)), "actions of the target account's role")

	outputs := mapAt(t, tpl, "Outputs")
	require.Contains(t, outputs, "RoleArn")
	main := loadTemplate(t)
	require.Equal(t, map[string]any{"Fn::GetAtt": []any{"CollectFunctionRole", "Arn"}}, at(t, main, "Outputs", "CollectFunctionRoleArn", "Value"),
		"the main stack outputs the ARN the target role trusts")
}

func TestCrossAccountParameters(t *testing.T) {
	t.Parallel()
	tpl := loadCFN(t, repoFile(t, crossAccountTemplate))
	const collector = "arn:aws:iam::123456789012:role/sigmawatch-CollectFunctionRole-AbC123dEf456"
	tests := []struct {
		name    string
		params  map[string]string
		refused string
	}{
		{"ok", map[string]string{"CollectRoleArn": collector, "ExternalId": "b0c1d2e3-sigmawatch"}, ""},
		{"no external id", map[string]string{"CollectRoleArn": collector}, "parameter ExternalId"},
		{"short external id", map[string]string{"CollectRoleArn": collector, "ExternalId": "x"}, "parameter ExternalId"},
		{"external id with a space", map[string]string{"CollectRoleArn": collector, "ExternalId": "a b c"}, "parameter ExternalId"},
		{"a user, not a role", map[string]string{"CollectRoleArn": "arn:aws:iam::123456789012:user/me", "ExternalId": "abcdef"}, "parameter CollectRoleArn"},
		{"the account root", map[string]string{"CollectRoleArn": "arn:aws:iam::123456789012:root", "ExternalId": "abcdef"}, "parameter CollectRoleArn"},
		{"no collect role", map[string]string{"ExternalId": "abcdef"}, "parameter CollectRoleArn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := deployTemplate(tpl, "eu-west-1", tt.params)
			if tt.refused == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.refused)
		})
	}
}
