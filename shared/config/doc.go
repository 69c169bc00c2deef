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
// 16, and defaults.period 1m, length 5m, delay 10m. A metric's period, length
// and delay come from the metric, else its job, else defaults; after
// LoadCollect each Metric holds its effective values. In YAML an explicit zero
// ("delay: 0s") is kept as zero rather than inherited; in code a zero inherits.
//
// Decisions worth knowing:
//
//   - A job is either discovery (dimensions) or static, never both. A present
//     but empty "dimensions: []" selects the metrics without dimensions; a
//     static entry "{}" names the metric without dimensions.
//   - Statistics are the five simple ones, and the extended statistics
//     CloudWatch accepts: pNN[.N…] (0 < N <= 100, up to 10 decimals), tmNN,
//     wmNN, tcNN, tsNN, IQM, TM(a%:b%), WM(a%:b%), TC(a%:b%), TS(a%:b%) and
//     PR(a:b), with either bound optional. Case matters, as in CloudWatch.
//   - A period is 1s, 5s, 10s, 20s, 30s or a multiple of 60s. A length must be
//     at least the period and a multiple of it, and at most max_catch_up.
//     A length shorter than the interval is allowed: the collector catches up
//     from its stored progress, so only a first run would leave a gap.
//   - Job names are a label value, an item of the comma-separated -jobs flag
//     and part of a scheduler input, so they are restricted to
//     [A-Za-z0-9_][A-Za-z0-9_.-]* (at most 128 characters).
//   - external_id needs role_arn; role_arn must be an IAM role ARN in any
//     partition; regions must look like AWS regions (us-east-1, us-gov-west-1).
//
// Duration is the Prometheus duration syntax ("30s", "5m", "1d", "1w") and is
// shared with the rules file.
package config
