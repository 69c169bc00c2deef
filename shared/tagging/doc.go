// Package tagging calls the AWS APIs service jobs need besides CloudWatch:
// the Resource Groups Tagging API's GetResources, which lists a service's
// tagged resources (the resource types of resource.Service, all pages) and
// keeps those that pass every search tag, and IAM's ListAccountAliases for
// the account_alias label, and for API Gateway its GetRestApis, which names
// REST APIs as their metrics do (NameRestAPIs: the apigateway client adds
// about 200 KB to the bootstrap and 0.1 ms to its start, and without it
// every REST API metric would be left out). Cache keeps the resources
// across warm invocations for the discovery TTL: the Tagging API is free
// but rate-limited.
//
// Associator maps a metric from ListMetrics to its resource by the dimension
// values the resource's ARN encodes (resource.Service's patterns, YACE's
// "most dimensions first" rule): a metric without dimensions, or one no
// pattern applies to, is "global"; one a pattern applies to but no resource
// matches is skipped. Select drops what YACE drops: every metric when no
// resource passed the search tags, and each metric of a resource that did
// not.
package tagging
