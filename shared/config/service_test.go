package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServiceJobResolvesTypeAndAccounts(t *testing.T) {
	t.Parallel()
	c, err := LoadCollectFile("testdata/service.good.yml")
	require.NoError(t, err)
	ec2, alb := &c.Jobs[0], &c.Jobs[1]
	require.True(t, ec2.IsService())
	require.Equal(t, "AWS/EC2", ec2.Namespace)
	require.Equal(t, "AWS/ApplicationELB", alb.Type, "YACE's alias resolves to the namespace")
	require.Equal(t, "AWS/ApplicationELB", alb.Namespace)
	require.Equal(t, []Role{
		{RoleARN: "arn:aws:iam::111122223333:role/sigmawatch-read"},
		{RoleARN: "arn:aws:iam::444455556666:role/sigmawatch-read", ExternalID: "shared-id"},
	}, ec2.Accounts())
	require.Equal(t, []Role{{}}, alb.Accounts())
	st := ec2.SearchTagsCompiled()
	require.Len(t, st, 1)
	require.True(t, st[0].Value.MatchString("production"))
	require.NoError(t, c.Validate(), "a resolved config stays valid")
	require.True(t, ec2.WantsAccountAlias(), "service jobs carry account_alias, as YACE's do")
}

// TestAccountAliasOption: account_alias is on for service jobs and off for
// the others unless set (their series would otherwise change labels).
func TestAccountAliasOption(t *testing.T) {
	t.Parallel()
	c, err := LoadCollect([]byte(`
jobs:
  - {name: plain, namespace: App, dimensions: [Svc], metrics: [{name: Lat, statistics: [Average]}]}
  - {name: yace, namespace: App, dimensions: [Svc], account_alias: true, metrics: [{name: Lat, statistics: [Average]}]}
  - {name: ec2, type: ec2, account_alias: false, metrics: [{name: CPUUtilization, statistics: [Average]}]}
  - {name: rds, type: rds, metrics: [{name: CPUUtilization, statistics: [Average]}]}
`))
	require.NoError(t, err)
	var got []bool
	for i := range c.Jobs {
		got = append(got, c.Jobs[i].WantsAccountAlias())
	}
	require.Equal(t, []bool{false, true, false, true}, got)
}
