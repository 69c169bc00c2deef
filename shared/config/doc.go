// Package config loads sigmawatch's collect.yaml and reads its environment.
//
// # collect.yaml
//
// LoadCollect parses the file strictly: an unknown key is an error naming the
// key and its line, a second YAML document is an error, and Validate reports
// every problem at once (errors.Join), each with its path:
//
//	jobs[1].metrics[0].statistics[2]: unknown statistic "p1000" (…)
//
// Defaults: interval 5m, max_catch_up 45m, discovery_ttl 1h, progress_shards
// 16, cloudwatch_concurrency 5, and defaults.period 1m, length 5m, delay 10m,
// timestamp cloudwatch. A metric's period, length, delay and timestamp come
// from the metric, else its job, else defaults; after LoadCollect each Metric
// holds its effective values. In YAML an explicit zero ("delay: 0s") is kept
// as zero rather than inherited; in code a zero inherits.
//
// Decisions worth knowing:
//
//   - regions may be left out: the job collects in the function's own region
//     (DefaultRegions, from AWS_REGION at start). List them to collect
//     elsewhere or in several regions.
//   - receiver says what the store does with a request, because that decides
//     what the collector may send: kind prometheus (all or nothing, refuses
//     samples more than about an hour older than its newest), mimir (Mimir,
//     Cortex and Amazon Managed Service for Prometheus: series by series,
//     same age limit) or victoriametrics (any age); out_of_order_window is
//     the store's own setting. Left empty, the kind follows the remote-write
//     URL (an AMP workspace is mimir, anything else prometheus), and a kind
//     that contradicts an AMP URL is refused (ResolveReceiver).
//   - timestamp cloudwatch writes every datapoint at its CloudWatch time;
//     scheduled writes only the newest period's value, stamped at the
//     scheduled time, as YACE does without addCloudwatchTimestamp. A metric
//     whose period + delay + interval is older than the receiver accepts
//     (an hourly or daily metric into a stock Prometheus) is refused with
//     the three ways out: scheduled, a larger out_of_order_window, or a
//     receiver that takes old samples. scheduled trades exact timestamps for
//     reach: the value appears one period plus the delay late, once a period.
//   - Two metrics or statistics that make one series name (requestCount and
//     request_count), and dimension names that sanitise to one label
//     (Instance-Id and Instance_Id), are refused with their paths: a
//     receiver would take them for one series.
//   - A job is either discovery (dimensions) or static, never both. A present
//     but empty "dimensions: []" selects the metrics without dimensions; a
//     static entry "{}" names the metric without dimensions.
//   - Statistics are the five simple ones, and the extended statistics
//     CloudWatch accepts: pNN[.N…] (0 < N <= 100, up to 10 decimals), tmNN,
//     wmNN, tcNN, tsNN, IQM, TM(a%:b%), WM(a%:b%), TC(a%:b%), TS(a%:b%) and
//     PR(a:b), with either bound optional. Case matters, as in CloudWatch.
//   - A period is 1s, 5s, 10s, 20s, 30s or a multiple of 60s. A length must be
//     at least the period and a multiple of it, and at most max_catch_up
//     (or one period, when the period is longer than max_catch_up).
//     A length shorter than the interval is allowed: the collector catches up
//     from its stored progress, so only a first run would leave a gap.
//   - Job names are a label value, an item of the comma-separated -jobs flag
//     and part of a scheduler input, so they are restricted to
//     [A-Za-z0-9_][A-Za-z0-9_.-]* (at most 128 characters).
//   - external_id needs role_arn; role_arn must be an IAM role ARN in any
//     partition; regions must look like AWS regions (us-east-1, us-gov-west-1).
//   - cloudwatch_concurrency (1-50) is GetMetricData calls in flight per
//     (region, account): the default 5 stays well under CloudWatch's quota of
//     50 calls a second at the 0.5-2 s a call takes.
//
// Duration is the Prometheus duration syntax ("30s", "5m", "1d", "1w") and is
// shared with the rules file.
package config
