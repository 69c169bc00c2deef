package collector_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
	"github.com/sigmawatch/sigmawatch/shared/tagging/taggingtest"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// proxiedTagging is the AWS connector with the Tagging API reached through
// taggingtest's proxy, for the resource types moto matches differently.
type proxiedTagging struct {
	*collector.AWSConnector
	url string
}

func (p proxiedTagging) Connect(ctx context.Context, region, roleARN, externalID string) (collector.Target, error) {
	t, err := p.AWSConnector.Connect(ctx, region, roleARN, externalID)
	if err != nil {
		return t, err
	}
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		return t, err
	}
	cfg.BaseEndpoint = aws.String(p.url)
	t.Tagging = tagging.NewClient(cfg)
	return t, nil
}

// serviceFixture is tagged EC2, RDS and ALB resources in moto, some of them
// outside the search tags, with a minute of CloudWatch data per minute.
type serviceFixture struct {
	u                       string
	prodInstance, stagingIn string
	db, dbDev               string
	alb, albName            string
	tg, tgOld               string
	anchor                  time.Time
}

func seedServices(t *testing.T, ctx context.Context) *serviceFixture {
	t.Helper()
	return seedServicesAround(t, ctx, time.Now().UTC().Truncate(time.Hour).Add(-3*time.Hour))
}

// seedServicesAround seeds the resources and a constant value per series,
// one datapoint a minute from anchor-30m to anchor+30m.
func seedServicesAround(t *testing.T, ctx context.Context, anchor time.Time) *serviceFixture {
	t.Helper()
	cfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	creds, err := cfg.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	s := &taggingtest.Seeder{URL: moto.URL, Region: moto.Region, Creds: creds}
	f := &serviceFixture{u: testenv.UniqueName(t.Name()), anchor: anchor}
	value := 0.0
	env := func(e string) string { return e + "-" + f.u }
	f.prodInstance, err = s.EC2Instance(ctx, taggingtest.Tags{"Env", env("prod"), "Team", "checkout", "kubernetes.io/role", "web"})
	require.NoError(t, err)
	f.stagingIn, err = s.EC2Instance(ctx, taggingtest.Tags{"Env", env("staging"), "Team", "checkout"})
	require.NoError(t, err)
	f.db, err = s.RDSInstance(ctx, f.u+"-orders", taggingtest.Tags{"Env", env("prod"), "Team", "payments"})
	require.NoError(t, err)
	f.dbDev, err = s.RDSInstance(ctx, f.u+"-scratch", taggingtest.Tags{"Env", env("dev"), "Team", "payments"})
	require.NoError(t, err)
	f.alb, err = s.LoadBalancer(ctx, f.u+"-web", "application", taggingtest.Tags{"Env", env("prod"), "Team", "web"})
	require.NoError(t, err)
	f.tg, err = s.TargetGroup(ctx, f.u+"-tg", taggingtest.Tags{"Env", env("prod"), "Team", "web"})
	require.NoError(t, err)
	f.tgOld, err = s.TargetGroup(ctx, f.u+"-old", taggingtest.Tags{"Env", env("old"), "Team", "web"})
	require.NoError(t, err)
	_, f.albName, _ = strings.Cut(f.alb, ":loadbalancer/")
	tgDim := f.tg[strings.Index(f.tg, "targetgroup/"):]
	oldDim := f.tgOld[strings.Index(f.tgOld, "targetgroup/"):]

	cw := awsconf.CloudWatch(cfg)
	put := func(ns, metric string, dims ...string) {
		var d []cwtypes.Dimension
		for i := 0; i+1 < len(dims); i += 2 {
			d = append(d, cwtypes.Dimension{Name: aws.String(dims[i]), Value: aws.String(dims[i+1])})
		}
		var data []cwtypes.MetricDatum
		value += 1.25
		for ts := f.anchor.Add(-30 * time.Minute); ts.Before(f.anchor.Add(30 * time.Minute)); ts = ts.Add(time.Minute) {
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(metric), Dimensions: d, Timestamp: aws.Time(ts), Value: aws.Float64(value)})
		}
		_, err := cw.PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String(ns), MetricData: data})
		require.NoError(t, err)
	}
	put("AWS/EC2", "CPUUtilization", "InstanceId", f.prodInstance)
	put("AWS/EC2", "CPUUtilization", "InstanceId", f.stagingIn)
	put("AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", f.u+"-orders")
	put("AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", f.u+"-scratch")
	put("AWS/ApplicationELB", "RequestCount", "LoadBalancer", f.albName)
	put("AWS/ApplicationELB", "RequestCount", "LoadBalancer", f.albName, "TargetGroup", tgDim)
	put("AWS/ApplicationELB", "RequestCount", "LoadBalancer", f.albName, "TargetGroup", oldDim)
	return f
}

