package tagging

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// AliasAPI is the IAM operation that names an account.
type AliasAPI interface {
	ListAccountAliases(ctx context.Context, in *iam.ListAccountAliasesInput, optFns ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error)
}

var _ AliasAPI = (*iam.Client)(nil)

// AccountAlias returns the account's alias for the account_alias label, or
// "" when it has none. An account has at most one alias.
func AccountAlias(ctx context.Context, api AliasAPI) (string, error) {
	out, err := api.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	if err != nil {
		return "", fmt.Errorf("list account aliases (for the account_alias label): %w", err)
	}
	if len(out.AccountAliases) == 0 {
		return "", nil
	}
	return out.AccountAliases[0], nil
}
