package deploycheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/stretchr/testify/require"
)

func TestYACEName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		namespace, metric, stat string
		want                    string
	}{
		{"AWS/EC2", "CPUUtilization", "Average", "aws_ec2_cpuutilization_average"},
		{"AWS/RDS", "CPUUtilization", "Average", "aws_rds_cpuutilization_average"},
		{"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", "aws_applicationelb_httpcode_target_5_xx_count_sum"},
		{"AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", "aws_applicationelb_un_healthy_host_count_maximum"},
		{"AWS/Lambda", "Errors", "Sum", "aws_lambda_errors_sum"},
		{"AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", "aws_sqs_approximate_age_of_oldest_message_maximum"},
		{"AWS/DynamoDB", "ConsumedReadCapacityUnits", "Sum", "aws_dynamodb_consumed_read_capacity_units_sum"},
		{"AWS/Glue", "glue.driver.aggregate.bytesRead", "Sum", "aws_glue_driver_aggregate_bytes_read_sum"},
		{"MyApp/Orders", "OrdersPlaced", "SampleCount", "aws_myapp_orders_placed_sample_count"},
		{"AWS/Lambda", "Duration", "p99.9", "aws_lambda_duration_p99_9"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, yaceName(tt.namespace, tt.metric, tt.stat))
			require.Equal(t, tt.want, naming.MetricName(tt.namespace, tt.metric, tt.stat), "shared/naming")
		})
	}
}

// TestNamingAgreesOnExamples: the dashboard and the rules assume YACE names;
// the collector's naming package must produce the same for every example
// metric.
func TestNamingAgreesOnExamples(t *testing.T) {
	t.Parallel()
	c := loadYAML[collectConfig](t, repoFile(t, "infra/examples/collect.yaml"))
	require.NotEmpty(t, c.Jobs)
	for _, j := range c.Jobs {
		for _, m := range j.Metrics {
			for _, st := range m.Statistics {
				require.Equal(t, yaceName(j.Namespace, m.Name, st), naming.MetricName(j.Namespace, m.Name, st),
					"%s %s %s", j.Namespace, m.Name, st)
			}
		}
	}
}

// writtenSeries is every series name sigmawatch writes with the example
// collect config.
func writtenSeries(t testing.TB) map[string]bool {
	t.Helper()
	names := seriesOf(loadYAML[collectConfig](t, repoFile(t, "infra/examples/collect.yaml")))
	for n := range ourSeries(t) {
		names[n] = true
	}
	return names
}

// seriesNames parses expr with Prometheus's parser and returns the metric
// names it selects. A selector without a name is an error: it could match
// anything.
func seriesNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var bad error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			bad = errNoName
		}
		names = append(names, name)
		return nil
	})
	return names, bad
}

var errNoName = errors.New("selector without a metric name")

// grafanaVar matches $var, ${var} and ${var:format}.
var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)`)

// expandGrafana replaces Grafana variables so the expression is plain PromQL:
// interval variables become a duration, every other variable a label value.
func expandGrafana(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(strings.TrimPrefix(v, "$"), "{}")
		name, _, _ = strings.Cut(name, ":")
		switch name {
		case "__interval", "__rate_interval", "__range", "__range_s", "__interval_ms", "__range_ms":
			return "5m"
		}
		return "grafana_var"
	})
}

func TestExpandGrafana(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"label value", `a{job=~"$job"}`, `a{job=~"grafana_var"}`},
		{"braced with format", `a{job=~"${job:regex}"}`, `a{job=~"grafana_var"}`},
		{"interval", `rate(a[$__rate_interval])`, `rate(a[5m])`},
		{"none", `sum(a)`, `sum(a)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, expandGrafana(tt.in))
		})
	}
}

func TestSeriesNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		expr    string
		want    []string
		wantErr bool
	}{
		{"binary", `sum by (job) (a{x="1"}) / b`, []string{"a", "b"}, false},
		{"name matcher", `{__name__="c", job="x"}`, []string{"c"}, false},
		{"nameless", `{job="x"}`, nil, true},
		{"bad syntax", `sum(a`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := seriesNames(tt.expr)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// dashboardExprs finds every PromQL expression of a Grafana dashboard: panel
// targets at any depth (rows nest panels) and label_values() variable queries.
func dashboardExprs(t testing.TB, v any, path string, out map[string]string) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := path + "." + k
			if s, ok := val.(string); ok && k == "expr" {
				out[p] = s
				continue
			}
			if s, ok := val.(string); ok && (k == "query" || k == "definition") {
				if m := labelValues.FindStringSubmatch(s); m != nil {
					out[p] = m[1]
				}
				continue
			}
			dashboardExprs(t, val, p, out)
		}
	case []any:
		for i, e := range x {
			dashboardExprs(t, e, path+"["+strconv.Itoa(i)+"]", out)
		}
	}
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[A-Za-z_][A-Za-z0-9_]*\)$`)

func TestDashboard(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(repoFile(t, "infra/grafana/sigmawatch.json"))
	require.NoError(t, err)
	var dash map[string]any
	require.NoError(t, json.Unmarshal(data, &dash))
	require.NotEmpty(t, dash["title"])
	require.NotEmpty(t, dash["panels"])

	exprs := map[string]string{}
	dashboardExprs(t, dash, "$", exprs)
	require.NotEmpty(t, exprs)

	written := writtenSeries(t)
	used := map[string]bool{}
	for where, expr := range exprs {
		names, err := seriesNames(expandGrafana(expr))
		require.NoError(t, err, "%s: %s", where, expr)
		for _, n := range names {
			require.True(t, written[n], "%s: %s is not a series sigmawatch writes", where, n)
			used[n] = true
		}
	}

	// The panels the dashboard promises: every series sigmawatch writes
	// about itself (alert state, z-scores, health, cost) but the alert
	// function's bookkeeping, and collected metrics of every example service.
	for n, where := range ourSeries(t) {
		if !internalSeries[n] {
			require.True(t, used[n], "no panel shows %s (%s): add one to infra/grafana/sigmawatch.json", n, where)
		}
	}
	for _, prefix := range []string{"aws_ec2_", "aws_rds_", "aws_applicationelb_", "aws_lambda_", "aws_sqs_", "aws_dynamodb_"} {
		require.True(t, slices.ContainsFunc(slices.Collect(maps.Keys(used)), func(n string) bool { return strings.HasPrefix(n, prefix) }),
			"no panel shows a %s* series", prefix)
	}
}

// internalSeries are series sigmawatch writes about itself that are its
// bookkeeping, not something to watch: the alert state it restores from and
// the lease overlapping runs take turns through, the rules' data marks a
// run skips unchanged rules by; the detector states and hour summaries auto
// rules resume from; the previous release's collect progress, only read
// (once, after an upgrade); and collect's digests of each unit's series set,
// compared by the next run, not watched.
var internalSeries = map[string]bool{
	"sigmawatch_detector_state":                     true,
	"sigmawatch_detector_hours":                     true,
	"sigmawatch_alert_state":                        true,
	"sigmawatch_alert_lease":                        true,
	"sigmawatch_alert_rule_data":                    true,
	"sigmawatch_collect_progress_timestamp_seconds": true,
	"sigmawatch_collect_series_digest":              true,
}

// TestExampleRulesUseCollectedSeries: the example rules must alert on series
// the example collect config actually produces.
func TestExampleRulesUseCollectedSeries(t *testing.T) {
	t.Parallel()
	rules := loadYAML[rulesConfig](t, repoFile(t, "infra/examples/rules.yaml"))
	written := writtenSeries(t)
	services := map[string]bool{}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			names, err := seriesNames(r.Expr)
			require.NoError(t, err, "%s/%s: %s", g.Name, r.Alert, r.Expr)
			for _, s := range names {
				require.True(t, written[s], "%s/%s: %s is not written by infra/examples/collect.yaml", g.Name, r.Alert, s)
				services[strings.SplitN(s, "_", 3)[1]] = true
			}
		}
	}
	require.Positive(t, n)
	for _, s := range []string{"ec2", "rds", "applicationelb", "lambda", "sqs", "dynamodb"} {
		require.True(t, services[s], "no example rule for %s", s)
	}
}

// TestDashboardSeparatesDeployments: several stacks may write to one store,
// each series sigmawatch writes about itself carrying its deployment label, so
// every panel on those series filters by a $deployment variable — or two
// stacks' health, cost and alerts would add up in one panel.
func TestDashboardSeparatesDeployments(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(repoFile(t, "infra/grafana/sigmawatch.json"))
	require.NoError(t, err)
	var dash map[string]any
	require.NoError(t, json.Unmarshal(data, &dash))

	var variable map[string]any
	for _, v := range at(t, dash, "templating", "list").([]any) {
		if vm := v.(map[string]any); vm["name"] == "deployment" {
			variable = vm
		}
	}
	require.NotNil(t, variable, "a deployment variable")
	require.Contains(t, fmt.Sprint(at(t, variable, "definition")), config.DeploymentLabel)
	require.Equal(t, ".*", variable["allValue"], "All also matches series written before the label existed")

	exprs := map[string]string{}
	dashboardExprs(t, dash, "$", exprs)
	filtered := 0
	for where, expr := range exprs {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(strings.ReplaceAll(expandGrafana(expr), "grafana_var", "$deployment"))
		require.NoError(t, err, where)
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok || !strings.HasPrefix(vs.Name, "sigmawatch_") {
				return nil
			}
			filtered++
			require.True(t, slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
				return m.Name == config.DeploymentLabel && m.Type == labels.MatchRegexp && m.Value == "$deployment"
			}), "%s: %s must select %s=~\"$deployment\"", where, vs, config.DeploymentLabel)
			return nil
		})
	}
	require.Positive(t, filtered)
}
