package deploycheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
	"github.com/stretchr/testify/require"
)

// The make targets that act on a deployed stack read its outputs and
// parameters with `aws cloudformation describe-stacks`. These tests run them
// against moto, on a stand-in stack that has the outputs and parameters of
// template.yaml they read (standInStack takes the names from template.yaml,
// so they cannot drift), and check what they did through the SDK.

// standInStack creates, in moto, a stack with template.yaml's parameters of
// the given values and its outputs of the given names and values ("" for a
// made-up role ARN).
func standInStack(t *testing.T, m *testenv.Moto, params, outputs map[string]string) string {
	t.Helper()
	tpl := loadTemplate(t)
	var b strings.Builder
	b.WriteString("Parameters:\n")
	for name := range params {
		p := mapAt(t, tpl, "Parameters", name)
		fmt.Fprintf(&b, "  %s: {Type: %s}\n", name, p["Type"])
	}
	if len(params) == 0 {
		b.WriteString("  Unused: {Type: String, Default: x}\n")
	}
	b.WriteString("Resources:\n  Placeholder: {Type: AWS::SNS::Topic}\nOutputs:\n")
	for name, value := range outputs {
		require.Contains(t, mapAt(t, tpl, "Outputs"), name, "template.yaml has no output %s", name)
		if value == "" {
			value = "arn:aws:iam::" + testAccountID + ":role/" + name
		}
		fmt.Fprintf(&b, "  %s: {Value: %q}\n", name, value)
	}
	path := filepath.Join(t.TempDir(), "stack.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))

	name := testenv.UniqueName(t.Name())
	args := []string{"cloudformation", "create-stack", "--stack-name", name, "--template-body", "file://" + path}
	if len(params) > 0 {
		args = append(args, "--parameters")
		for k, v := range params {
			args = append(args, "ParameterKey="+k+",ParameterValue="+v)
		}
	}
	out, err := awsCLI(t, m, args...)
	require.NoError(t, err, out)
	return name
}

func awsCLI(t *testing.T, m *testenv.Moto, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	require.NoError(t, err, "the AWS CLI is needed by the deploy targets (`pip install awscli`)")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), m.Env()...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runMake runs a make target of the repository against moto.
func runMake(t *testing.T, m *testenv.Moto, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), m.Env()...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSMSSetupTarget: make sms-setup points the account's SMS settings at
// the stack: Transactional, delivery logs through the stack's role (every
// delivery), and the spending limit the stack states. A stack deployed
// without a phone number has no role, and the target says so.
func TestSMSSetupTarget(t *testing.T) {
	t.Parallel()
	// A moto of its own: SMS settings are account-wide.
	m := testenv.StartMotoT(t)
	stack := standInStack(t, m, map[string]string{"SmsMonthlySpendLimitUSD": "25"}, map[string]string{"SmsDeliveryStatusRoleArn": ""})

	out, err := runMake(t, m, "sms-setup", "STACK_NAME="+stack)
	require.NoError(t, err, out)
	cfg, err := m.AWSConfig(t.Context())
	require.NoError(t, err)
	got, err := awssns.NewFromConfig(cfg).GetSMSAttributes(t.Context(), &awssns.GetSMSAttributesInput{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"DefaultSMSType":                    "Transactional",
		"DeliveryStatusIAMRole":             "arn:aws:iam::" + testAccountID + ":role/SmsDeliveryStatusRoleArn",
		"DeliveryStatusSuccessSamplingRate": "100",
		"MonthlySpendLimit":                 "25",
	}, onlyKeys(got.Attributes, "DefaultSMSType", "DeliveryStatusIAMRole", "DeliveryStatusSuccessSamplingRate", "MonthlySpendLimit"))

	noPhone := standInStack(t, m, map[string]string{"SmsMonthlySpendLimitUSD": "1"}, map[string]string{"OpsTopicArn": "arn:aws:sns:us-east-1:" + testAccountID + ":ops"})
	out, err = runMake(t, m, "sms-setup", "STACK_NAME="+noPhone)
	require.Error(t, err)
	require.Contains(t, out, "no SmsDeliveryStatusRoleArn output")
}

func onlyKeys(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

// TestTestNotificationTarget: make test-notification finds the stack's
// alert topic through its AlertTopicArn output and publishes one test alert
// there, naming the stack, with severity critical: the email subscriber gets
// it and so does the SMS subscriber (an SQS queue with the template's SMS
// filter policy stands in for each). A stack without the output is refused.
func TestTestNotificationTarget(t *testing.T) {
	t.Parallel()
	m := testenv.StartMotoT(t)
	cfg, err := m.AWSConfig(t.Context())
	require.NoError(t, err)
	topic := testenv.NewTopic(t, cfg, t.Name())
	email := testenv.SubscribeQueue(t, cfg, topic, t.Name()+"-email", "")
	phone := testenv.SubscribeQueue(t, cfg, topic, t.Name()+"-sms", testenv.SMSFilterPolicy)
	stack := standInStack(t, m, nil, map[string]string{"AlertTopicArn": topic})

	out, err := runMake(t, m, "test-notification", "STACK_NAME="+stack)
	require.NoError(t, err, out)
	require.Contains(t, out, "published a test notification to "+topic)

	got := testenv.ReceiveSNS(t, cfg, email)
	require.Len(t, got, 1, "one message for the email subscriber")
	require.Equal(t, "[TEST] sigmawatch notification test from "+stack+" (critical)", got[0].Subject, "the message names the stack it tests")
	require.Contains(t, got[0].Body, "Nothing is wrong.")
	require.Equal(t, "critical", got[0].Attributes["severity"])
	sms := testenv.ReceiveSNS(t, cfg, phone)
	require.Len(t, sms, 1, "the SMS filter policy lets the test through")
	require.True(t, strings.HasPrefix(sms[0].Attributes["summary"], "TEST sigmawatch "+stack+":"), sms[0].Attributes["summary"])
	require.Equal(t, "Transactional", sms[0].Attributes["AWS.SNS.SMS.SMSType"])

	noTopic := standInStack(t, m, nil, map[string]string{"CollectFunctionRoleArn": ""})
	out, err = runMake(t, m, "test-notification", "STACK_NAME="+noTopic)
	require.Error(t, err)
	require.Contains(t, out, "has no AlertTopicArn output")
}
