package taggingtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Seeder creates tagged resources in moto with plain signed API requests, so
// that tests need no SDK module per service (EC2's alone is larger than
// everything sigmawatch links).
type Seeder struct {
	URL    string // moto's endpoint
	Region string
	Creds  aws.Credentials
	Client *http.Client
}

// Tags is a list of key, value pairs.
type Tags []string

func (s *Seeder) do(ctx context.Context, service string, req *http.Request, body []byte) ([]byte, error) {
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, s.Creds, req, hex.EncodeToString(sum[:]), service, s.Region, time.Now()); err != nil {
		return nil, err
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", service, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s: %s", service, resp.Status, out)
	}
	return out, nil
}

// Query calls an AWS Query-protocol action (EC2, RDS, ELB, SNS, IAM…).
func (s *Seeder) Query(ctx context.Context, service, action, version string, params url.Values) ([]byte, error) {
	form := url.Values{"Action": {action}, "Version": {version}}
	for k, v := range params {
		form[k] = v
	}
	body := []byte(form.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/", strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return s.do(ctx, service, req, body)
}

// JSON calls an AWS JSON-protocol operation (DynamoDB, ECS, Step Functions).
func (s *Seeder) JSON(ctx context.Context, service, target string, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/", strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", target)
	return s.do(ctx, service, req, body)
}

func tagParams(p url.Values, prefix string, tags Tags) {
	for i := 0; i+1 < len(tags); i += 2 {
		n := strconv.Itoa(i/2 + 1)
		p.Set(prefix+n+".Key", tags[i])
		p.Set(prefix+n+".Value", tags[i+1])
	}
}

func find(body []byte, re string) (string, error) {
	m := regexp.MustCompile(re).FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("no %s in %s", re, body)
	}
	return string(m[1]), nil
}

// EC2Instance starts an instance with tags and returns its ID.
func (s *Seeder) EC2Instance(ctx context.Context, tags Tags) (string, error) {
	p := url.Values{"ImageId": {"ami-12c6146b"}, "MinCount": {"1"}, "MaxCount": {"1"}, "InstanceType": {"t3.micro"}, "TagSpecification.1.ResourceType": {"instance"}}
	tagParams(p, "TagSpecification.1.Tag.", tags)
	out, err := s.Query(ctx, "ec2", "RunInstances", "2016-11-15", p)
	if err != nil {
		return "", err
	}
	return find(out, `<instanceId>([^<]+)</instanceId>`)
}

// EBSVolume creates a volume with tags and returns its ID.
func (s *Seeder) EBSVolume(ctx context.Context, tags Tags) (string, error) {
	p := url.Values{"Size": {"8"}, "AvailabilityZone": {s.Region + "a"}, "TagSpecification.1.ResourceType": {"volume"}}
	tagParams(p, "TagSpecification.1.Tag.", tags)
	out, err := s.Query(ctx, "ec2", "CreateVolume", "2016-11-15", p)
	if err != nil {
		return "", err
	}
	return find(out, `<volumeId>([^<]+)</volumeId>`)
}

// RDSInstance creates a database instance with tags and returns its ARN.
func (s *Seeder) RDSInstance(ctx context.Context, id string, tags Tags) (string, error) {
	p := url.Values{
		"DBInstanceIdentifier": {id}, "DBInstanceClass": {"db.t3.micro"}, "Engine": {"postgres"},
		"MasterUsername": {"admin1"}, "MasterUserPassword": {"not-a-real-secret-1"}, "AllocatedStorage": {"20"},
	}
	tagParams(p, "Tags.Tag.", tags)
	out, err := s.Query(ctx, "rds", "CreateDBInstance", "2014-10-31", p)
	if err != nil {
		return "", err
	}
	return find(out, `<DBInstanceArn>([^<]+)</DBInstanceArn>`)
}

// subnets returns two default subnets in different zones and their VPC.
func (s *Seeder) subnets(ctx context.Context) (vpc string, subnets []string, err error) {
	out, err := s.Query(ctx, "ec2", "DescribeSubnets", "2016-11-15", url.Values{"Filter.1.Name": {"default-for-az"}, "Filter.1.Value.1": {"true"}})
	if err != nil {
		return "", nil, err
	}
	items := regexp.MustCompile(`(?s)<item>.*?<subnetId>([^<]+)</subnetId>.*?<vpcId>([^<]+)</vpcId>.*?</item>`).FindAllSubmatch(out, -1)
	if len(items) < 2 {
		return "", nil, fmt.Errorf("moto has fewer than two default subnets: %s", out)
	}
	return string(items[0][2]), []string{string(items[0][1]), string(items[1][1])}, nil
}

// LoadBalancer creates an application or network load balancer ("application",
// "network") with tags and returns its ARN.
func (s *Seeder) LoadBalancer(ctx context.Context, name, typ string, tags Tags) (string, error) {
	_, subnets, err := s.subnets(ctx)
	if err != nil {
		return "", err
	}
	p := url.Values{"Name": {name}, "Type": {typ}, "Subnets.member.1": {subnets[0]}, "Subnets.member.2": {subnets[1]}}
	tagParams(p, "Tags.member.", tags)
	out, err := s.Query(ctx, "elasticloadbalancing", "CreateLoadBalancer", "2015-12-01", p)
	if err != nil {
		return "", err
	}
	return find(out, `<LoadBalancerArn>([^<]+)</LoadBalancerArn>`)
}

