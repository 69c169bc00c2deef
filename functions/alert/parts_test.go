package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPartsChecked (issue 14): the deployment's split of the rule groups
// across schedules (SIGMAWATCH_ALERT_PARTS, set from the template's
// AlertParts, or -parts) is checked against the packaged rules by
// -verify-config and at every start, so a group in two parts (evaluated
// and notified twice) or in none (never evaluated) is an error naming the
// group and the parts. Before, -verify-config said "ok" and every part ran.
func TestPartsChecked(t *testing.T) {
	t.Parallel()
	const rulesFile = "../../infra/examples/rules.yaml" // groups ec2, rds, alb, lambda, sqs, dynamodb, sigmawatch-self
	const four = "ec2;rds,alb;lambda,sqs;dynamodb,sigmawatch-self"
	tests := []struct {
		name  string
		env   string // SIGMAWATCH_ALERT_PARTS
		args  []string
		want  string // in the output when it succeeds, in the error when not
		fails bool
	}{
		{name: "no split", args: []string{"-verify-config"}, want: "ok ("},
		{name: "four parts", env: four, args: []string{"-verify-config"}, want: "ok ("},
		{name: "four parts by flag", args: []string{"-verify-config", "-parts", four}, want: "ok ("},
		{name: "a group in two parts", env: "ec2,rds;rds,alb;lambda,sqs;dynamodb,sigmawatch-self", args: []string{"-verify-config"}, fails: true,
			want: `SIGMAWATCH_ALERT_PARTS: rule group "rds" is in parts 1 and 2`},
		{name: "a group in no part", env: "ec2;rds,alb;lambda,sqs;dynamodb", args: []string{"-verify-config"}, fails: true,
			want: `SIGMAWATCH_ALERT_PARTS: rule group "sigmawatch-self" is in none of the 4 parts (1: "ec2", 2: "rds,alb", 3: "lambda,sqs", 4: "dynamodb")`},
		{name: "the flag wins over the environment", env: four, args: []string{"-verify-config", "-parts", "ec2;rds"}, fails: true,
			want: `-parts: rule group "alb" is in none of the 2 parts`},
		{name: "an unknown group", args: []string{"-verify-config", "-parts", four + ";ec2-cpu-0"}, fails: true,
			want: `-parts: part 5 names "ec2-cpu-0", which is no rule group of the rules file`},
		// The deployed function (no -verify-config) refuses to start: every
		// invocation fails, which its errors alarm reports.
		{name: "a run refuses to start", env: "ec2;ec2,rds,alb,lambda,sqs,dynamodb,sigmawatch-self", args: []string{"-dry-run"}, fails: true,
			want: `rule group "ec2" is in parts 1 and 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A store on a closed loopback port: a run that started would
			// fail reaching it, not on the parts.
			env := map[string]string{"SIGMAWATCH_ALERT_PARTS": tt.env, "SIGMAWATCH_PROMETHEUS_URL": "http://127.0.0.1:9"}
			var out bytes.Buffer
			err := run(t.Context(), append(tt.args, "-config", rulesFile), func(k string) string { return env[k] }, &out)
			if tt.fails {
				require.Error(t, err)
				require.ErrorContains(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.Contains(t, out.String(), tt.want)
		})
	}
}
