package tagging

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/sigmawatch/sigmawatch/shared/resource"
)

// RestAPIsAPI is API Gateway's GetRestApis, which names REST APIs (v1).
type RestAPIsAPI interface {
	apigateway.GetRestApisAPIClient
}

var _ RestAPIsAPI = (*apigateway.Client)(nil)

// restAPIsPerPage is GetRestApis' largest page.
const restAPIsPerPage = 500

// NewRestAPIsClient returns an API Gateway client for cfg (GetRestApis).
func NewRestAPIsClient(cfg aws.Config, optFns ...func(*apigateway.Options)) *apigateway.Client {
	return apigateway.NewFromConfig(cfg, optFns...)
}

// NameRestAPIs does to API Gateway's tagged resources what YACE does before
// it associates metrics with them. A REST API's (v1) ARN ends in
// /restapis/<id>, but its metrics carry its name (ApiName): the ARN is
// rewritten to end in /restapis/<name>, which becomes the name label. An
// HTTP or WebSocket API (v2, /apis/<id>) stays as it is; metrics carry its
// ID. Everything else (stages, routes, a REST API GetRestApis does not
// know) is left out, so a stage's metrics belong to its API. GetRestApis is
// called only when there is a REST API to name; calls counts its pages.
func NameRestAPIs(ctx context.Context, api RestAPIsAPI, resources []resource.Resource) (out []resource.Resource, calls int, err error) {
	var rest []int
	for i := range resources {
		switch _, id := restAPIID(resources[i].ARN); {
		case id != "":
			rest = append(rest, i)
		case isV2API(resources[i].ARN):
			out = append(out, resources[i])
		}
	}
	if len(rest) == 0 {
		return out, 0, nil
	}
	names := map[string]string{}
	p := apigateway.NewGetRestApisPaginator(api, &apigateway.GetRestApisInput{Limit: aws.Int32(restAPIsPerPage)},
		func(o *apigateway.GetRestApisPaginatorOptions) { o.StopOnDuplicateToken = true })
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		calls++
		if err != nil {
			return nil, calls, fmt.Errorf("get REST APIs (to name them as their metrics do): %w", err)
		}
		for _, a := range page.Items {
			names[aws.ToString(a.Id)] = aws.ToString(a.Name)
		}
	}
	for _, i := range rest {
		prefix, id := restAPIID(resources[i].ARN)
		name, ok := names[id]
		if !ok || name == "" {
			continue // deleted since the Tagging API listed it
		}
		r := resources[i]
		r.ARN = prefix + name
		out = append(out, r)
	}
	return out, calls, nil
}

// restAPIID splits a REST API's ARN (…/restapis/<id>) into the part up to
// the ID and the ID; id is empty for any other ARN (a stage's included).
func restAPIID(arn string) (prefix, id string) {
	i := strings.LastIndex(arn, "/restapis/")
	if i < 0 || strings.Contains(arn[i+len("/restapis/"):], "/") {
		return "", ""
	}
	return arn[:i+len("/restapis/")], arn[i+len("/restapis/"):]
}

// isV2API reports whether arn names an HTTP or WebSocket API (…/apis/<id>).
func isV2API(arn string) bool {
	i := strings.LastIndex(arn, "/apis/")
	return i >= 0 && len(arn) > i+len("/apis/") && !strings.Contains(arn[i+len("/apis/"):], "/")
}
