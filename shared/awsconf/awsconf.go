// Package awsconf builds the AWS SDK configuration and service clients that both
// functions share, in one place, so that the local stand-ins work without
// special cases elsewhere.
//
// Credentials, region and endpoints come the standard SDK way (AWS_REGION,
// AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_CLOUDWATCH, the Lambda role, …).
package awsconf

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// Load reads the SDK's default configuration chain.
func Load(ctx context.Context, optFns ...func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// CloudWatch returns a CloudWatch client for cfg.
//
// The SDK speaks Smithy RPC v2 CBOR to CloudWatch since v1.75, which moto and
// other local stand-ins do not understand. When an endpoint override is
// configured (a stand-in, a VPC endpoint proxy, LocalStack), the client falls
// back to the AWS Query protocol that every CloudWatch endpoint still accepts.
func CloudWatch(cfg aws.Config, optFns ...func(*awscw.Options)) *awscw.Client {
	return awscw.NewFromConfig(cfg, append([]func(*awscw.Options){QueryProtocolForCustomEndpoint, patientRetries}, optFns...)...)
}

// patientRetries lets throttling and 5xx from CloudWatch be retried more
// often than the SDK's default of three attempts; the run's deadline (the
// Lambda timeout) still bounds the total wait.
func patientRetries(o *awscw.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 8
		so.MaxBackoff = 10 * time.Second
	})
}

// QueryProtocolForCustomEndpoint switches a CloudWatch client to the AWS Query
// protocol when its endpoint is overridden.
func QueryProtocolForCustomEndpoint(o *awscw.Options) {
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
	}
}
