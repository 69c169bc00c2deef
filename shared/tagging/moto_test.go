package tagging_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/resource"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
	"github.com/sigmawatch/sigmawatch/shared/tagging/taggingtest"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) { os.Exit(testenv.RunWithMoto(m, &moto)) }

func seeder(t *testing.T) *taggingtest.Seeder {
	t.Helper()
	cfg, err := moto.AWSConfig(t.Context())
	require.NoError(t, err)
	creds, err := cfg.Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	return &taggingtest.Seeder{URL: moto.URL, Region: moto.Region, Creds: creds}
}

// taggingClient returns a Tagging API client for moto, through the proxy
// that fixes the resource types moto matches differently from AWS.
func taggingClient(t *testing.T, throughProxy bool) *rgta.Client {
	t.Helper()
	cfg, err := moto.AWSConfig(t.Context())
	require.NoError(t, err)
	if throughProxy {
		p, err := taggingtest.MotoProxy(moto.URL)
		require.NoError(t, err)
		t.Cleanup(p.Close)
		cfg.BaseEndpoint = aws.String(p.URL)
	}
	return tagging.NewClient(cfg)
}

func arns(rs []resource.Resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ARN)
	}
	slices.Sort(out)
	return out
}

// TestMotoCoverage records which service jobs moto's GetResources serves as
// AWS does, which need the proxy, and keeps both true: each case creates a
// tagged resource and asks for the service's resource types, selecting this
// test's resources by a unique tag value.
func TestMotoCoverage(t *testing.T) {
	t.Parallel()
	s := seeder(t)
	ctx := t.Context()
	u := testenv.UniqueName(t.Name())
	tags := taggingtest.Tags{"Env", u}
	tests := []struct {
		service   string
		create    func() (string, error)
		needProxy bool
	}{
		{"AWS/EC2", func() (string, error) {
			id, err := s.EC2Instance(ctx, tags)
			return "arn:aws:ec2:us-east-1:123456789012:instance/" + id, err
		}, false},
		{"AWS/EBS", func() (string, error) {
			id, err := s.EBSVolume(ctx, tags)
			return "arn:aws:ec2:us-east-1:123456789012:volume/" + id, err
		}, false},
		{"AWS/RDS", func() (string, error) { return s.RDSInstance(ctx, u+"-db", tags) }, false},
		{"AWS/ApplicationELB", func() (string, error) { return s.LoadBalancer(ctx, u+"-alb", "application", tags) }, true},
		{"AWS/ApplicationELB", func() (string, error) { return s.TargetGroup(ctx, u+"-tg", tags) }, false},
		{"AWS/SNS", func() (string, error) { return s.SNSTopic(ctx, u+"-topic", tags) }, false},
		{"AWS/SQS", func() (string, error) { return s.SQSQueue(ctx, u+"-queue", tags) }, false},
		{"AWS/DynamoDB", func() (string, error) { return s.DynamoDBTable(ctx, u+"-table", tags) }, false},
		{"AWS/ECS", func() (string, error) { return s.ECSCluster(ctx, u+"-cluster", tags) }, false},
		{"AWS/States", func() (string, error) { return s.StateMachine(ctx, u+"-sm", tags) }, true},
		{"AWS/ApiGateway", func() (string, error) {
			id, err := s.RestAPI(ctx, u+"-api", tags)
			return "arn:aws:apigateway:us-east-1::/restapis/" + id, err
		}, true},
	}
	search := []resource.SearchTag{{Key: "Env", Value: regexp.MustCompile("^" + regexp.QuoteMeta(u) + "$")}}
	direct, proxied := taggingClient(t, false), taggingClient(t, true)
	want := map[string][]string{}
	needProxy := map[string]bool{}
	var services []string
	for _, tt := range tests {
		arn, err := tt.create()
		require.NoError(t, err, tt.service)
		if _, ok := want[tt.service]; !ok {
			services = append(services, tt.service)
		}
		want[tt.service] = append(want[tt.service], arn)
		needProxy[tt.service] = needProxy[tt.service] || tt.needProxy
	}
	for _, name := range services {
		svc, _ := resource.LookupService(name)
		w := slices.Clone(want[name])
		slices.Sort(w)
		got, _, err := tagging.GetResources(ctx, proxied, svc, search)
		require.NoError(t, err)
		require.Equal(t, w, arns(got), "%s through the proxy", name)

		got, _, err = tagging.GetResources(ctx, direct, svc, search)
		require.NoError(t, err)
		if needProxy[name] {
			require.Less(t, len(got), len(w), "%s: moto now serves it directly; drop the proxy rule", name)
		} else {
			require.Equal(t, w, arns(got), "%s from moto directly", name)
		}
	}
}

