package collector_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
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

// TestPlanServiceJobs: -plan lists a service job's resources and metrics
// as a run does and counts its GetResources calls (the Tagging API is free
// but rate-limited): one per job and target with a cold cache.
func TestPlanServiceJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := seedServices(t, ctx)
	cfg := f.config(t)
	proxy, err := taggingtest.MotoProxy(moto.URL)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	p, err := collector.MakePlan(ctx, cfg, cfg.Jobs, proxiedTagging{collector.NewAWSConnector(awsCfg), proxy.URL})
	require.NoError(t, err)
	type row struct {
		job                            string
		metrics, listCalls, getResCall int
	}
	var got []row
	for _, j := range p.Jobs {
		got = append(got, row{j.Job, j.Metrics, j.ListMetricsCalls, j.GetResourcesCalls})
	}
	// The ALB job: the load balancer, its tagged target group, and the
	// filtered-out target group's metric, which falls back to the load
	// balancer (YACE's association) — as TestServiceJobs collects.
	require.Equal(t, []row{{"ec2", 1, 1, 1}, {"rds", 1, 1, 1}, {"alb", 3, 1, 1}}, got)
	var out strings.Builder
	require.NoError(t, p.Print(&out))
	require.Contains(t, out.String(), "GetResources/run")
	require.Contains(t, out.String(), "ListMetrics, GetResources and GetRestApis are free")
}

// TestServiceJobDelivery: a service job keeps the delivery contract on
// every kind of receiver, across two accounts reached through roles: each
// datapoint is stored once, a retry of T writes nothing (no second info
// series either, which VictoriaMetrics would keep), the next run writes the
// next window and one info series per resource at its own T, and progress
// and health carry the deployment label.
func TestServiceJobDelivery(t *testing.T) {
	t.Parallel()
	everyReceiver(t, runServiceDelivery)
}

func runServiceDelivery(t *testing.T, kind string, r *testenv.Receiver) {
	ctx := context.Background()
	u := testenv.UniqueName(t.Name())
	uid := shortID(u, 10)
	metric := "Cpu" + uid // its own name: moto ignores the namespace of a query with dimensions
	anchor := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	roles := []string{crossAccountRole, "arn:aws:iam::444455556666:role/sigmawatch-read"}
	type seeded struct{ account, prod, staging string }
	var accounts []seeded
	for k, role := range roles {
		cfg := awsCfg.Copy()
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role))
		creds, err := cfg.Credentials.Retrieve(ctx)
		require.NoError(t, err)
		s := &taggingtest.Seeder{URL: moto.URL, Region: moto.Region, Creds: creds}
		a := seeded{account: strings.Split(role, ":")[4]}
		a.prod, err = s.EC2Instance(ctx, taggingtest.Tags{"Env", "prod-" + u, "Team", fmt.Sprintf("team%d", k)})
		require.NoError(t, err)
		a.staging, err = s.EC2Instance(ctx, taggingtest.Tags{"Env", "staging-" + u})
		require.NoError(t, err)
		if k == 0 {
			// Account-wide, and set by parallel tests alike.
			require.NoError(t, s.AccountAlias(ctx, "sigmawatch-other"))
		}
		var data []cwtypes.MetricDatum
		for _, id := range []string{a.prod, a.staging} {
			for ts := anchor.Add(-30 * time.Minute); ts.Before(anchor.Add(30 * time.Minute)); ts = ts.Add(time.Minute) {
				data = append(data, cwtypes.MetricDatum{
					MetricName: aws.String(metric), Timestamp: aws.Time(ts), Value: aws.Float64(float64(ts.Minute()) + float64(k)/4),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(id)}},
				})
			}
		}
		_, err = awsconf.CloudWatch(cfg).PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String("AWS/EC2"), MetricData: data})
		require.NoError(t, err)
		accounts = append(accounts, a)
	}
	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
receiver: {kind: %s}
progress_shards: 2
discovery_ttl: 0s
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: ec2-%s
    type: ec2
    regions: [us-east-1]
    roles: [{role_arn: %q}, {role_arn: %q}]
    search_tags: [{key: Env, value: "^prod-%s$"}]
    exported_tags: [Team]
    metrics: [{name: %s, statistics: [Maximum]}]
