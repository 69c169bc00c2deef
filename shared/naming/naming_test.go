package naming

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// The golden names follow YACE 0.63's pkg/promutil (BuildMetricName over
// PromString). Older YACE releases split words differently (5xxerror rather
// than 5_xxerror) and trimmed namespace words differently; dashboards built
// on those need the newer names. The edge cases at the end were recorded by
// running YACE 0.63's naming functions, built from its source outside this
// repository.
func TestMetricNameGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		namespace, metric, statistic string
		want                         string
	}{
		{"AWS/EC2", "CPUUtilization", "Average", "aws_ec2_cpuutilization_average"},
		{"AWS/EC2", "CPUUtilization", "Maximum", "aws_ec2_cpuutilization_maximum"},
		{"AWS/EC2", "NetworkIn", "Sum", "aws_ec2_network_in_sum"},
		{"AWS/EC2", "StatusCheckFailed_System", "Maximum", "aws_ec2_status_check_failed_system_maximum"},
		{"AWS/EC2", "EBSReadOps", "Sum", "aws_ec2_ebsread_ops_sum"},
		{"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", "aws_applicationelb_httpcode_target_5_xx_count_sum"},
		{"AWS/ApplicationELB", "TargetResponseTime", "p99", "aws_applicationelb_target_response_time_p99"},
		{"AWS/ApplicationELB", "RequestCount", "SampleCount", "aws_applicationelb_request_count_sample_count"},
		{"AWS/ELB", "HTTPCode_Backend_2XX", "Sum", "aws_elb_httpcode_backend_2_xx_sum"},
		{"AWS/RDS", "FreeStorageSpace", "Minimum", "aws_rds_free_storage_space_minimum"},
		{"AWS/RDS", "ReadIOPS", "Average", "aws_rds_read_iops_average"},
		{"AWS/Lambda", "Duration", "p99.9", "aws_lambda_duration_p99_9"},
		{"AWS/Lambda", "Duration", "TM(10%:90%)", "aws_lambda_duration_tm_10_percent_90_percent_"},
		{"AWS/Lambda", "ConcurrentExecutions", "Maximum", "aws_lambda_concurrent_executions_maximum"},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Average", "aws_sqs_approximate_number_of_messages_visible_average"},
		{"AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", "aws_sqs_approximate_age_of_oldest_message_maximum"},
		{"AWS/DynamoDB", "ConsumedReadCapacityUnits", "Sum", "aws_dynamodb_consumed_read_capacity_units_sum"},
		{"AWS/ElastiCache", "FreeableMemory", "Average", "aws_elasticache_freeable_memory_average"},
		{"AWS/ElastiCache", "CPUUtilization", "Average", "aws_elasticache_cpuutilization_average"},
		{"AWS/S3", "5xxErrors", "Sum", "aws_s3_5xx_errors_sum"},
		{"AWS/S3", "BucketSizeBytes", "Average", "aws_s3_bucket_size_bytes_average"},
		{"AWS/ApiGateway", "5XXError", "Sum", "aws_apigateway_5_xxerror_sum"},
		{"AWS/NATGateway", "ErrorPortAllocation", "Sum", "aws_natgateway_error_port_allocation_sum"},
		{"AWS/Firehose", "DeliveryToS3.Bytes", "Sum", "aws_firehose_delivery_to_s3_bytes_sum"},
		{"AWS/Route53", "HealthCheckStatus", "Minimum", "aws_route53_health_check_status_minimum"},
		{"AWS/EBS", "VolumeReadBytes", "Sum", "aws_ebs_volume_read_bytes_sum"},
		// Names that repeat a namespace word lose it.
		{"AWS/Kafka", "KafkaDataLogsDiskUsed", "Average", "aws_kafka_data_logs_disk_used_average"},
		{"Glue", "glue.driver.aggregate.bytesRead", "Sum", "aws_glue_driver_aggregate_bytes_read_sum"},
		{"AWS/ES", "ESReportingFailedRequestUserErrors", "Sum", "aws_es_reporting_failed_request_user_errors_sum"},
		{"MyApp/Orders", "OrdersPlaced", "Sum", "aws_myapp_orders_placed_sum"},
		{"MyApp/Orders", "OrdersPlaced", "p99", "aws_myapp_orders_placed_p99"},
		// Leading slash, and a namespace already starting with "aws".
		{"/aws/sagemaker/Endpoints", "CPUUtilization", "Average", "aws_sagemaker_endpoints_cpuutilization_average"},
		{"/aws/sagemaker/TrainingJobs", "info", "", "aws_sagemaker_trainingjobs_info"},
		// Custom namespaces, dashes, colons, spaces and percent signs.
		{"ContainerInsights", "pod_cpu_utilization", "Average", "aws_containerinsights_pod_cpu_utilization_average"},
		{"CWAgent", "LogicalDisk % Free Space", "Average", "aws_cwagent_logical_disk__percent_free_space_average"},
		{"CWAgent", "disk_used_percent", "Maximum", "aws_cwagent_disk_used_percent_maximum"},
		{"My-Service/Api", "request-count", "Sum", "aws_my_service_api_request_count_sum"},
		{"MyApp/Cache", "hits:total", "SampleCount", "aws_myapp_cache_hits_total_sample_count"},
		// Beyond YACE's separator list: replaced so the name stays valid.
		{"MyApp/Cache", "hits#total", "Sum", "aws_myapp_cache_hits_total_sum"},
		// YACE skips the length of the last namespace word that matched at
		// the current skip, not a running total: a second matching word
		// does not extend the cut, and an empty word (two separators in a
		// row, a leading separator) resets it to zero.
		{"AWS/EC2", "AWSEC2Thing", "Sum", "aws_ec2_ec2_thing_sum"},
		{"AWS/EC2", "AWS_EC2_X", "Sum", "aws_ec2_ec2_x_sum"},
		{"AWS/Usage", "AWSUsageCount", "Sum", "aws_usage_age_count_sum"},
		{"App - Prod", "AppLatency", "Average", "aws_app___prod_app_latency_average"},
		{"App//Prod", "ProdLatency", "Sum", "aws_app__prod_latency_sum"},
		{"App/App", "AppApp", "Sum", "aws_app_app_app_sum"},
		{"AA/A", "AAAB", "Sum", "aws_aa_a_aab_sum"},
		{"Custom/Orders", "CustomOrdersOrders", "Sum", "aws_custom_orders_orders_orders_sum"},
		{"AWS/RDS", "RDSToAuroraPostgreSQLReplicaLag", "Maximum", "aws_rds_to_aurora_postgre_sqlreplica_lag_maximum"},
		{"/aws/sagemaker/TrainingJobs", "TrainingJobsCount", "Sum", "aws_sagemaker_trainingjobs_training_jobs_count_sum"},
		// Only one leading "/" is dropped; any other leading separator stays.
		{"_internal", "InternalErrors", "Sum", "aws__internal_errors_sum"},
		{"//double", "DoubleHits", "Sum", "aws__double_hits_sum"},
		{"-lead", "leadTime", "Sum", "aws__lead_time_sum"},
		{" ", "SpaceFirst", "Sum", "aws___space_first_sum"},
		{"%Pct", "PctUsed", "Average", "aws__percentpct_pct_used_average"},
		{"", "Orphan", "Sum", "aws__orphan_sum"},
		{"AWS/EC2", "EC2", "", "aws_ec2_"},
	}
	for _, tt := range tests {
		t.Run(tt.namespace+"/"+tt.metric+"/"+tt.statistic, func(t *testing.T) {
			t.Parallel()
			got := MetricName(tt.namespace, tt.metric, tt.statistic)
			require.Equal(t, tt.want, got)
			require.True(t, ValidMetricName(got))
		})
	}
}

