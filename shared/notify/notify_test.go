package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/notify"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var at = time.Date(2026, 3, 4, 5, 10, 0, 0, time.UTC)

func sample() notify.Message {
	return notify.Message{
		ID:        "0123456789abcdef0123456789abcdef",
		Status:    notify.StatusFiring,
		Rule:      "RDSLatencyAnomaly",
		Group:     "rds",
		Severity:  "critical",
		Expr:      `aws_rds_read_latency_average{dimension_DBInstanceIdentifier=~"prod-.*"}`,
		At:        at,
		GraphURL:  notify.GraphURL("https://grafana.example.com/prom/", `aws_rds_read_latency_average{dimension_DBInstanceIdentifier=~"prod-.*"}`, at),
		MaxAlerts: 2,
		Alerts: []notify.Alert{
			{
				Labels:      map[string]string{"alertname": "RDSLatencyAnomaly", "dimension_DBInstanceIdentifier": "prod-1", "region": "eu-west-1", "severity": "critical"},
				Annotations: map[string]string{"summary": "Read latency on prod-1 is unusual", "description": "It is\nmuch higher\tthan usual.", "runbook_url": "https://runbooks.example.com/rds"},
				Value:       0.0421, Scored: true, Method: "robust", Center: 0.0042, Spread: 0.0007, Z: 54.14,
				StartsAt: at.Add(-15 * time.Minute),
				Recent:   []float64{1, 1.1, 0.9, 1, 1.2, 1, 5, 9, 9.5},
			},
			{
				Labels: map[string]string{"alertname": "RDSLatencyAnomaly", "dimension_DBInstanceIdentifier": "prod-2", "region": "eu-west-1", "severity": "critical"},
				Value:  0.0011, Scored: true, Method: "robust", Center: 0.0042, Spread: 0.0007, Z: -4.43,
				StartsAt: at.Add(-5 * time.Minute),
			},
			{
				Labels: map[string]string{"alertname": "RDSLatencyAnomaly", "dimension_DBInstanceIdentifier": "prod-3", "region": "eu-west-1", "severity": "critical"},
				Value:  0.03, Scored: true, Method: "robust", Center: 0.0042, Spread: 0.0007, Z: 36.9,
			},
		},
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "go test ./shared/notify -args -update creates it")
	require.Equal(t, string(want), got, "%s differs; -update rewrites it", path)
}

func TestGolden(t *testing.T) {
	t.Parallel()
	window := sample()
	window.Rule, window.Group, window.Severity, window.MaxAlerts = "EC2CPUAnomaly", "", "", 0
	window.Status = notify.StatusResolved
	window.Alerts = []notify.Alert{{
		Labels: map[string]string{"alertname": "EC2CPUAnomaly", "dimension_InstanceId": "i-0abc"},
		Value:  41, Scored: true, Method: "window", Center: 40, Spread: 2, Z: 0.5,
		StartsAt: at.Add(-time.Hour), EndsAt: at, Resolved: true,
	}}
	threshold := sample()
	threshold.Rule, threshold.Repeat, threshold.Expr = "ALBErrorsHigh", true, "aws_applicationelb_httpcode_target_5_xx_count_sum > 10"
	threshold.GraphURL = ""
	threshold.Alerts = []notify.Alert{{Labels: map[string]string{"alertname": "ALBErrorsHigh", "name": "my-alb"}, Value: 17, StartsAt: at.Add(-4 * time.Hour)}}
	// A group of a fleet-wide event: notified before, two new alerts
	// since, one recovering, one resolved because its data stopped.
	fleet := sample()
	fleet.Rule, fleet.Group, fleet.Expr, fleet.GraphURL, fleet.MaxAlerts = "StatusCheckFailed", "ec2", "aws_ec2_status_check_failed_maximum > 0", "", 10
	fleet.GroupLabels = map[string]string{"region": "us-east-1"}
	inst := func(id string) map[string]string {
		return map[string]string{"alertname": "StatusCheckFailed", "dimension_InstanceId": id, "region": "us-east-1", "severity": "critical"}
	}
	fleet.Alerts = []notify.Alert{
		{Labels: inst("i-04"), Value: 1, StartsAt: at, New: true},
		{Labels: inst("i-05"), Value: 1, StartsAt: at, New: true},
		{Labels: inst("i-01"), Value: 1, StartsAt: at.Add(-10 * time.Minute)},
		{Labels: inst("i-02"), Value: 0, StartsAt: at.Add(-10 * time.Minute), Recovering: true},
		{Labels: inst("i-03"), Value: 1, StartsAt: at.Add(-10 * time.Minute), EndsAt: at, Resolved: true, Reason: "no data for 1h"},
	}
	for _, tc := range []struct {
		name string
		m    notify.Message
	}{
		{"robust_capped", sample()},
		{"window_resolved", window},
		{"threshold_repeat", threshold},
		{"fleet_group", fleet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			golden(t, tc.name+"_email.golden", notify.Email(tc.m))
			golden(t, tc.name+"_sms.golden", notify.SMS(tc.m)+"\n")
			golden(t, tc.name+"_subject.golden", notify.Subject(tc.m)+"\n")
		})
	}
}

func TestEmailContents(t *testing.T) {
	t.Parallel()
	body := notify.Email(sample())
	for _, want := range []string{
		"Status:    firing", "RDSLatencyAnomaly (group rds)", "median 0.0042, MAD 0.0007 (robust)", "z:           +54.14",
		"z:           -4.43", "+1 more", "Notification ID: 0123456789abcdef0123456789abcdef",
		"Runbook:   https://runbooks.example.com/rds", "g0.expr=aws_rds_read_latency_average", "▁", "█",
		"Description: It is much higher than usual.", "2026-03-04T04:55:00Z (15m0s before this run)",
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "prod-3", "past the cap")
	require.Less(t, strings.Index(body, "prod-1"), strings.Index(body, "prod-2"), "the caller's order is kept")
}