// TestSearchTagsOnMoto: tagged EC2, RDS and ALB resources, some of them
// filtered out by search tags (a value regex, and a key that must exist).
func TestSearchTagsOnMoto(t *testing.T) {
	t.Parallel()
	s := seeder(t)
	ctx := t.Context()
	u := testenv.UniqueName(t.Name())
	prod, err := s.EC2Instance(ctx, taggingtest.Tags{"Env", "prod-" + u, "Team", "checkout"})
	require.NoError(t, err)
	_, err = s.EC2Instance(ctx, taggingtest.Tags{"Env", "staging-" + u, "Team", "checkout"})
	require.NoError(t, err)
	_, err = s.EC2Instance(ctx, taggingtest.Tags{"Env", "prod-" + u}) // no Team
	require.NoError(t, err)
	db, err := s.RDSInstance(ctx, u+"-orders", taggingtest.Tags{"Env", "prod-" + u, "Team", "payments"})
	require.NoError(t, err)
	_, err = s.RDSInstance(ctx, u+"-scratch", taggingtest.Tags{"Env", "dev-" + u, "Team", "payments"})
	require.NoError(t, err)
	alb, err := s.LoadBalancer(ctx, u+"-web", "application", taggingtest.Tags{"Env", "prod-" + u, "Team", "web"})
	require.NoError(t, err)
	tg, err := s.TargetGroup(ctx, u+"-tg", taggingtest.Tags{"Env", "prod-" + u, "Team", "web"})
	require.NoError(t, err)
	_, err = s.TargetGroup(ctx, u+"-old", taggingtest.Tags{"Env", "old-" + u, "Team", "web"})
	require.NoError(t, err)

	search := []resource.SearchTag{
		{Key: "Env", Value: regexp.MustCompile("^prod-" + regexp.QuoteMeta(u) + "$")},
		{Key: "Team", Value: regexp.MustCompile(".")},
	}
	api := taggingClient(t, true)
	for svcName, want := range map[string][]string{
		"AWS/EC2":            {"arn:aws:ec2:us-east-1:123456789012:instance/" + prod},
		"AWS/RDS":            {db},
		"AWS/ApplicationELB": {alb, tg},
	} {
		svc, _ := resource.LookupService(svcName)
		got, calls, err := tagging.GetResources(ctx, api, svc, search)
		require.NoError(t, err)
		require.Equal(t, 1, calls)
		slices.Sort(want)
		require.Equal(t, want, arns(got), svcName)
	}
}

func TestAccountAliasOnMoto(t *testing.T) {
	// Not parallel: the alias is account-wide in the shared moto.
	cfg, err := moto.AWSConfig(t.Context())
	require.NoError(t, err)
	api := iam.NewFromConfig(cfg)
	_, err = api.DeleteAccountAlias(t.Context(), &iam.DeleteAccountAliasInput{AccountAlias: aws.String("sigmawatch-test")})
	_ = err // absent on a fresh moto
	alias, err := tagging.AccountAlias(t.Context(), api)
	require.NoError(t, err)
	require.Empty(t, alias)
	require.NoError(t, seeder(t).AccountAlias(t.Context(), "sigmawatch-test"))
	alias, err = tagging.AccountAlias(t.Context(), api)
	require.NoError(t, err)
	require.Equal(t, "sigmawatch-test", alias)
}
