package resource

import (
	"regexp"
	"slices"
	"strings"
)

// Service is a CloudWatch namespace whose metrics a service job discovers
// through the Resource Groups Tagging API: which resource types to ask for,
// and how a resource's ARN gives the dimension values its metrics carry.
type Service struct {
	// Namespace is the CloudWatch namespace, also the job's type.
	Namespace string
	// Alias is YACE's short name for the namespace ("ec2", "alb").
	Alias string
	// ResourceTypes are GetResources' ResourceTypeFilters, as YACE sends
	// them ("service" or "service:type", or "service:type/subtype", which the
	// API matches on the ARN's resource part).
	ResourceTypes []string
	// Region, when set, is the only region that publishes the namespace's
	// metrics (CloudFront: us-east-1).
	Region string
	// NamesRestAPIs: the resources' ARNs name REST APIs (v1) by ID, their
	// metrics by name, so, as YACE does, the REST APIs are renamed through
	// API Gateway's GetRestApis, and only APIs are kept (not their stages).
	NamesRestAPIs bool

	patterns []ARNPattern
}

// ARNPattern extracts dimension values from an ARN: each named group of Re
// is the dimension of the same index in Dims ("_" in a group name stands for
// a space in the dimension name, as in YACE's tables).
type ARNPattern struct {
	Re   *regexp.Regexp
	Dims []string
}

func pattern(expr string) ARNPattern {
	re := regexp.MustCompile(expr)
	names := re.SubexpNames()[1:]
	dims := make([]string, len(names))
	for i, n := range names {
		dims[i] = strings.ReplaceAll(n, "_", " ")
	}
	return ARNPattern{Re: re, Dims: dims}
}

// ARNPatterns are the service's patterns, in the order they are tried.
func (s *Service) ARNPatterns() []ARNPattern { return s.patterns }

