// Package naming turns CloudWatch namespaces, metric names, statistics and
// dimension names into Prometheus series and label names exactly as YACE
// (prometheus-community/yet-another-cloudwatch-exporter, pkg/promutil) does,
// so dashboards and alerts written for YACE work unchanged on sigmawatch data.
//
// The series name is aws_<namespace>_<metric>_<statistic>:
//
//   - one leading "/" is dropped (namespaces such as /aws/sagemaker/Endpoints);
//     the namespace is lower-cased, then every separator (space , tab / \
//     . - : = @ < > ( ) “) becomes "_" and "%" becomes "_percent" (so any
//     other leading separator stays: _internal → aws__internal), and "aws_"
//     is prepended unless the result already starts with "aws";
//   - the metric and the statistic are snake-cased: separators as above, and an
//     upper-case letter that follows a lower-case letter or a digit starts a new
//     word. Runs of capitals stay one word (CPUUtilization → cpuutilization,
//     HTTPCode_Target_5XX_Count → httpcode_target_5_xx_count, p99.9 → p99_9,
//     SampleCount → sample_count);
//   - the metric loses the namespace words it repeats at its front, then one
//     leading "_" (AWS/Kafka KafkaDataLogsDiskUsed → aws_kafka_data_logs_disk_used;
//     MyApp/Orders OrdersPlaced → aws_myapp_orders_placed), by YACE's rule with
//     its quirks: the words are tried in order at the current cut, and a match
//     moves the cut to that word's length, not past it, so AWS/EC2 AWSEC2Thing
//     is aws_ec2_ec2_thing, and an empty word (two separators in a row) resets
//     the cut, so "App - Prod" AppLatency is aws_app___prod_app_latency.
//
// Labels keep the dimension's case: dimension_<Name> with the same separators
// replaced (YACE's default, labelsSnakeCase off).
//
// Where YACE would emit an invalid name (a character outside its separator
// list, such as "#" or "é"), it logs and drops the label or fails the series;
// here the remaining invalid characters become "_" so every name is valid and
// no two dimensions collapse into one series by being dropped. For every
// input YACE accepts, the output is identical to YACE 0.63's (the golden
// table in naming_test.go was recorded with YACE's own naming functions);
// releases before 0.63 trimmed namespace words differently.
package naming
