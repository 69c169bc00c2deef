// Package cloudwatch turns CloudWatch into plain data for the collector:
// discovery with ListMetrics (all pages, de-duplicated, exact dimension-set
// match), window maths derived from the scheduled time, and GetMetricData in
// calls of at most 500 queries with NextToken paging.
//
// SDK types stop at this package's edge: callers see Metric, Query and Point.
// The consumer declares the two SDK operations it calls with their SDK
// signatures (awscw.ListMetricsAPIClient, awscw.GetMetricDataAPIClient), so the
// SDK paginators accept a fake for what moto cannot show (paging, percentiles,
// throttling, PartialData).
package cloudwatch