// TargetGroup creates a target group with tags and returns its ARN.
func (s *Seeder) TargetGroup(ctx context.Context, name string, tags Tags) (string, error) {
	vpc, _, err := s.subnets(ctx)
	if err != nil {
		return "", err
	}
	p := url.Values{"Name": {name}, "Protocol": {"HTTP"}, "Port": {"80"}, "VpcId": {vpc}}
	tagParams(p, "Tags.member.", tags)
	out, err := s.Query(ctx, "elasticloadbalancing", "CreateTargetGroup", "2015-12-01", p)
	if err != nil {
		return "", err
	}
	return find(out, `<TargetGroupArn>([^<]+)</TargetGroupArn>`)
}

// SNSTopic creates a topic with tags and returns its ARN.
func (s *Seeder) SNSTopic(ctx context.Context, name string, tags Tags) (string, error) {
	p := url.Values{"Name": {name}}
	tagParams(p, "Tags.member.", tags)
	out, err := s.Query(ctx, "sns", "CreateTopic", "2010-03-31", p)
	if err != nil {
		return "", err
	}
	return find(out, `<TopicArn>([^<]+)</TopicArn>`)
}

// SQSQueue creates a queue with tags and returns its ARN.
func (s *Seeder) SQSQueue(ctx context.Context, name string, tags Tags) (string, error) {
	t := map[string]string{}
	for i := 0; i+1 < len(tags); i += 2 {
		t[tags[i]] = tags[i+1]
	}
	if _, err := s.JSON(ctx, "sqs", "AmazonSQS.CreateQueue", map[string]any{"QueueName": name, "tags": t}); err != nil {
		return "", err
	}
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", s.Region, "123456789012", name), nil
}

// DynamoDBTable creates a table with tags and returns its ARN.
func (s *Seeder) DynamoDBTable(ctx context.Context, name string, tags Tags) (string, error) {
	var t []map[string]string
	for i := 0; i+1 < len(tags); i += 2 {
		t = append(t, map[string]string{"Key": tags[i], "Value": tags[i+1]})
	}
	out, err := s.JSON(ctx, "dynamodb", "DynamoDB_20120810.CreateTable", map[string]any{
		"TableName":            name,
		"KeySchema":            []map[string]string{{"AttributeName": "k", "KeyType": "HASH"}},
		"AttributeDefinitions": []map[string]string{{"AttributeName": "k", "AttributeType": "S"}},
		"BillingMode":          "PAY_PER_REQUEST",
		"Tags":                 t,
	})
	if err != nil {
		return "", err
	}
	return find(out, `"TableArn":\s*"([^"]+)"`)
}

// ECSCluster creates a cluster with tags and returns its ARN.
func (s *Seeder) ECSCluster(ctx context.Context, name string, tags Tags) (string, error) {
	var t []map[string]string
	for i := 0; i+1 < len(tags); i += 2 {
		t = append(t, map[string]string{"key": tags[i], "value": tags[i+1]})
	}
	out, err := s.JSON(ctx, "ecs", "AmazonEC2ContainerServiceV20141113.CreateCluster", map[string]any{"clusterName": name, "tags": t})
	if err != nil {
		return "", err
	}
	return find(out, `"clusterArn":\s*"([^"]+)"`)
}

// StateMachine creates a Step Functions state machine with tags and returns
// its ARN.
func (s *Seeder) StateMachine(ctx context.Context, name string, tags Tags) (string, error) {
	var t []map[string]string
	for i := 0; i+1 < len(tags); i += 2 {
		t = append(t, map[string]string{"key": tags[i], "value": tags[i+1]})
	}
	out, err := s.JSON(ctx, "states", "AWSStepFunctions.CreateStateMachine", map[string]any{
		"name":       name,
		"definition": `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		"roleArn":    "arn:aws:iam::123456789012:role/sfn",
		"tags":       t,
	})
	if err != nil {
		return "", err
	}
	return find(out, `"stateMachineArn":\s*"([^"]+)"`)
}

// RestAPI creates an API Gateway REST API (v1) with tags and returns its ID.
func (s *Seeder) RestAPI(ctx context.Context, name string, tags Tags) (string, error) {
	t := map[string]string{}
	for i := 0; i+1 < len(tags); i += 2 {
		t[tags[i]] = tags[i+1]
	}
	body, err := json.Marshal(map[string]any{"name": name, "tags": t})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/restapis", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	out, err := s.do(ctx, "apigateway", req, body)
	if err != nil {
		return "", err
	}
	return find(out, `"id":\s*"([^"]+)"`)
}

// AccountAlias sets the account's IAM alias.
func (s *Seeder) AccountAlias(ctx context.Context, alias string) error {
	_, err := s.Query(ctx, "iam", "CreateAccountAlias", "2010-05-08", url.Values{"AccountAlias": {alias}})
	return err
}