func TestDimensionLabel(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"InstanceId", "dimension_InstanceId"},
		{"LoadBalancer", "dimension_LoadBalancer"},
		{"AutoScalingGroupName", "dimension_AutoScalingGroupName"},
		{"DBInstanceIdentifier", "dimension_DBInstanceIdentifier"},
		{"Service", "dimension_Service"},
		{"Status.Check.Failed_Instance", "dimension_Status_Check_Failed_Instance"},
		{"IHaveA%Sign", "dimension_IHaveA_percentSign"},
		{"kubernetes.io/cluster-name", "dimension_kubernetes_io_cluster_name"},
		{"5xx", "dimension_5xx"},
		{"héllo#1", "dimension_h_llo_1"},
		{"", "dimension_"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got := DimensionLabel(tt.in)
			require.Equal(t, tt.want, got)
			require.True(t, ValidLabelName(got))
		})
	}
}

func TestSanitizeAndValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want             string
		validLabel, validMet bool
	}{
		{in: "job", want: "job", validLabel: true, validMet: true},
		{in: "account_id", want: "account_id", validLabel: true, validMet: true},
		{in: "__name__", want: "__name__", validLabel: true, validMet: true},
		{in: "a:b", want: "a_b", validLabel: false, validMet: true},
		{in: "9lives", want: "_9lives", validLabel: false, validMet: false},
		{in: "", want: "_", validLabel: false, validMet: false},
		{in: "a-b.c", want: "a_b_c", validLabel: false, validMet: false},
		{in: "50%", want: "_50_percent", validLabel: false, validMet: false},
		{in: "日本", want: "__", validLabel: false, validMet: false},
		{in: "\xff", want: "_", validLabel: false, validMet: false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, SanitizeLabelName(tt.in))
			require.Equal(t, tt.validLabel, ValidLabelName(tt.in))
			require.Equal(t, tt.validMet, ValidMetricName(tt.in))
		})
	}
}

// FuzzSanitize checks that every output is a valid name and that sanitising
// is idempotent on valid names. Seeds live in testdata/fuzz/FuzzSanitize.
func FuzzSanitize(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		out := SanitizeLabelName(s)
		require.True(t, ValidLabelName(out), "%q -> %q", s, out)
		require.Equal(t, out, SanitizeLabelName(out), "valid names pass unchanged")
		if ValidLabelName(s) {
			require.Equal(t, s, out)
		}
		require.LessOrEqual(t, utf8.RuneCountInString(out), 8*len(s)+1)
		require.True(t, ValidLabelName(DimensionLabel(s)))
		name := MetricName(s, s, s)
		require.True(t, ValidMetricName(name), "%q -> %q", s, name)
		require.True(t, strings.HasPrefix(name, "aws"))
	})
}

func BenchmarkMetricName(b *testing.B) {
	for b.Loop() {
		_ = MetricName("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "p99.9")
	}
}