func (f *serviceFixture) config(t *testing.T) *config.Collect {
	t.Helper()
	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
progress_shards: 2
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: ec2
    type: AWS/EC2
    regions: [us-east-1]
    search_tags: [{key: Env, value: "^prod-%[1]s$"}]
    exported_tags: [Team, Missing]
    metrics: [{name: CPUUtilization, statistics: [Average]}]
  - name: rds
    type: rds
    regions: [us-east-1]
    search_tags: [{key: Env, value: "^prod-%[1]s$"}]
    exported_tags: [Team]
    custom_tags: [{key: Cost Center, value: "42"}]
    metrics: [{name: DatabaseConnections, statistics: [Sum]}]
  - name: alb
    type: AWS/ApplicationELB
    regions: [us-east-1]
    search_tags: [{key: Env, value: "^prod-%[1]s$"}]
    metrics: [{name: RequestCount, statistics: [Sum]}]
`, f.u))
	require.NoError(t, err)
	return cfg
}

// TestServiceJobs: tagged EC2, RDS and ALB resources, some filtered out by
// search_tags, give YACE's series: name = the resource ARN, tag_* labels
// for the exported tags, dimension_* labels, custom_tag_* and
// account_alias, and one aws_<service>_info series per resource with every
// tag; the Tagging API calls are counted in the health series.
func TestServiceJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setAlias(t, ctx)
	f := seedServices(t, ctx)
	cfg := f.config(t)
	proxy, err := taggingtest.MotoProxy(moto.URL)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, q := storeClients(t, r)
	c, err := collector.New(collector.Options{Config: cfg, Connector: proxiedTagging{collector.NewAWSConnector(awsCfg), proxy.URL}, Writer: w, Progress: q})
	require.NoError(t, err)
	at := f.anchor.Add(15 * time.Minute)
	sum, err := c.Run(ctx, at, cfg.Jobs)
	require.NoError(t, err)
	require.Equal(t, 3, sum.APICalls["GetResources"])

	series := func(query string) []map[string]string {
		got, err := q.Query(ctx, query, at)
		require.NoError(t, err)
		var out []map[string]string
		for _, s := range got {
			out = append(out, s.Labels)
		}
		slices.SortFunc(out, func(a, b map[string]string) int { return strings.Compare(a["name"], b["name"]) })
		return out
	}
	base := func(job string, kv ...string) map[string]string {
		m := map[string]string{"job": job, "region": "us-east-1", "account_id": "123456789012", "account_alias": "sigmawatch-test"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	ec2ARN := "arn:aws:ec2:us-east-1:123456789012:instance/" + f.prodInstance
	tgDim := f.tg[strings.Index(f.tg, "targetgroup/"):]
	require.Equal(t, []map[string]string{
		base("ec2", "__name__", "aws_ec2_cpuutilization_average", "name", ec2ARN, "dimension_InstanceId", f.prodInstance, "tag_Team", "checkout"),
	}, series(`last_over_time(aws_ec2_cpuutilization_average{job="ec2"}[30m])`))
	require.Equal(t, []map[string]string{
		base("rds", "__name__", "aws_rds_database_connections_sum", "name", f.db, "dimension_DBInstanceIdentifier", f.u+"-orders", "tag_Team", "payments", "custom_tag_Cost_Center", "42"),
	}, series(`last_over_time(aws_rds_database_connections_sum{job="rds"}[30m])`))
	oldDim := f.tgOld[strings.Index(f.tgOld, "targetgroup/"):]
	got := series(`last_over_time(aws_applicationelb_request_count_sum{job="alb"}[30m])`)
	slices.SortFunc(got, func(a, b map[string]string) int {
		return strings.Compare(a["name"]+a["dimension_TargetGroup"], b["name"]+b["dimension_TargetGroup"])
	})
	require.Equal(t, []map[string]string{
		base("alb", "__name__", "aws_applicationelb_request_count_sum", "name", f.alb, "dimension_LoadBalancer", f.albName),
		// The filtered-out target group's series falls back to its load
		// balancer, which passed the search tags: YACE's association.
		base("alb", "__name__", "aws_applicationelb_request_count_sum", "name", f.alb, "dimension_LoadBalancer", f.albName, "dimension_TargetGroup", oldDim),
		base("alb", "__name__", "aws_applicationelb_request_count_sum", "name", f.tg, "dimension_LoadBalancer", f.albName, "dimension_TargetGroup", tgDim),
	}, got)

	env := "prod-" + f.u
	require.Equal(t, []map[string]string{
		{"__name__": "aws_ec2_info", "job": "ec2", "name": ec2ARN, "tag_Env": env, "tag_Team": "checkout", "tag_kubernetes_io_role": "web"},
	}, series(`aws_ec2_info`+`{job="ec2"}`))
	require.Equal(t, []map[string]string{
		{"__name__": "aws_applicationelb_info", "job": "alb", "name": f.alb, "tag_Env": env, "tag_Team": "web"},
		{"__name__": "aws_applicationelb_info", "job": "alb", "name": f.tg, "tag_Env": env, "tag_Team": "web"},
	}, series(`aws_applicationelb_info{job="alb"}`))
	calls, err := q.Query(ctx, `sigmawatch_collect_api_calls{job="rds",operation="GetResources"}`, at)
	require.NoError(t, err)
	require.Len(t, calls, 1)
	require.InDelta(t, 1.0, calls[0].V, 0)

	// A retry of T writes nothing new, info series included (Prometheus
	// would refuse nothing, VictoriaMetrics would store twice).
	sum, err = c.Run(ctx, at, cfg.Jobs)
	require.NoError(t, err)
	require.Zero(t, sum.Samples)
	require.Equal(t, 0, sum.APICalls["GetResources"], "the resources are cached within discovery_ttl")
}
