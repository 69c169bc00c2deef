package deploycheck

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/collector"
)

// These tests hold the template to its promise that sigmawatch's own
// failures reach a person: a run failing, not running at all, throttled,
// close to its timeout, given up into a failure queue, and an SMS that
// fails or is about to be stopped by the spending limit.

// alarm is one AWS::CloudWatch::Alarm of a deployment, resolved.
type alarm struct {
	id    string
	props map[string]any
}

func (a alarm) metric() string {
	if m, ok := a.props["MetricName"].(string); ok {
		ns, _ := a.props["Namespace"].(string)
		return ns + " " + m
	}
	// A metric-math alarm: the metrics it reads.
	var names []string
	queries, _ := a.props["Metrics"].([]any)
	for _, q := range queries {
		qm, _ := q.(map[string]any)
		ms, _ := qm["MetricStat"].(map[string]any)
		m, _ := ms["Metric"].(map[string]any)
		if ns, ok := m["Namespace"].(string); ok {
			name, _ := m["MetricName"].(string)
			names = append(names, ns+" "+name)
		}
	}
	return strings.Join(names, ",")
}

// dimension is the value of the alarm's one dimension (a Ref or GetAtt left
// unresolved, naming the resource).
func (a alarm) dimension(t testing.TB) any {
	t.Helper()
	dims, _ := a.props["Dimensions"].([]any)
	require.Len(t, dims, 1, "%s: one dimension", a.id)
	return at(t, dims[0], "Value")
}

func alarmsOf(t testing.TB, res map[string]map[string]any) []alarm {
	t.Helper()
	var out []alarm
	for _, id := range slices.Sorted(maps.Keys(res)) {
		if res[id]["Type"] == "AWS::CloudWatch::Alarm" {
			out = append(out, alarm{id: id, props: mapAt(t, res[id], "Properties")})
		}
	}
	return out
}

