package tagging_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgtatypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/resource"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// fakeTagging answers GetResources from a function: moto never pages at
// the page size service jobs ask for, so paging is shown here.
type fakeTagging struct {
	calls int
	page  func(in *rgta.GetResourcesInput) (*rgta.GetResourcesOutput, error)
}

func (f *fakeTagging) GetResources(_ context.Context, in *rgta.GetResourcesInput, _ ...func(*rgta.Options)) (*rgta.GetResourcesOutput, error) {
	f.calls++
	return f.page(in)
}

func mapping(arn string, kv ...string) rgtatypes.ResourceTagMapping {
	m := rgtatypes.ResourceTagMapping{ResourceARN: aws.String(arn)}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Tags = append(m.Tags, rgtatypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return m
}

func TestGetResourcesPagesAndFilters(t *testing.T) {
	t.Parallel()
	svc, _ := resource.LookupService("AWS/ApplicationELB")
	var seen []*rgta.GetResourcesInput
	api := &fakeTagging{page: func(in *rgta.GetResourcesInput) (*rgta.GetResourcesOutput, error) {
		seen = append(seen, in)
		n := 0
		if in.PaginationToken != nil {
			n, _ = strconv.Atoi(*in.PaginationToken)
		}
		out := &rgta.GetResourcesOutput{ResourceTagMappingList: []rgtatypes.ResourceTagMapping{
			mapping("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/p"+strconv.Itoa(n)+"/1", "Env", "production", "Team", "a"),
			mapping("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/s"+strconv.Itoa(n)+"/1", "Env", "staging", "Team", "a"),
			mapping("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/n"+strconv.Itoa(n)+"/1", "Env", "production"),
		}}
		if n < 2 {
			out.PaginationToken = aws.String(strconv.Itoa(n + 1))
		}
		return out, nil
	}}
	search := []resource.SearchTag{
		{Key: "Env", Value: regexp.MustCompile("prod")},
		{Key: "Team", Value: regexp.MustCompile(".*")},
	}
	got, calls, err := tagging.GetResources(t.Context(), api, svc, search)
	require.NoError(t, err)
	require.Equal(t, 3, calls)
	var arns []string
	for _, r := range got {
		arns = append(arns, r.ARN)
	}
	require.Equal(t, []string{
		"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/p0/1",
		"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/p1/1",
		"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/p2/1",
	}, arns)
	require.Equal(t, []string{"elasticloadbalancing:loadbalancer/app", "elasticloadbalancing:targetgroup"}, seen[0].ResourceTypeFilters)
	require.Len(t, seen[0].TagFilters, 2)
	require.Equal(t, "Env", aws.ToString(seen[0].TagFilters[0].Key))
	require.Empty(t, seen[0].TagFilters[0].Values, "values are matched as regular expressions here, not sent")
	require.Equal(t, int32(100), aws.ToInt32(seen[0].ResourcesPerPage))
}

func TestGetResourcesStopsOnARepeatedToken(t *testing.T) {
	t.Parallel()
	svc, _ := resource.LookupService("AWS/EC2")
	api := &fakeTagging{page: func(*rgta.GetResourcesInput) (*rgta.GetResourcesOutput, error) {
		return &rgta.GetResourcesOutput{PaginationToken: aws.String("same")}, nil
	}}
	_, calls, err := tagging.GetResources(t.Context(), api, svc, nil)
	require.NoError(t, err)
	require.Equal(t, 2, calls)
}

func TestGetResourcesErrorNamesTheService(t *testing.T) {
	t.Parallel()
	svc, _ := resource.LookupService("AWS/RDS")
	api := &fakeTagging{page: func(*rgta.GetResourcesInput) (*rgta.GetResourcesOutput, error) {
		return nil, errors.New("ThrottlingException: Rate exceeded")
	}}
	_, calls, err := tagging.GetResources(t.Context(), api, svc, nil)
	require.ErrorContains(t, err, "get tagged resources of AWS/RDS (rds:db,rds:cluster,rds:db-proxy): ThrottlingException")
	require.Equal(t, 1, calls)
}

func TestCacheReusesWithinTTL(t *testing.T) {
	t.Parallel()
	svc, _ := resource.LookupService("AWS/EC2")
	api := &fakeTagging{page: func(*rgta.GetResourcesInput) (*rgta.GetResourcesOutput, error) {
		return &rgta.GetResourcesOutput{ResourceTagMappingList: []rgtatypes.ResourceTagMapping{mapping("arn:aws:ec2:us-east-1:1:instance/i-1", "Env", "prod")}}, nil
	}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := tagging.NewCache(time.Hour, func() time.Time { return now })
	prod := []resource.SearchTag{{Key: "Env", Value: regexp.MustCompile("^prod$")}}
	for i, tt := range []struct {
		target    string
		search    []resource.SearchTag
		advance   time.Duration
		wantCalls int
	}{
		{"acct/us-east-1", prod, 0, 1},
		{"acct/us-east-1", prod, 59 * time.Minute, 0},
		{"acct/eu-west-1", prod, 0, 1}, // another region is another listing
		{"acct/us-east-1", nil, 0, 1},  // other search tags too
		{"acct/us-east-1", prod, time.Minute, 1},
	} {
		now = now.Add(tt.advance)
		got, calls, err := c.Resources(t.Context(), tt.target, tagging.Clients{Resources: api}, svc, tt.search)
		require.NoError(t, err)
		require.Equal(t, tagging.Calls{GetResources: tt.wantCalls}, calls, "step %d", i)
		require.Len(t, got, 1)
	}
}