func TestShortBodiesLimits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ÜberLongName", 20)
	for _, tc := range []struct {
		name string
		edit func(*notify.Message)
	}{
		{"sample", func(*notify.Message) {}},
		{"long rule", func(m *notify.Message) { m.Rule = long }},
		{"long labels", func(m *notify.Message) { m.Alerts[0].Labels["dimension_X"] = long + "\nnext line" }},
		{"newline in rule", func(m *notify.Message) { m.Rule = "a\nb\r\nc" }},
		{"no alerts", func(m *notify.Message) { m.Alerts = nil }},
		{"no id", func(m *notify.Message) { m.ID = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := sample()
			tc.edit(&m)
			checkShort(t, m)
		})
	}
}

func checkShort(t *testing.T, m notify.Message) {
	t.Helper()
	sms, subject := notify.SMS(m), notify.Subject(m)
	require.LessOrEqual(t, len(sms), notify.MaxSMS, sms)
	require.LessOrEqual(t, len(subject), notify.MaxSubject, subject)
	require.NotContains(t, subject, "\n")
	require.NotContains(t, sms, "\n")
	for _, s := range []string{sms, subject} {
		for i := 0; i < len(s); i++ {
			require.True(t, s[i] >= 0x20 && s[i] < 0x7f, "non-printable ASCII byte %q in %q", s[i], s)
		}
	}
	require.NotEmpty(t, subject)
}

func FuzzShortBodies(f *testing.F) {
	f.Fuzz(func(t *testing.T, rule, label, severity string, value, z float64) {
		m := sample()
		m.Rule, m.Severity = rule, severity
		m.Alerts[0].Labels["x"] = label
		m.Alerts[0].Value, m.Alerts[0].Z = value, z
		checkShort(t, m)
		if utf8.ValidString(rule) && utf8.ValidString(label) && utf8.ValidString(severity) {
			require.True(t, utf8.ValidString(notify.Email(m)), "valid input gives a valid UTF-8 body")
		}
	})
}

func TestSparkline(t *testing.T) {
	t.Parallel()
	nan := func() float64 { var z float64; return z / z }()
	for _, tc := range []struct {
		name string
		in   []float64
		want string
	}{
		{"empty", nil, ""},
		{"ramp", []float64{0, 1, 2, 3, 4, 5, 6, 7}, "▁▂▃▄▅▆▇█"},
		{"flat", []float64{3, 3, 3}, "▁▁▁"},
		{"gap", []float64{0, nan, 7}, "▁ █"},
		{"negative", []float64{-10, 0, 10}, "▁▅█"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, notify.Sparkline(tc.in))
		})
	}
}

func TestGraphURL(t *testing.T) {
	t.Parallel()
	require.Empty(t, notify.GraphURL("", "up", at))
	require.Equal(t, "http://p:9090/graph?g0.end_input=2026-03-04+05%3A10%3A00&g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.range_input=1d&g0.tab=0",
		notify.GraphURL("http://p:9090/", "rate(x[5m]) > 1", at))
}

type fakeSNS struct {
	in  []*sns.PublishInput
	err error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = append(f.in, in)
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, f.err
}

func TestSNSPublish(t *testing.T) {
	t.Parallel()
	fake := &fakeSNS{}
	p, err := notify.NewSNS(fake, "arn:aws:sns:us-east-1:123456789012:alerts")
	require.NoError(t, err)
	m := sample()
	require.NoError(t, p.Publish(context.Background(), m))
	require.Len(t, fake.in, 1)
	in := fake.in[0]
	require.Equal(t, "json", aws.ToString(in.MessageStructure))
	require.Equal(t, "arn:aws:sns:us-east-1:123456789012:alerts", aws.ToString(in.TopicArn))
	require.Equal(t, notify.Subject(m), aws.ToString(in.Subject))
	var body map[string]string
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(in.Message)), &body))
	require.Equal(t, map[string]string{"default": notify.Email(m), "email": notify.Email(m), "sms": notify.SMS(m)}, body)
	attrs := map[string]string{}
	for k, v := range in.MessageAttributes {
		require.Equal(t, "String", aws.ToString(v.DataType))
		attrs[k] = aws.ToString(v.StringValue)
	}
	require.Equal(t, map[string]string{"severity": "critical", "status": "firing", "alertname": "RDSLatencyAnomaly", "notification_id": m.ID, "summary": notify.SMS(m),
		notify.SMSTypeAttribute: "Transactional"}, attrs)

	m.Severity = ""
	in, err = notify.PublishInput("arn:aws:sns:us-east-1:123456789012:alerts", m)
	require.NoError(t, err)
	require.Equal(t, "none", aws.ToString(in.MessageAttributes["severity"].StringValue), "SNS refuses empty attribute values")

	fake.err = errors.New("throttled")
	require.ErrorContains(t, p.Publish(context.Background(), m), "throttled")

	_, err = notify.NewSNS(fake, "")
	require.Error(t, err)
	_, err = notify.NewSNS(nil, "arn:aws:sns:us-east-1:123456789012:alerts")
	require.Error(t, err)
}

func TestText(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	require.NoError(t, notify.NewText(&b).Publish(context.Background(), sample()))
	out := b.String()
	require.Contains(t, out, "Subject: "+notify.Subject(sample()))
	require.Contains(t, out, "SMS: "+notify.SMS(sample()))
	require.Contains(t, out, notify.Email(sample()))
}