`, kind, uid, roles[0], roles[1], u, metric))
	require.NoError(t, err)
	job := cfg.Jobs[0].Name
	w, q := storeClients(t, r)
	c, err := collector.New(collector.Options{Config: cfg, Connector: collector.NewAWSConnector(awsCfg), Writer: w, Progress: q, Deployment: "stack-" + uid})
	require.NoError(t, err)

	run := func(at time.Time) collector.Summary {
		t.Helper()
		sum, err := c.Run(ctx, at, cfg.Jobs)
		require.NoError(t, err)
		require.NoError(t, r.Flush(ctx))
		return sum
	}
	t1, t2 := anchor.Add(15*time.Minute), anchor.Add(20*time.Minute)
	sum := run(t1)
	require.Equal(t, 2, sum.Series, "the prod instance of each account")
	require.Equal(t, 2, sum.APICalls["GetResources"])
	retry := run(t1)
	require.Zero(t, retry.Samples)
	require.Zero(t, retry.Requests, "a retry of T writes nothing, info series included")
	run(t2)

	// Every datapoint once: [t1-15m, t2-10m) at CloudWatch's timestamps.
	end := anchor.Add(20 * time.Minute)
	data, err := q.QuerySeries(ctx, fmt.Sprintf(`{__name__=%q,job=%q}[2h]`, naming.MetricName("AWS/EC2", metric, "Maximum"), job), end)
	require.NoError(t, err)
	require.Len(t, data, 2)
	for _, s := range data {
		k := slices.IndexFunc(accounts, func(a seeded) bool { return a.account == s.Labels["account_id"] })
		require.GreaterOrEqual(t, k, 0, s.Labels)
		a := accounts[k]
		want := map[string]string{
			"__name__": naming.MetricName("AWS/EC2", metric, "Maximum"), "job": job, "region": "us-east-1", "account_id": a.account,
			"name":                 fmt.Sprintf("arn:aws:ec2:us-east-1:%s:instance/%s", a.account, a.prod),
			"dimension_InstanceId": a.prod, "tag_Team": fmt.Sprintf("team%d", k),
		}
		if k == 0 {
			want["account_alias"] = "sigmawatch-other"
		}
		require.Equal(t, want, s.Labels)
		var got []string
		for _, p := range s.Points {
			got = append(got, fmt.Sprintf("%s=%g", p.T.Sub(anchor), p.V))
		}
		var exp []string
		for ts := anchor; ts.Before(anchor.Add(10 * time.Minute)); ts = ts.Add(time.Minute) {
			exp = append(exp, fmt.Sprintf("%s=%g", ts.Sub(anchor), float64(ts.Minute())+float64(k)/4))
		}
		require.Equal(t, exp, got, "%s: each datapoint once", a.account)
	}
	// One info series per resource and run that did work: at t1 and t2.
	info, err := q.QuerySeries(ctx, fmt.Sprintf(`aws_ec2_info{job=%q}[2h]`, job), end)
	require.NoError(t, err)
	require.Len(t, info, 2)
	for _, s := range info {
		require.NotContains(t, s.Labels, "account_id", "context only with include_context_on_info_metrics")
		require.Contains(t, s.Labels["name"], ":instance/")
		require.Equal(t, "prod-"+u, s.Labels["tag_Env"])
		require.Len(t, s.Points, 2, s.Labels["name"])
		require.True(t, s.Points[0].T.Equal(t1) && s.Points[1].T.Equal(t2), "stamped at each run's T")
	}
	if r.Kind == "victoriametrics" {
		n, err := q.Query(ctx, fmt.Sprintf(`sum(count_over_time({__name__=~"aws_.+",job=%q}[2h]))`, job), end)
		require.NoError(t, err)
		require.Len(t, n, 1)
		require.InDelta(t, 2*10+2*2, n[0].V, 0, "VictoriaMetrics stored nothing twice")
	}
	// Progress and health are this deployment's.
	for _, name := range []string{collector.CoveredMetric, collector.LastSuccessMetric} {
		got, err := q.Query(ctx, fmt.Sprintf(`%s{job=%q}`, name, job), t2)
		require.NoError(t, err)
		require.NotEmpty(t, got, name)
		for _, s := range got {
			require.Equal(t, "stack-"+uid, s.Labels[config.DeploymentLabel], name)
		}
	}
}

// TestServiceJobAPIGateway: a REST API's (v1) ARN carries its ID but its
// metrics its name (ApiName). As YACE does, the API is renamed through API
// Gateway's GetRestApis, so its metrics and its stages' are associated
// with it (name = the ARN ending in the API's name) and its info series
// carries that name; an API outside the search tags stays out. Without the
// rename every metric of the job was left out.
func TestServiceJobAPIGateway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := testenv.UniqueName(t.Name())
	uid := strings.ReplaceAll(u, "-", "")
	uid = uid[max(0, len(uid)-10):]
	metric := "Count" + uid
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	creds, err := awsCfg.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	s := &taggingtest.Seeder{URL: moto.URL, Region: moto.Region, Creds: creds}
	orders, billing := "orders-"+u, "billing-"+u
	_, err = s.RestAPI(ctx, orders, taggingtest.Tags{"Env", "prod-" + u, "Team", "orders"})
	require.NoError(t, err)
	_, err = s.RestAPI(ctx, billing, taggingtest.Tags{"Env", "dev-" + u})
	require.NoError(t, err)
	anchor := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	var data []cwtypes.MetricDatum
	for k, d := range [][]string{{"ApiName", orders}, {"ApiName", orders, "Stage", "prod"}, {"ApiName", billing}} {
		var cwDims []cwtypes.Dimension
		for i := 0; i+1 < len(d); i += 2 {
			cwDims = append(cwDims, cwtypes.Dimension{Name: aws.String(d[i]), Value: aws.String(d[i+1])})
		}
		for ts := anchor.Add(-30 * time.Minute); ts.Before(anchor.Add(30 * time.Minute)); ts = ts.Add(time.Minute) {
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(metric), Dimensions: cwDims, Timestamp: aws.Time(ts), Value: aws.Float64(float64(k + 1))})
		}
	}
	_, err = awsconf.CloudWatch(awsCfg).PutMetricData(ctx, &awscw.PutMetricDataInput{Namespace: aws.String("AWS/ApiGateway"), MetricData: data})
	require.NoError(t, err)
	cfg, err := config.LoadCollect(fmt.Appendf(nil, `
