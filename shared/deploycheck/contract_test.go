package deploycheck

// This file is the code's side of the contract, kept in one place: update it
// when the functions start reading a variable or calling an AWS API.

// function names the two Lambda functions by their template logical ID.
type function string

const (
	collectFn function = "CollectFunction"
	alertFn   function = "AlertFunction"
)

// envVars are the SIGMAWATCH_* variables each function reads (DESIGN.md,
// Environment), with the value the template must give where it is fixed.
// An empty value means "set, from a parameter or a resource".
var envVars = map[function]map[string]string{
	collectFn: {
		"SIGMAWATCH_CONFIG":           "/var/task/collect.yaml",
		"SIGMAWATCH_REMOTE_WRITE_URL": "",
		"SIGMAWATCH_PROMETHEUS_URL":   "",
		"SIGMAWATCH_AUTH":             "",
		"SIGMAWATCH_AUTH_SECRET_ARN":  "",
		"SIGMAWATCH_SIGV4_REGION":     "",
		"SIGMAWATCH_HEADERS":          "",
		"SIGMAWATCH_LOG_LEVEL":        "",
		"SIGMAWATCH_DEPLOYMENT":       "",
	},
	alertFn: {
		"SIGMAWATCH_CONFIG":           "/var/task/rules.yaml",
		"SIGMAWATCH_REMOTE_WRITE_URL": "",
		"SIGMAWATCH_PROMETHEUS_URL":   "",
		"SIGMAWATCH_AUTH":             "",
		"SIGMAWATCH_AUTH_SECRET_ARN":  "",
		"SIGMAWATCH_SIGV4_REGION":     "",
		"SIGMAWATCH_HEADERS":          "",
		"SIGMAWATCH_LOG_LEVEL":        "",
		"SIGMAWATCH_SNS_TOPIC_ARN":    "",
		"SIGMAWATCH_ALERTMANAGER_URL": "",
		"SIGMAWATCH_EXTERNAL_URL":     "",
		"SIGMAWATCH_DEPLOYMENT":       "",
		"SIGMAWATCH_ALERT_PARTS":      "", // functions/alert checks it against rules.yaml
	},
}

// localOnlyEnvVars are read by the code but belong to local (CLI) use, so the
// template must not set them.
var localOnlyEnvVars = []string{"SIGMAWATCH_AUTH_FILE"}

// codeAPIs are the IAM actions behind the AWS APIs each function calls.
var codeAPIs = map[function][]string{
	collectFn: {
		"cloudwatch:GetMetricData",
		"cloudwatch:ListMetrics",
		"tag:GetResources",              // service jobs: resources by tag
		"iam:ListAccountAliases",        // the account_alias label (service jobs, account_alias: true)
		"apigateway:GET",                // API Gateway service jobs: GetRestApis names REST APIs
		"sts:AssumeRole",                // role_arn per job
		"secretsmanager:GetSecretValue", // basic/bearer credentials
		"aps:RemoteWrite",               // SigV4 to AMP
		"aps:QueryMetrics",              // reads its progress back through PromQL
		"kms:Decrypt",                   // through Secrets Manager, for a secret under a customer-managed key
	},
	alertFn: {
		"aps:RemoteWrite",  // alert state
		"aps:QueryMetrics", // rules
		"sns:Publish",
		"kms:Decrypt",          // through SNS, for the encrypted topic
		"kms:GenerateDataKey*", // through SNS, for the encrypted topic
		"secretsmanager:GetSecretValue",
	},
}

// platformActions are what the platform needs besides the code's own calls.
var platformActions = map[string][]string{
	"function": {
		"logs:CreateLogStream", // log delivery into the function's own log group
		"logs:PutLogEvents",
		"sqs:SendMessage", // the on-failure destination
	},
	"scheduler": {
		"lambda:InvokeFunction",
		"sqs:SendMessage", // the schedules' dead-letter queue
	},
	// SNS writes SMS delivery logs with this role (the account's SMS
	// settings name it; make sms-setup).
	"sms-delivery-status": {
		"logs:CreateLogGroup",
		"logs:CreateLogStream",
		"logs:PutLogEvents",
	},
}

// unscopableActions may be granted on Resource "*": AWS offers no resource
// level permission for them. Nothing else may.
var unscopableActions = []string{"cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "tag:GetResources", "iam:ListAccountAliases"}

// scopedResources pins the resources each scopable code action may be
// granted on (each statement grants it on one of them).
var scopedResources = map[string][]any{
	"sts:AssumeRole":                {map[string]any{"Ref": "CollectRoleArns"}},
	"apigateway:GET":                {restAPIsResource},
	"secretsmanager:GetSecretValue": {map[string]any{"Ref": "AuthSecretArn"}},
	"aps:RemoteWrite":               {map[string]any{"Ref": "AmpWorkspaceArn"}},
	"aps:QueryMetrics":              {map[string]any{"Ref": "AmpWorkspaceArn"}},
	"sns:Publish":                   {map[string]any{"Ref": "AlertTopic"}},
	"kms:Decrypt":                   {map[string]any{"Fn::GetAtt": []any{"TopicKey", "Arn"}}, map[string]any{"Ref": "AuthSecretKmsKeyArn"}},
	"kms:GenerateDataKey*":          {map[string]any{"Fn::GetAtt": []any{"TopicKey", "Arn"}}},
}

// restAPIsResource is GetRestApis' resource in any region: the list of
// REST APIs, nothing inside them.
var restAPIsResource = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:apigateway:*::/restapis"}

// kmsViaService: every KMS grant is usable only through the service that
// needs it (SNS for the topic key, Secrets Manager for the secret's key).
var kmsViaService = map[string]string{
	"TopicKey":            "sns.",
	"AuthSecretKmsKeyArn": "secretsmanager.",
}