// The association of each namespace's resources with its metrics' dimensions
// is YACE's (its per-service table): the same resource types, and patterns
// that extract the same dimension values from the same ARNs, tried in the
// same order. A resource is mapped by the first pattern that matches it.
var services = []*Service{
	{
		Namespace:     "AWS/EC2",
		Alias:         "ec2",
		ResourceTypes: []string{"ec2:instance"},
		patterns:      []ARNPattern{pattern(`instance/(?P<InstanceId>[^/]+)`)},
	},
	{
		Namespace:     "AWS/EBS",
		Alias:         "ebs",
		ResourceTypes: []string{"ec2:volume"},
		patterns:      []ARNPattern{pattern(`volume/(?P<VolumeId>[^/]+)`)},
	},
	{
		Namespace:     "AWS/NATGateway",
		Alias:         "ngw",
		ResourceTypes: []string{"ec2:natgateway"},
		patterns:      []ARNPattern{pattern(`natgateway/(?P<NatGatewayId>[^/]+)`)},
	},
	{
		Namespace:     "AWS/RDS",
		Alias:         "rds",
		ResourceTypes: []string{"rds:db", "rds:cluster", "rds:db-proxy"},
		patterns: []ARNPattern{
			pattern(`:cluster:(?P<DBClusterIdentifier>[^/]+)`),
			pattern(`:db:(?P<DBInstanceIdentifier>[^/]+)`),
			pattern(`:db-proxy:(?P<ProxyIdentifier>[^/]+)`),
		},
	},
	{
		Namespace:     "AWS/ApplicationELB",
		Alias:         "alb",
		ResourceTypes: []string{"elasticloadbalancing:loadbalancer/app", "elasticloadbalancing:targetgroup"},
		patterns: []ARNPattern{
			pattern(`:(?P<TargetGroup>targetgroup/.+)`),
			pattern(`:loadbalancer/(?P<LoadBalancer>.+)$`),
		},
	},
	{
		Namespace:     "AWS/NetworkELB",
		Alias:         "nlb",
		ResourceTypes: []string{"elasticloadbalancing:loadbalancer/net", "elasticloadbalancing:targetgroup"},
		patterns: []ARNPattern{
			pattern(`:(?P<TargetGroup>targetgroup/.+)`),
			pattern(`:loadbalancer/(?P<LoadBalancer>.+)$`),
		},
	},
	{
		// Classic load balancers. The type also returns application and
		// network load balancers, as it does for YACE; their metrics live in
		// the other namespaces, so only their info series show them here.
		Namespace:     "AWS/ELB",
		Alias:         "elb",
		ResourceTypes: []string{"elasticloadbalancing:loadbalancer"},
		patterns:      []ARNPattern{pattern(`:loadbalancer/(?P<LoadBalancerName>.+)$`)},
	},
	{
		Namespace:     "AWS/Lambda",
		Alias:         "lambda",
		ResourceTypes: []string{"lambda:function"},
		patterns:      []ARNPattern{pattern(`:function:(?P<FunctionName>[^/]+)`)},
	},
	{
		Namespace:     "AWS/SQS",
		Alias:         "sqs",
		ResourceTypes: []string{"sqs"},
		patterns:      []ARNPattern{pattern(`(?P<QueueName>[^:]+)$`)},
	},
	{
		Namespace:     "AWS/SNS",
		Alias:         "sns",
		ResourceTypes: []string{"sns"},
		patterns:      []ARNPattern{pattern(`(?P<TopicName>[^:]+)$`)},
	},
	{
		Namespace:     "AWS/DynamoDB",
		Alias:         "dynamodb",
		ResourceTypes: []string{"dynamodb:table"},
		patterns:      []ARNPattern{pattern(`:table/(?P<TableName>[^/]+)`)},
	},
	{
		Namespace:     "AWS/S3",
		Alias:         "s3",
		ResourceTypes: []string{"s3"},
		patterns:      []ARNPattern{pattern(`(?P<BucketName>[^:]+)$`)},
	},
	{
		// REST APIs (v1) carry their ID in the ARN but their name in the
		// ApiName dimension: NamesRestAPIs renames them first.
		Namespace:     "AWS/ApiGateway",
		Alias:         "apigateway",
		ResourceTypes: []string{"apigateway"},
		NamesRestAPIs: true,
		patterns: []ARNPattern{
			pattern(`/restapis/(?P<ApiName>[^/]+)$`),
			pattern(`/restapis/(?P<ApiName>[^/]+)/stages/(?P<Stage>[^/]+)$`),
			pattern(`/apis/(?P<ApiId>[^/]+)$`),
			pattern(`/apis/(?P<ApiId>[^/]+)/stages/(?P<Stage>[^/]+)$`),
			pattern(`/apis/(?P<ApiId>[^/]+)/routes/(?P<Route>[^/]+)$`),
		},
	},
	{
		Namespace:     "AWS/ECS",
		Alias:         "ecs-svc",
		ResourceTypes: []string{"ecs:cluster", "ecs:service"},
		patterns: []ARNPattern{
			pattern(`:cluster/(?P<ClusterName>[^/]+)$`),
			pattern(`:service/(?P<ClusterName>[^/]+)/(?P<ServiceName>[^/]+)$`),
		},
	},
	{
		Namespace:     "ECS/ContainerInsights",
		Alias:         "ecs-containerinsights",
		ResourceTypes: []string{"ecs:cluster", "ecs:service"},
		patterns: []ARNPattern{
			pattern(`:cluster/(?P<ClusterName>[^/]+)$`),
			pattern(`:service/(?P<ClusterName>[^/]+)/(?P<ServiceName>[^/]+)$`),
		},
	},
	{
		Namespace:     "AWS/ElastiCache",
		Alias:         "ec",
		ResourceTypes: []string{"elasticache:cluster", "elasticache:serverlesscache"},
		patterns: []ARNPattern{
			pattern(`cluster:(?P<CacheClusterId>[^/]+)`),
			pattern(`serverlesscache:(?P<clusterId>[^/]+)`),
		},
	},
	{
		Namespace:     "AWS/Kinesis",
		Alias:         "kinesis",
		ResourceTypes: []string{"kinesis:stream"},
		patterns:      []ARNPattern{pattern(`:stream/(?P<StreamName>[^/]+)`)},
	},
	{
		Namespace:     "AWS/CloudFront",
		Alias:         "cloudfront",
		ResourceTypes: []string{"cloudfront:distribution"},
		Region:        "us-east-1",
		patterns:      []ARNPattern{pattern(`distribution/(?P<DistributionId>[^/]+)`)},
	},
	{
		Namespace:     "AWS/States",
		Alias:         "sfn",
		ResourceTypes: []string{"states"},
		patterns:      []ARNPattern{pattern(`(?P<StateMachineArn>.*)`)},
	},
}

// LookupService returns the service of a job type: a namespace ("AWS/EC2")
// or YACE's alias for it ("ec2").
func LookupService(typ string) (*Service, bool) {
	for _, s := range services {
		if s.Namespace == typ || s.Alias == typ {
			return s, true
		}
	}
	return nil, false
}

// ServiceTypes lists the namespaces service jobs support, sorted.
func ServiceTypes() []string {
	out := make([]string, 0, len(services))
	for _, s := range services {
		out = append(out, s.Namespace)
	}
	slices.Sort(out)
	return out
}
