package tagging

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgtaschemas "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// NewClient returns a Resource Groups Tagging API client for cfg (service
// jobs' GetResources). It lives here rather than in awsconf so that only
// the collect function links the Tagging API and IAM.
//
// Like CloudWatch, the SDK speaks Smithy RPC v2 CBOR to the Tagging API,
// which moto does not understand; with an endpoint override the client falls
// back to AWS JSON 1.1, which every Tagging API endpoint accepts.
func NewClient(cfg aws.Config, optFns ...func(*rgta.Options)) *rgta.Client {
	return rgta.NewFromConfig(cfg, append([]func(*rgta.Options){jsonProtocolForCustomEndpoint}, optFns...)...)
}

func jsonProtocolForCustomEndpoint(o *rgta.Options) {
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		o.Protocol = awsjson.New11(rgtaschemas.ResourceGroupsTaggingAPI_20170126)
	}
}

// NewIAMClient returns an IAM client for cfg (the account alias).
func NewIAMClient(cfg aws.Config, optFns ...func(*iam.Options)) *iam.Client {
	return iam.NewFromConfig(cfg, optFns...)
}
