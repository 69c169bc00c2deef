package tagging_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgtatypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/resource"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// fakeRestAPIs serves GetRestApis from pages of (id, name) pairs; it is a
// fake for paging, which moto does not do.
type fakeRestAPIs struct {
	pages [][][2]string
	calls int
	err   error
}

func (f *fakeRestAPIs) GetRestApis(_ context.Context, in *apigateway.GetRestApisInput, _ ...func(*apigateway.Options)) (*apigateway.GetRestApisOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	i := 0
	if in.Position != nil {
		i = int(aws.ToString(in.Position)[0] - '0')
	}
	out := &apigateway.GetRestApisOutput{}
	for _, a := range f.pages[i] {
		out.Items = append(out.Items, agtypes.RestApi{Id: aws.String(a[0]), Name: aws.String(a[1])})
	}
	if i+1 < len(f.pages) {
		out.Position = aws.String(string(rune('0' + i + 1)))
	}
	return out, nil
}

const gw = "arn:aws:apigateway:us-east-1::"

// TestNameRestAPIs: REST APIs (v1) are renamed from ID to name across
// GetRestApis' pages, as YACE does, so their ApiName metrics find them;
// v2 APIs stay; stages, routes and REST APIs that no longer exist go.
func TestNameRestAPIs(t *testing.T) {
	t.Parallel()
	in := []resource.Resource{
		{ARN: gw + "/restapis/a1b2c3", Tags: []resource.Tag{{Key: "Team", Value: "orders"}}},
		{ARN: gw + "/restapis/a1b2c3/stages/prod"},
		{ARN: gw + "/restapis/zz9"},
		{ARN: gw + "/restapis/gone"},
		{ARN: gw + "/apis/h77"},
		{ARN: gw + "/apis/h77/stages/$default"},
		{ARN: gw + "/apis/h77/routes/r1"},
	}
	api := &fakeRestAPIs{pages: [][][2]string{{{"a1b2c3", "orders-api"}}, {{"zz9", "billing"}, {"other", "x"}}}}
	out, calls, err := tagging.NameRestAPIs(t.Context(), api, in)
	require.NoError(t, err)
	require.Equal(t, 2, calls, "every page")
	require.Equal(t, []resource.Resource{
		{ARN: gw + "/apis/h77"},
		{ARN: gw + "/restapis/orders-api", Tags: []resource.Tag{{Key: "Team", Value: "orders"}}},
		{ARN: gw + "/restapis/billing"},
	}, out)
	require.Equal(t, gw+"/restapis/a1b2c3", in[0].ARN, "the input is not changed")

	svc, _ := resource.LookupService("apigateway")
	i, skip := tagging.NewAssociator(svc, out).Associate(dims("ApiName", "orders-api", "Stage", "prod"))
	require.False(t, skip)
	require.Equal(t, 1, i, "a stage's metric belongs to its REST API, found by name")

	// Only v2 APIs: no GetRestApis call.
	api = &fakeRestAPIs{err: errors.New("not called")}
	out, calls, err = tagging.NameRestAPIs(t.Context(), api, in[4:5])
	require.NoError(t, err)
	require.Zero(t, calls)
	require.Len(t, out, 1)
	api = &fakeRestAPIs{err: errors.New("AccessDeniedException: apigateway:GET")}
	_, _, err = tagging.NameRestAPIs(t.Context(), api, in[:1])
	require.ErrorContains(t, err, "get REST APIs (to name them as their metrics do): AccessDeniedException")
}

// TestCacheNamesRestAPIs: an API Gateway job's resources are renamed once
// per listing and cached with it.
func TestCacheNamesRestAPIs(t *testing.T) {
	t.Parallel()
	svc, _ := resource.LookupService("AWS/ApiGateway")
	tags := &fakeTagging{page: func(*rgta.GetResourcesInput) (*rgta.GetResourcesOutput, error) {
		return &rgta.GetResourcesOutput{ResourceTagMappingList: []rgtatypes.ResourceTagMapping{mapping(gw+"/restapis/a1b2c3", "Env", "prod")}}, nil
	}}
	rest := &fakeRestAPIs{pages: [][][2]string{{{"a1b2c3", "orders-api"}}}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := tagging.NewCache(time.Hour, func() time.Time { return now })
	for i, want := range []tagging.Calls{{GetResources: 1, GetRestApis: 1}, {}} {
		got, calls, err := c.Resources(t.Context(), "acct", tagging.Clients{Resources: tags, RestAPIs: rest}, svc, nil)
		require.NoError(t, err)
		require.Equal(t, want, calls, "run %d", i)
		require.Equal(t, []resource.Resource{{ARN: gw + "/restapis/orders-api", Tags: []resource.Tag{{Key: "Env", Value: "prod"}}}}, got)
	}
	_, _, err := tagging.NewCache(0, time.Now).Resources(t.Context(), "acct", tagging.Clients{Resources: tags}, svc, nil)
	require.ErrorContains(t, err, "no API Gateway client")
}