progress_shards: 2
defaults: {period: 1m, length: 5m, delay: 10m}
jobs:
  - name: api-%s
    type: apigateway
    regions: [us-east-1]
    search_tags: [{key: Env, value: "^prod-%s$"}]
    exported_tags: [Team]
    metrics: [{name: %s, statistics: [Sum]}]
`, uid, u, metric))
	require.NoError(t, err)
	job := cfg.Jobs[0].Name
	proxy, err := taggingtest.MotoProxy(moto.URL)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	r := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, q := storeClients(t, r)
	c, err := collector.New(collector.Options{Config: cfg, Connector: proxiedTagging{collector.NewAWSConnector(awsCfg), proxy.URL}, Writer: w, Progress: q})
	require.NoError(t, err)
	at := anchor.Add(15 * time.Minute)
	sum, err := c.Run(ctx, at, cfg.Jobs)
	require.NoError(t, err)
	require.Equal(t, 1, sum.APICalls["GetRestApis"])

	// -plan counts the same calls a cold run makes: GetResources, and
	// GetRestApis to name the REST APIs (free, but rate-limited).
	p, err := collector.MakePlan(ctx, cfg, cfg.Jobs, proxiedTagging{collector.NewAWSConnector(awsCfg), proxy.URL})
	require.NoError(t, err)
	require.Len(t, p.Jobs, 1)
	require.Equal(t, 1, p.Jobs[0].GetResourcesCalls)
	require.Equal(t, sum.APICalls["GetRestApis"], p.Jobs[0].GetRestApisCalls)
	var table strings.Builder
	require.NoError(t, p.Print(&table))
	require.Contains(t, table.String(), "GetRestApis/run")

	arn := "arn:aws:apigateway:us-east-1::/restapis/" + orders
	got, err := q.Query(ctx, fmt.Sprintf(`last_over_time(%s{job=%q}[30m])`, naming.MetricName("AWS/ApiGateway", metric, "Sum"), job), at)
	require.NoError(t, err)
	var series []string
	for _, s := range got {
		require.Equal(t, arn, s.Labels["name"])
		require.Equal(t, "orders", s.Labels["tag_Team"])
		series = append(series, s.Labels["dimension_ApiName"]+"/"+s.Labels["dimension_Stage"])
	}
	slices.Sort(series)
	require.Equal(t, []string{orders + "/", orders + "/prod"}, series, "the API and its stage; not the API outside the search tags")
	info, err := q.Query(ctx, fmt.Sprintf(`aws_apigateway_info{job=%q}`, job), at)
	require.NoError(t, err)
	require.Len(t, info, 1)
	require.Equal(t, arn, info[0].Labels["name"])
}
