package collector

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// AWSConnector connects to CloudWatch in any region, with the function's
// own credentials or through an assumed role. Clients and role credentials
// are kept for the life of the process, so warm invocations reuse them.
type AWSConnector struct {
	base aws.Config

	mu       sync.Mutex
	targets  map[string]Target
	identity string
}

var _ Connector = (*AWSConnector)(nil)

// NewAWSConnector returns a connector built on base.
func NewAWSConnector(base aws.Config) *AWSConnector {
	return &AWSConnector{base: base, targets: map[string]Target{}}
}

// Connect returns the CloudWatch target for region, through roleARN if set.
func (a *AWSConnector) Connect(ctx context.Context, region, roleARN, externalID string) (Target, error) {
	key := region + "\x00" + roleARN + "\x00" + externalID
	a.mu.Lock()
	t, ok := a.targets[key]
	a.mu.Unlock()
	if ok {
		return t, nil
	}
	cfg := a.base.Copy()
	cfg.Region = region
	var account string
	if roleARN != "" {
		stsClient := sts.NewFromConfig(cfg)
		provider := stscreds.NewAssumeRoleProvider(stsClient, roleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "sigmawatch-collect"
			if externalID != "" {
				o.ExternalID = aws.String(externalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
		// Fail here, naming the role, rather than on the first CloudWatch call.
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return Target{}, fmt.Errorf("assume role %s: %w", roleARN, err)
		}
		account = accountOf(roleARN)
	} else {
		id, err := a.callerAccount(ctx)
		if err != nil {
			return Target{}, err
		}
		account = id
	}
	t = Target{
		API:       awsconf.CloudWatch(cfg),
		Tagging:   tagging.NewClient(cfg),
		RestAPIs:  tagging.NewRestAPIsClient(cfg),
		IAM:       tagging.NewIAMClient(cfg),
		Region:    region,
		AccountID: account,
		CacheKey:  region + "\x00" + account + "\x00" + roleARN + "\x00" + externalID,
	}
	a.mu.Lock()
	a.targets[key] = t
	a.mu.Unlock()
	return t, nil
}

// callerAccount is the account of the function's own credentials.
// sts:GetCallerIdentity needs no IAM permission.
func (a *AWSConnector) callerAccount(ctx context.Context) (string, error) {
	a.mu.Lock()
	id := a.identity
	a.mu.Unlock()
	if id != "" {
		return id, nil
	}
	out, err := sts.NewFromConfig(a.base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("get caller identity (for the account_id label): %w", err)
	}
	id = aws.ToString(out.Account)
	a.mu.Lock()
	a.identity = id
	a.mu.Unlock()
	return id, nil
}

// accountOf returns the account ID field of an ARN.
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}
