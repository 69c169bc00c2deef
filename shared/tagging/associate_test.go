package tagging_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/resource"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

func dims(kv ...string) []cloudwatch.Dimension {
	var out []cloudwatch.Dimension
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, cloudwatch.Dimension{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

const (
	acct   = "123456789012"
	albARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
	tgARN  = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067"
)

// TestAssociate checks, per service, which resource a metric's dimensions
// select: the ARN patterns, the most-dimensions-first rule, global metrics
// and metrics skipped because their resource is not among the tagged ones.
func TestAssociate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		service   string
		resources []string
		dims      []cloudwatch.Dimension
		want      string // resource ARN, "global", or "skip"
	}{
		{"ec2 instance", "AWS/EC2", []string{"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"}, dims("InstanceId", "i-0abc"), "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"},
		{"ec2 other instance skipped", "AWS/EC2", []string{"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"}, dims("InstanceId", "i-0def"), "skip"},
		{"ec2 by autoscaling group is global", "AWS/EC2", []string{"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"}, dims("AutoScalingGroupName", "asg"), "global"},
		{"ec2 without dimensions is global", "AWS/EC2", []string{"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"}, nil, "global"},
		{"ec2 instance with extra dimension", "AWS/EC2", []string{"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"}, dims("InstanceId", "i-0abc", "ImageId", "ami-1"), "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"},
		{"rds instance", "AWS/RDS", []string{"arn:aws:rds:eu-west-1:123456789012:db:orders", "arn:aws:rds:eu-west-1:123456789012:cluster:orders-cluster"}, dims("DBInstanceIdentifier", "orders"), "arn:aws:rds:eu-west-1:123456789012:db:orders"},
		{"rds cluster", "AWS/RDS", []string{"arn:aws:rds:eu-west-1:123456789012:db:orders", "arn:aws:rds:eu-west-1:123456789012:cluster:orders-cluster"}, dims("DBClusterIdentifier", "orders-cluster", "Role", "WRITER"), "arn:aws:rds:eu-west-1:123456789012:cluster:orders-cluster"},
		{"rds engine is global", "AWS/RDS", []string{"arn:aws:rds:eu-west-1:123456789012:db:orders"}, dims("EngineName", "postgres"), "global"},
		{"alb load balancer", "AWS/ApplicationELB", []string{albARN, tgARN}, dims("LoadBalancer", "app/web/50dc6c495c0c9188"), albARN},
		{"alb target group wins over its load balancer", "AWS/ApplicationELB", []string{albARN, tgARN}, dims("LoadBalancer", "app/web/50dc6c495c0c9188", "TargetGroup", "targetgroup/web-tg/73e2d6bc24d8a067"), tgARN},
		{"alb untagged target group falls back to the load balancer", "AWS/ApplicationELB", []string{albARN}, dims("LoadBalancer", "app/web/50dc6c495c0c9188", "TargetGroup", "targetgroup/other/1"), albARN},
		{"alb other load balancer skipped", "AWS/ApplicationELB", []string{albARN}, dims("LoadBalancer", "app/other/1"), "skip"},
		{"alb availability zone with load balancer", "AWS/ApplicationELB", []string{albARN}, dims("AvailabilityZone", "us-east-1a", "LoadBalancer", "app/web/50dc6c495c0c9188"), albARN},
		{"nlb", "AWS/NetworkELB", []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/edge/1f2e"}, dims("LoadBalancer", "net/edge/1f2e"), "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/edge/1f2e"},
		{"classic elb", "AWS/ELB", []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/legacy"}, dims("LoadBalancerName", "legacy"), "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/legacy"},
		{"lambda", "AWS/Lambda", []string{"arn:aws:lambda:us-east-1:123456789012:function:resize"}, dims("FunctionName", "resize", "Resource", "resize"), "arn:aws:lambda:us-east-1:123456789012:function:resize"},
		{"sqs", "AWS/SQS", []string{"arn:aws:sqs:us-east-1:123456789012:jobs"}, dims("QueueName", "jobs"), "arn:aws:sqs:us-east-1:123456789012:jobs"},
		{"sns", "AWS/SNS", []string{"arn:aws:sns:us-east-1:123456789012:alerts"}, dims("TopicName", "alerts"), "arn:aws:sns:us-east-1:123456789012:alerts"},
		{"dynamodb", "AWS/DynamoDB", []string{"arn:aws:dynamodb:us-east-1:123456789012:table/users"}, dims("TableName", "users", "Operation", "GetItem"), "arn:aws:dynamodb:us-east-1:123456789012:table/users"},
		{"s3", "AWS/S3", []string{"arn:aws:s3:::logs-bucket"}, dims("BucketName", "logs-bucket", "StorageType", "StandardStorage"), "arn:aws:s3:::logs-bucket"},
		{"api gateway v2", "AWS/ApiGateway", []string{"arn:aws:apigateway:us-east-1::/apis/a1b2c3"}, dims("ApiId", "a1b2c3", "Stage", "prod"), "arn:aws:apigateway:us-east-1::/apis/a1b2c3"},
		{"ecs service", "AWS/ECS", []string{"arn:aws:ecs:us-east-1:123456789012:cluster/main", "arn:aws:ecs:us-east-1:123456789012:service/main/api"}, dims("ClusterName", "main", "ServiceName", "api"), "arn:aws:ecs:us-east-1:123456789012:service/main/api"},
		{"ecs cluster", "AWS/ECS", []string{"arn:aws:ecs:us-east-1:123456789012:cluster/main", "arn:aws:ecs:us-east-1:123456789012:service/main/api"}, dims("ClusterName", "main"), "arn:aws:ecs:us-east-1:123456789012:cluster/main"},
		{"elasticache", "AWS/ElastiCache", []string{"arn:aws:elasticache:us-east-1:123456789012:cluster:sessions-001"}, dims("CacheClusterId", "sessions-001", "CacheNodeId", "0001"), "arn:aws:elasticache:us-east-1:123456789012:cluster:sessions-001"},
		{"kinesis", "AWS/Kinesis", []string{"arn:aws:kinesis:us-east-1:123456789012:stream/clicks"}, dims("StreamName", "clicks"), "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"},
		{"cloudfront", "AWS/CloudFront", []string{"arn:aws:cloudfront::123456789012:distribution/E2QWRUHEXAMPLE"}, dims("DistributionId", "E2QWRUHEXAMPLE", "Region", "Global"), "arn:aws:cloudfront::123456789012:distribution/E2QWRUHEXAMPLE"},
		{"ebs", "AWS/EBS", []string{"arn:aws:ec2:us-east-1:123456789012:volume/vol-0a1"}, dims("VolumeId", "vol-0a1"), "arn:aws:ec2:us-east-1:123456789012:volume/vol-0a1"},
		{"nat gateway", "AWS/NATGateway", []string{"arn:aws:ec2:us-east-1:123456789012:natgateway/nat-0a1"}, dims("NatGatewayId", "nat-0a1"), "arn:aws:ec2:us-east-1:123456789012:natgateway/nat-0a1"},
		{"step functions", "AWS/States", []string{"arn:aws:states:us-east-1:123456789012:stateMachine:orders"}, dims("StateMachineArn", "arn:aws:states:us-east-1:123456789012:stateMachine:orders"), "arn:aws:states:us-east-1:123456789012:stateMachine:orders"},
		{"alias selects the service", "ec2", []string{"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"}, dims("InstanceId", "i-0abc"), "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, ok := resource.LookupService(tt.service)
			require.True(t, ok, tt.service)
			res := make([]resource.Resource, len(tt.resources))
			for i, arn := range tt.resources {
				res[i] = resource.Resource{ARN: arn}
			}
			r, skip := tagging.NewAssociator(svc, res).Associate(tt.dims)
			got := resource.GlobalName
			switch {
			case skip:
				require.Equal(t, -1, r)
				got = "skip"
			case r >= 0:
				got = res[r].ARN
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// TestSelectWithoutResourcesCollectsNothing: when search_tags leave no
// resource, YACE collects nothing for the job and region (not every metric
// as "global").
func TestSelectWithoutResourcesCollectsNothing(t *testing.T) {
	t.Parallel()
	svc, _ := resource.LookupService("AWS/EC2")
	metrics := []cloudwatch.Metric{cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", dims("InstanceId", "i-1")), cloudwatch.NewMetric("AWS/EC2", "CPUUtilization", nil)}
	require.Empty(t, tagging.Select(svc, nil, metrics))
	got := tagging.Select(svc, []resource.Resource{{ARN: "arn:aws:ec2:us-east-1:" + acct + ":instance/i-1"}}, metrics)
	require.Equal(t, []tagging.Selected{{Metric: 0, Resource: 0}, {Metric: 1, Resource: -1}}, got)
}

func TestServiceTypesResolve(t *testing.T) {
	t.Parallel()
	for _, typ := range resource.ServiceTypes() {
		svc, ok := resource.LookupService(typ)
		require.True(t, ok, typ)
		require.NotEmpty(t, svc.ResourceTypes, typ)
		require.NotEmpty(t, svc.Alias, typ)
	}
	_, ok := resource.LookupService("AWS/Nope")
	require.False(t, ok)
}
