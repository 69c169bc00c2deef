// Package resource holds what service jobs know about AWS resources, with
// no AWS SDK in it (the config and both functions import it): which
// namespaces service jobs support, and how YACE (yet-another-cloudwatch-
// exporter) ties a resource to its metrics and labels them, so dashboards
// and rules written against YACE keep working.
//
//   - Service is a namespace with YACE's resource types for the Tagging API
//     and its ARN patterns; LookupService accepts the namespace or YACE's
//     alias.
//   - Resource, Tag and SearchTag (Matches) are a tagged resource and the
//     search_tags filter; the association of metrics to resources, which
//     needs CloudWatch's types, is tagging.Associator.
//   - MetricLabels gives a metric name = the resource ARN ("global" when it
//     belongs to no resource) and tag_<Key> for each exported tag;
//     InfoLabels gives the aws_<service>_info series of a resource (value 0)
//     every tag. Label names follow YACE's sanitising (naming.Label), with or
//     without its snake-casing.
//
// # Where sigmawatch differs from YACE
//
// A tag whose value is empty gets no label (YACE exports an empty label,
// which Prometheus stores as no label at all). A tag key with characters a
// classic label name cannot hold gets "_" for each of them, as a Prometheus 2
// scrape of YACE shows it. API Gateway: as YACE does, REST APIs (v1) are
// renamed from ID to name (GetRestApis, tagging.NameRestAPIs) and only APIs
// are kept, not their stages or routes; YACE also keeps only the HTTP and
// WebSocket APIs (v2) that the first page of apigatewayv2's GetApis lists,
// where sigmawatch keeps every one the Tagging API lists (no second client
// for a check that only matters while the Tagging API lags a deletion).
package resource
