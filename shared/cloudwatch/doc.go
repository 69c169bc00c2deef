// Package cloudwatch turns CloudWatch into plain data for the collector:
// discovery with ListMetrics (all pages, de-duplicated, exact dimension-set
// match, recently active metrics only), the window maths derived from the
// scheduled time (Timing: which whole periods a run fetches, after which
// coverage, and what it gives up), and GetMetricData in calls of at most 500
// queries with NextToken paging, bounded concurrency and a stop time.
//
// SDK types stop at this package's edge: callers see Metric, Query and Point.
// The consumer declares the two SDK operations it calls with their SDK
// signatures (awscw.ListMetricsAPIClient, awscw.GetMetricDataAPIClient), so the
// SDK paginators accept a fake for what moto cannot show (paging, percentiles,
// throttling, PartialData).
package cloudwatch
