package deploycheck

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParameterPatterns: CloudFormation refuses a bad parameter before
// anything is created, with the ConstraintDescription as the message. The
// patterns must accept what AWS accepts and refuse the rest.
func TestParameterPatterns(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	tests := []struct {
		param    string
		accept   []string
		reject   []string
		mentions string
	}{
		{
			param:    "AlertPhoneNumber",
			accept:   []string{"", "+14155550100", "+447700900123", "+491701234567"},
			reject:   []string{"14155550100", "+1 415 555 0100", "+0123456", "+1234567890123456", "0044 7700 900123", "+1-415-555-0100"},
			mentions: "E.164",
		},
		{
			param:    "AlertEmail",
			accept:   []string{"", "oncall@example.com"},
			reject:   []string{"oncall", "a@b", "a b@example.com", "a@example.com,b@example.com"},
			mentions: "email",
		},
		{
			// Issue 14: each part is one alert schedule's Input; a ninth part
			// would have none, and a quote would break the Input's JSON.
			param:    "AlertParts",
			accept:   []string{"", "ec2", "ec2-a,ec2-b;lambda;rds", "a;b;c;d;e;f;g;h", "ec2_cpu.0,ec2:cpu/1"},
			reject:   []string{"a;b;c;d;e;f;g;h;i", "a;;b", "a;b;", ";a", "a,,b", "a,", "a, b", "a;b c", `a"b`, `a\b`, "a\tb"},
			mentions: "at most 8 parts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.param, func(t *testing.T) {
			t.Parallel()
			re := regexp.MustCompile(stringAt(t, tpl, "Parameters", tt.param, "AllowedPattern"))
			for _, v := range tt.accept {
				require.True(t, re.MatchString(v), "%s must accept %q", tt.param, v)
			}
			for _, v := range tt.reject {
				require.False(t, re.MatchString(v), "%s must refuse %q", tt.param, v)
			}
			require.Contains(t, stringAt(t, tpl, "Parameters", tt.param, "ConstraintDescription"), tt.mentions)
		})
	}
}