// find returns the alarms on a metric ("AWS/Lambda Errors") whose dimension
// is dim (nil: any).
func find(t testing.TB, alarms []alarm, metric string, dim any) []alarm {
	t.Helper()
	var out []alarm
	for _, a := range alarms {
		if a.metric() != metric {
			continue
		}
		if dim != nil && !equalJSON(a.dimension(t), dim) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func equalJSON(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func intAt(t testing.TB, v any, path ...any) int {
	t.Helper()
	n, ok := number(at(t, v, path...))
	require.True(t, ok, "%v: not a number", path)
	return int(n)
}

var opsTopic = map[string]any{"Ref": "OpsTopic"}

// TestOperatorHearsEveryAlarm: every alarm notifies the operations topic,
// whose email subscription takes every message (no filter: alarms carry no
// message attributes) and exists in every deployment the Rules allow — a
// phone-only deploy is refused (TestDeployRefuses).
func TestOperatorHearsEveryAlarm(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	tests := []struct {
		name   string
		params map[string]string
		want   string // the operator's address
	}{
		{"alert email only", minimalParams(), "oncall@example.com"},
		{"operator email and a phone", withParams(minimalParams(), "AlertEmail", "<unset>", "AlertPhoneNumber", "+14155550100", "OperatorEmail", "ops@example.com"), "ops@example.com"},
		{"both emails", withParams(minimalParams(), "OperatorEmail", "ops@example.com"), "ops@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := deployTemplate(tpl, "eu-west-1", tt.params)
			require.NoError(t, err)
			res := d.resources(t)
			alarms := alarmsOf(t, res)
			require.NotEmpty(t, alarms)
			for _, a := range alarms {
				require.Equal(t, []any{opsTopic}, a.props["AlarmActions"], "%s must notify the operations topic", a.id)
				require.Equal(t, []any{opsTopic}, a.props["OKActions"], "%s must say when it is over", a.id)
				require.NotContains(t, a.props, "InsufficientDataActions", a.id)
			}
			var endpoints []any
			for id, r := range res {
				if r["Type"] != "AWS::SNS::Subscription" || !equalJSON(at(t, r, "Properties", "TopicArn"), opsTopic) {
					continue
				}
				p := mapAt(t, r, "Properties")
				require.Equal(t, "email", p["Protocol"], id)
				require.NotContains(t, p, "FilterPolicy", "%s: alarms carry no attributes; a filter would drop them", id)
				endpoints = append(endpoints, p["Endpoint"])
			}
			require.Equal(t, []any{tt.want}, endpoints)
		})
	}
}

// rateSeconds lists a schedule parameter's allowed values with their period.
func rateSeconds(t testing.TB, tpl map[string]any, param string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, v := range at(t, tpl, "Parameters", param, "AllowedValues").([]any) {
		d, ok := scheduleRate(fmt.Sprint(v))
		require.True(t, ok, "%s: %v", param, v)
		out[fmt.Sprint(v)] = int(d / time.Second)
	}
	return out
}

// TestFunctionWatchdogs: for each function and every schedule rate the
// template allows, CloudWatch watches it for free: errors, throttles, a
// duration close to the timeout, and the dead man's switch — no invocation
// for several schedule periods, with missing data breaching, because a
// function that is never invoked publishes no metric at all.
func TestFunctionWatchdogs(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	rates := map[function]string{collectFn: "CollectScheduleRate", alertFn: "AlertScheduleRate"}
	for fn, param := range rates {
		timeout := intAt(t, tpl, "Resources", string(fn), "Properties", "Timeout")
		for rate, period := range rateSeconds(t, tpl, param) {
			t.Run(string(fn)+" "+rate, func(t *testing.T) {
				t.Parallel()
				require.Less(t, timeout, period, "%s: a run (timeout %ds) must end before the next one starts", rate, timeout)
				d, err := deployTemplate(tpl, "eu-west-1", withParams(minimalParams(), param, rate))
				require.NoError(t, err)
				alarms := alarmsOf(t, d.resources(t))
				ref := map[string]any{"Ref": string(fn)}

				dead := find(t, alarms, "AWS/Lambda Invocations", ref)
				require.Len(t, dead, 1, "a dead man's switch on %s", fn)
				p := dead[0].props
				require.Equal(t, "Sum", p["Statistic"])
				require.Equal(t, "LessThanThreshold", p["ComparisonOperator"])
				require.EqualValues(t, 1, intAt(t, p, "Threshold"))
				require.Equal(t, "breaching", p["TreatMissingData"], "no invocation publishes no datapoint")
				require.Equal(t, period, intAt(t, p, "Period"), "one schedule period per datapoint")
				// Three empty periods in a row: one late or missed run (jitter
				// moves a run across a period boundary) never pages.
				require.Equal(t, 3, intAt(t, p, "EvaluationPeriods"))
				require.Equal(t, 3, intAt(t, p, "DatapointsToAlarm"))

				for _, m := range []string{"AWS/Lambda Errors", "AWS/Lambda Throttles"} {
					as := find(t, alarms, m, ref)
					require.Len(t, as, 1, "%s on %s", m, fn)
					require.Equal(t, "Sum", as[0].props["Statistic"])
					require.Equal(t, "GreaterThanOrEqualToThreshold", as[0].props["ComparisonOperator"])
					require.Equal(t, 1, intAt(t, as[0].props, "Threshold"))
				}

				dur := find(t, alarms, "AWS/Lambda Duration", ref)
				require.Len(t, dur, 1, "Duration near the timeout on %s", fn)
				p = dur[0].props
				require.Equal(t, "Maximum", p["Statistic"])
				require.Equal(t, "GreaterThanOrEqualToThreshold", p["ComparisonOperator"])
				ms := intAt(t, p, "Threshold")
				require.Equal(t, timeout*1000*8/10, ms, "Duration alarm at 80%% of the %ds timeout", timeout)
			})
		}
	}
}

// TestFailureQueuesPage: a message arriving in any queue that records a lost
// run pages, each time one arrives. Queue depth alone would fire once and
// stay in ALARM while more failures pile up unseen.
func TestFailureQueuesPage(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	d, err := deployTemplate(tpl, "eu-west-1", minimalParams())
	require.NoError(t, err)
	alarms := alarmsOf(t, d.resources(t))
	queues := map[string]bool{}
	for _, fn := range []function{collectFn, alertFn} {
		p := mapAt(t, tpl, "Resources", string(fn), "Properties")
		queues[getAttArn(t, at(t, p, "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination"))] = true
		for _, e := range mapAt(t, p, "Events") {
			queues[getAttArn(t, at(t, e, "Properties", "DeadLetterConfig", "Arn"))] = true
		}
	}
	require.Len(t, queues, 3, "the scheduler's dead-letter queue and one on-failure queue per function")
	for q := range queues {
		as := find(t, alarms, "AWS/SQS NumberOfMessagesSent", map[string]any{"Fn::GetAtt": []any{q, "QueueName"}})
		require.Len(t, as, 1, "an alarm on messages arriving in %s", q)
		p := as[0].props
		require.Equal(t, "Sum", p["Statistic"])
		require.Equal(t, "GreaterThanOrEqualToThreshold", p["ComparisonOperator"])
		require.Equal(t, 1, intAt(t, p, "Threshold"))
		require.Equal(t, 1, intAt(t, p, "EvaluationPeriods"), "every arrival pages")
		require.Equal(t, "notBreaching", p["TreatMissingData"])
	}
	require.Empty(t, find(t, alarms, "AWS/SQS ApproximateNumberOfMessagesVisible", nil), "depth fires once and stays in ALARM")
}

// TestSMSWatch: a publish succeeds even when delivery fails, so failed
// deliveries alarm; SMS stops silently at the monthly spending limit, so
// month-to-date spend alarms before it; and a role lets SNS log every SMS
// delivery (`make sms-setup` points the account's SMS settings at it).
func TestSMSWatch(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	t.Run("without a phone", func(t *testing.T) {
		t.Parallel()
		d, err := deployTemplate(tpl, "eu-west-1", minimalParams())
		require.NoError(t, err)
		res := d.resources(t)
		alarms := alarmsOf(t, res)
		require.Len(t, find(t, alarms, "AWS/SNS NumberOfNotificationsFailed", map[string]any{"Fn::GetAtt": []any{"AlertTopic", "TopicName"}}), 1,
			"email deliveries can fail too")
		require.Empty(t, find(t, alarms, "AWS/SNS SMSMonthToDateSpentUSD", nil))
		require.NotContains(t, res, "SmsDeliveryStatusRole")
	})
	t.Run("with a phone", func(t *testing.T) {
		t.Parallel()
		d, err := deployTemplate(tpl, "eu-west-1", withParams(minimalParams(), "AlertPhoneNumber", "+14155550100", "SmsMonthlySpendLimitUSD", "25"))
		require.NoError(t, err)
		res := d.resources(t)
		alarms := alarmsOf(t, res)
		require.Len(t, find(t, alarms, "AWS/SNS NumberOfNotificationsFailed", map[string]any{"Fn::GetAtt": []any{"AlertTopic", "TopicName"}}), 1)

		spend := find(t, alarms, "AWS/SNS SMSMonthToDateSpentUSD", nil)
		require.Len(t, spend, 1)
		p := spend[0].props
		var expr string
		for _, q := range p["Metrics"].([]any) {
			qm := q.(map[string]any)
			if ms, ok := qm["MetricStat"].(map[string]any); ok {
				require.Equal(t, "Maximum", ms["Stat"], "SMSMonthToDateSpentUSD's valid statistic")
				require.NotContains(t, ms["Metric"], "Dimensions", "the spend is account-wide")
				continue
			}
			require.Equal(t, true, qm["ReturnData"])
			expr = qm["Expression"].(string)
		}
		// The alarm compares the share of the limit the parameter states.
		require.Regexp(t, `^spent / 25$`, expr)
		th, ok := number(p["Threshold"])
		require.True(t, ok)
		require.InDelta(t, 0.8, th, 1e-9)
		require.Equal(t, "GreaterThanOrEqualToThreshold", p["ComparisonOperator"])

		role := res["SmsDeliveryStatusRole"]
		require.NotNil(t, role, "a role for SNS to write SMS delivery logs")
		trust := statements(t, mapAt(t, role, "Properties", "AssumeRolePolicyDocument"))
		require.Len(t, trust, 1)
		require.Equal(t, map[string]any{"Service": "sns.amazonaws.com"}, trust[0]["Principal"])
		require.Equal(t, "sts:AssumeRole", trust[0]["Action"])
		policies := at(t, role, "Properties", "Policies").([]any)
		require.Len(t, policies, 1)
		for _, st := range statements(t, mapAt(t, policies[0], "PolicyDocument")) {
			require.ElementsMatch(t, []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, stringList(t, st["Action"]))
			require.Equal(t, "arn:aws:logs:eu-west-1:"+testAccountID+":log-group:sns/eu-west-1/"+testAccountID+"/*", st["Resource"])
		}
		require.Contains(t, mapAt(t, tpl, "Outputs"), "SmsDeliveryStatusRoleArn")
	})
}

// arnLike turns an IAM ArnLike pattern into a regular expression.
func arnLike(pattern string) *regexp.Regexp {
	q := regexp.QuoteMeta(pattern)
	q = strings.ReplaceAll(q, `\*`, `.*`)
	q = strings.ReplaceAll(q, `\?`, `.`)
	return regexp.MustCompile(`^` + q + `$`)
}

// TestAlarmsMayUseTheTopics: CloudWatch may use the topics' key and publish
// to the operations topic only for this stack's alarms (aws:SourceAccount and
// aws:SourceArn against the confused deputy) — and every alarm's name falls
// under that pattern, or its notifications would be dropped without a word.
// Nobody else needs a key policy statement: the alert function's role is
// granted the key in IAM, which the key policy delegates to the account.
func TestAlarmsMayUseTheTopics(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	d, err := deployTemplate(tpl, "eu-west-1", withParams(minimalParams(), "AlertPhoneNumber", "+14155550100"))
	require.NoError(t, err)
	res := d.resources(t)

	for _, topic := range []string{"AlertTopic", "OpsTopic"} {
		require.Equal(t, map[string]any{"Ref": "TopicKey"}, at(t, res[topic], "Properties", "KmsMasterKeyId"), "%s: customer-managed key", topic)
	}
	require.Equal(t, true, at(t, res["TopicKey"], "Properties", "EnableKeyRotation"))

	var cw []map[string]any
	for _, st := range statements(t, mapAt(t, res["TopicKey"], "Properties", "KeyPolicy")) {
		p := mapAt(t, st, "Principal")
		if p["Service"] != nil {
			require.Equal(t, "cloudwatch.amazonaws.com", p["Service"])
			cw = append(cw, st)
			continue
		}
		require.Equal(t, map[string]any{"AWS": "arn:aws:iam::" + testAccountID + ":root"}, p, "only the account (which delegates to IAM) and CloudWatch")
	}
	require.Len(t, cw, 1)
	require.ElementsMatch(t, []string{"kms:Decrypt", "kms:GenerateDataKey*"}, stringList(t, cw[0]["Action"]))
	require.Equal(t, testAccountID, at(t, cw[0], "Condition", "StringEquals", "aws:SourceAccount"))
	pattern := stringAt(t, cw[0], "Condition", "ArnLike", "aws:SourceArn")

	var publish []map[string]any
	for id, r := range res {
		if r["Type"] != "AWS::SNS::TopicInlinePolicy" || !equalJSON(at(t, r, "Properties", "TopicArn"), opsTopic) {
			continue
		}
		for _, st := range statements(t, mapAt(t, r, "Properties", "PolicyDocument")) {
			if st["Effect"] == "Allow" {
				require.Equal(t, map[string]any{"Service": "cloudwatch.amazonaws.com"}, st["Principal"], id)
				publish = append(publish, st)
			}
		}
	}
	require.Len(t, publish, 1, "CloudWatch alarms may publish to the operations topic")
	require.Equal(t, "sns:Publish", publish[0]["Action"])
	require.Equal(t, testAccountID, at(t, publish[0], "Condition", "StringEquals", "aws:SourceAccount"))
	require.Equal(t, pattern, stringAt(t, publish[0], "Condition", "ArnLike", "aws:SourceArn"))

	re := arnLike(pattern)
	for _, a := range alarmsOf(t, res) {
		name, ok := a.props["AlarmName"].(string)
		require.True(t, ok, "%s: an explicit AlarmName, so it can match %s", a.id, pattern)
		arn := "arn:aws:cloudwatch:eu-west-1:" + testAccountID + ":alarm:" + name
		require.Regexp(t, re, arn, "%s: its notifications would be refused by the key and topic policies", a.id)
	}
	// Another stack's alarms do not match (stack names have no spaces).
	require.NotRegexp(t, re, "arn:aws:cloudwatch:eu-west-1:"+testAccountID+":alarm:"+testStackName+"-dev collect errors")
}

// TestTopicsRequireTLS: each topic refuses a publish that is not over TLS.
func TestTopicsRequireTLS(t *testing.T) {
	t.Parallel()
	d, err := deployTemplate(loadTemplate(t), "eu-west-1", minimalParams())
	require.NoError(t, err)
	res := d.resources(t)
	denied := map[string]bool{}
	for id, r := range res {
		if r["Type"] != "AWS::SNS::TopicInlinePolicy" {
			continue
		}
		topic := mapAt(t, r, "Properties", "TopicArn")["Ref"].(string)
		for _, st := range statements(t, mapAt(t, r, "Properties", "PolicyDocument")) {
			if st["Effect"] != "Deny" {
				continue
			}
			require.Equal(t, "*", st["Principal"], id)
			require.Equal(t, "sns:Publish", st["Action"], id)
			require.Equal(t, map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}, st["Condition"], id)
			denied[topic] = true
		}
	}
	topics := 0
	for id, r := range res {
		if r["Type"] == "AWS::SNS::Topic" {
			topics++
			require.True(t, denied[id], "%s must refuse publishes without TLS", id)
		}
	}
	require.Equal(t, 2, topics, "alerts and operations")
}

// selfRulesGroup is the group of infra/examples/rules.yaml that watches
// sigmawatch through what collect writes to the store.
const selfRulesGroup = "sigmawatch-self"

// TestSelfMonitoringRules: the example rules alert on data collect gave up
// and on a collector that stopped succeeding, with windows long enough to
// see a run at the slowest collect schedule the template allows, and a
// staleness threshold of at least two such runs.
func TestSelfMonitoringRules(t *testing.T) {
	t.Parallel()
	slowest := 0
	for _, s := range rateSeconds(t, loadTemplate(t), "CollectScheduleRate") {
		slowest = max(slowest, s)
	}
	rules := loadYAML[rulesConfig](t, repoFile(t, "infra/examples/rules.yaml"))
	watched := map[string]bool{}
	for _, g := range rules.Groups {
		if g.Name != selfRulesGroup {
			continue
		}
		for _, r := range g.Rules {
			e, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			require.NoError(t, err, r.Alert)
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				switch x := n.(type) {
				case *parser.MatrixSelector:
					vs := x.VectorSelector.(*parser.VectorSelector)
					watched[vs.Name] = true
					require.GreaterOrEqual(t, x.Range, time.Duration(slowest)*time.Second,
						"%s: the window over %s must hold a run at the slowest collect schedule", r.Alert, vs.Name)
				case *parser.BinaryExpr:
					if lit, ok := x.RHS.(*parser.NumberLiteral); ok && strings.Contains(r.Expr, "last_success") && x.Op == parser.GTR {
						require.GreaterOrEqual(t, lit.Val, float64(2*slowest), "%s: stale only after two runs at the slowest schedule", r.Alert)
					}
				}
				return nil
			})
		}
	}
	require.True(t, watched["sigmawatch_collect_skipped_seconds"], "a rule on data collect gave up")
	require.True(t, watched["sigmawatch_collect_last_success_timestamp_seconds"], "a rule on a collector that stopped succeeding")
	require.True(t, watched[collector.DroppedMetric], "a rule on series collect drops")
}
