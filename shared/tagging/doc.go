// Package tagging calls the AWS APIs service jobs need besides CloudWatch:
// the Resource Groups Tagging API's GetResources, which lists a service's
// tagged resources (the resource types of resource.Service, all pages) and
// keeps those that pass every search tag, and IAM's ListAccountAliases for
// the account_alias label. Cache keeps GetResources results across warm
// invocations for the discovery TTL: the Tagging API is free but
// rate-limited.
package tagging