// TestDeployRefuses: what CloudFormation refuses before it creates anything,
// from the parameter constraints and the Rules, evaluated for one parameter
// set each. Every refusal names the parameter or rule at fault; everything a
// user would really deploy goes through.
func TestDeployRefuses(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	const (
		secret     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sigmawatch/store-AbC123"
		key        = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		amp        = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-1234abcd-12ab-34cd-56ef-1234567890ab"
		collectorA = "arn:aws:iam::111122223333:role/sigmawatch-collect"
	)
	basic := withParams(minimalParams(), "AuthMode", "basic", "AuthSecretArn", secret)
	ampOnly := withParams(minimalParams(), "RemoteWriteURL", "<unset>", "PrometheusURL", "<unset>", "AuthMode", "sigv4", "AmpWorkspaceArn", amp)
	tests := []struct {
		name   string
		params map[string]string
		// refused names the parameter or rule of each expected problem; empty
		// means the deploy goes through.
		refused []string
	}{
		{"minimal: a store and an email", minimalParams(), nil},
		{"AMP with SigV4", ampOnly, nil},
		{"basic auth from a secret", basic, nil},
		{"bearer auth from a secret under a customer-managed key", withParams(basic, "AuthMode", "bearer", "AuthSecretKmsKeyArn", key), nil},
		{"phone and an operator email", withParams(minimalParams(), "AlertEmail", "<unset>", "AlertPhoneNumber", "+14155550100", "OperatorEmail", "ops@example.com"), nil},
		{"cross-account roles and a shard", withParams(minimalParams(), "CollectRoleArns", collectorA, "CollectJobs", "rds,alb", "ShardJobs", "ec2"), nil},
		{"alert work split across two schedules", withParams(minimalParams(), "AlertGroups", "rds,alb", "AlertShardGroups", "ec2"), nil},
		{"alert work split across four schedules", withParams(minimalParams(), "AlertParts", "ec2-cpu-0;ec2-cpu-1;ec2-cpu-2;ec2-cpu-3,rds"), nil},
		{"alert work split across eight schedules", withParams(minimalParams(), "AlertParts", "a;b;c;d;e;f;g;h"), nil},
		{"slower schedules", withParams(minimalParams(), "CollectScheduleRate", "rate(15 minutes)", "AlertScheduleRate", "rate(5 minutes)"), nil},
		{"reserved alert concurrency, opted in", withParams(minimalParams(), "AlertReservedConcurrency", "1"), nil},

		// 3: its own failures must reach someone.
		{"phone only: nobody hears the alarms", withParams(minimalParams(), "AlertEmail", "<unset>", "AlertPhoneNumber", "+14155550100"), []string{"rule SomeoneHearsFailures"}},
		{"nobody at all", withParams(minimalParams(), "AlertEmail", "<unset>"), []string{"rule SomeoneHearsFailures"}},

		// 4: store credentials.
		{"partial secret ARN (no random suffix)", withParams(basic, "AuthSecretArn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sigmawatch/store"), []string{"parameter AuthSecretArn"}},
		{"secret with AuthMode none", withParams(basic, "AuthMode", "none"), []string{"rule SecretOnlyForCredentials"}},
		{"secret with AuthMode sigv4", withParams(ampOnly, "AuthSecretArn", secret), []string{"rule SecretOnlyForCredentials"}},
		{"basic without a secret", withParams(basic, "AuthSecretArn", "<unset>"), []string{"rule CredentialsNeedSecret"}},
		{"secret key without a secret", withParams(minimalParams(), "AuthSecretKmsKeyArn", key), []string{"rule SecretKeyNeedsSecret"}},
		{"secret key given as an alias", withParams(basic, "AuthSecretKmsKeyArn", "arn:aws:kms:eu-west-1:123456789012:alias/store"), []string{"parameter AuthSecretKmsKeyArn"}},
		{"secret key given as a bare key id", withParams(basic, "AuthSecretKmsKeyArn", "1234abcd-12ab-34cd-56ef-1234567890ab"), []string{"parameter AuthSecretKmsKeyArn"}},

		// 6: schedules that overlap the timeout or outrun the catch-up.
		{"collect every minute", withParams(minimalParams(), "CollectScheduleRate", "rate(1 minute)"), []string{"parameter CollectScheduleRate"}},
		{"collect every 4 minutes", withParams(minimalParams(), "CollectScheduleRate", "rate(4 minutes)"), []string{"parameter CollectScheduleRate"}},
		{"collect hourly", withParams(minimalParams(), "CollectScheduleRate", "rate(1 hour)"), []string{"parameter CollectScheduleRate"}},
		{"alert every 30 seconds", withParams(minimalParams(), "AlertScheduleRate", "rate(30 seconds)"), []string{"parameter AlertScheduleRate"}},

		// 7: URLs.
		{"plain http store", withParams(basic, "RemoteWriteURL", "http://prometheus.example.com/api/v1/write"), []string{"parameter RemoteWriteURL"}},
		{"plain http query URL", withParams(basic, "PrometheusURL", "http://prometheus.example.com"), []string{"parameter PrometheusURL"}},
		{"credentials in the URL", withParams(minimalParams(), "RemoteWriteURL", "https://user:pass@prometheus.example.com/api/v1/write"), []string{"parameter RemoteWriteURL"}},
		{"token-only userinfo in the query URL", withParams(minimalParams(), "PrometheusURL", "https://token@prometheus.example.com"), []string{"parameter PrometheusURL"}},
		{"credentials in the Alertmanager URL", withParams(minimalParams(), "AlertmanagerURL", "https://u:p@am.example.com"), []string{"parameter AlertmanagerURL"}},
		{"credentials in the link base", withParams(minimalParams(), "ExternalURL", "https://u:p@grafana.example.com"), []string{"parameter ExternalURL"}},

		// 5: the collect function may assume roles, nothing else.
		{"a user in CollectRoleArns", withParams(minimalParams(), "CollectRoleArns", collectorA+",arn:aws:iam::111122223333:user/me"), []string{"parameter CollectRoleArns"}},
		{"a wildcard in CollectRoleArns", withParams(minimalParams(), "CollectRoleArns", "arn:aws:iam::*:role/*"), []string{"parameter CollectRoleArns"}},

		// Issue 14: an alert part needs the main schedule's groups, and two
		// concurrent schedules cannot share one reserved execution.
		{"alert part without the main groups", withParams(minimalParams(), "AlertShardGroups", "ec2"), []string{"rule AlertShardNeedsMainGroups"}},
		{"alert part with one reserved execution", withParams(minimalParams(), "AlertGroups", "rds", "AlertShardGroups", "ec2", "AlertReservedConcurrency", "1"),
			[]string{"rule AlertShardNeedsMainGroups"}},
		// AlertParts: at most eight parts, and alone: with the older
		// parameters a group could run on two schedules.
		{"nine alert parts", withParams(minimalParams(), "AlertParts", "a;b;c;d;e;f;g;h;i"), []string{"parameter AlertParts", "at most 8 parts"}},
		{"an empty alert part", withParams(minimalParams(), "AlertParts", "a;;b"), []string{"parameter AlertParts"}},
		{"alert parts and the main groups", withParams(minimalParams(), "AlertParts", "a;b", "AlertGroups", "a"), []string{"rule AlertPartsAlone", "leave AlertGroups empty"}},
		{"alert parts and the older part", withParams(minimalParams(), "AlertParts", "a;b", "AlertShardGroups", "b"), []string{"rule AlertPartsAlone", "leave AlertShardGroups empty"}},
		{"alert parts with one reserved execution", withParams(minimalParams(), "AlertParts", "a;b", "AlertReservedConcurrency", "1"), []string{"rule AlertPartsAlone", "AlertReservedConcurrency"}},

		// 1: reserving is an explicit opt-in of one execution.
		{"reserving 5", withParams(minimalParams(), "AlertReservedConcurrency", "5"), []string{"parameter AlertReservedConcurrency"}},

		// Several at once: every problem is reported.
		{"every bad parameter at once", withParams(minimalParams(), "RemoteWriteURL", "http://p.example.com", "CollectScheduleRate", "rate(1 minute)"),
			[]string{"parameter CollectScheduleRate", "parameter RemoteWriteURL"}},
		{"every broken rule at once", withParams(minimalParams(), "AlertEmail", "<unset>", "AuthSecretArn", secret),
			[]string{"rule SomeoneHearsFailures", "rule SecretOnlyForCredentials"}},
	}
	// The template as written and as SAM hands it to CloudFormation: the
	// transform must keep every parameter constraint and rule.
	deployed := samTransform(t, "template.yaml", "eu-west-1").Template
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, tpl := range []map[string]any{tpl, deployed} {
				_, err := deployTemplate(tpl, "eu-west-1", tt.params)
				if len(tt.refused) == 0 {
					require.NoError(t, err)
					continue
				}
				require.Error(t, err)
				for _, r := range tt.refused {
					require.ErrorContains(t, err, r)
				}
			}
		})
	}
}

// TestURLParameters: every URL the functions call is https, without
// user:password@ (credentials belong in AuthSecretArn, never in a parameter
// that CloudFormation shows in the console and in events).
func TestURLParameters(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, p := range []string{"RemoteWriteURL", "PrometheusURL", "AlertmanagerURL"} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			re := regexp.MustCompile(`^(?:` + stringAt(t, tpl, "Parameters", p, "AllowedPattern") + `)$`)
			for _, ok := range []string{"", "https://prometheus.example.com", "https://prometheus.example.com:9090/api/v1/write", "https://mimir.example.com/prometheus", "https://vm.example.com/select/0/prometheus?x=1"} {
				require.True(t, re.MatchString(ok), "%s must accept %q", p, ok)
			}
			for _, bad := range []string{"http://prometheus.example.com", "https://u:p@prometheus.example.com", "https://u@prometheus.example.com/x", "prometheus.example.com", "https://", "https:// x"} {
				require.False(t, re.MatchString(bad), "%s must refuse %q", p, bad)
			}
			require.Contains(t, stringAt(t, tpl, "Parameters", p, "ConstraintDescription"), "https")
		})
	}
}
