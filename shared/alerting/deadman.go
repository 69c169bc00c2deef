package alerting

import (
	"fmt"
	"maps"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// CollectLastSuccessMetric is the collect function's own health series the
// dead man's switch watches.
const CollectLastSuccessMetric = "sigmawatch_collect_last_success_timestamp_seconds"

// DeadMansSwitchRule is the threshold rule the optional dead man's switch
// stands for, or false when settings do not configure one. It fires for
// every collect job of deployment whose last success is older than
// max_age, and once (without a job label) when no job has succeeded within
// four max_ages — so a collector that never ran, or stopped long ago, pages
// too. It reads only the collector of its own deployment (the collector's
// health series carry config.DeploymentLabel), so a healthy stack never
// hides a stale one sharing the store.
//
// It watches sigmawatch's own series, stamped at the collector's scheduled
// time, so the engine evaluates it at the scheduled time itself, not
// evaluation_delay earlier as the rules over CloudWatch data are.
func DeadMansSwitchRule(s rules.Settings, deployment string) (rules.Rule, bool) {
	d := s.DeadMansSwitch
	if d == nil || d.MaxAge <= 0 {
		return rules.Rule{}, false
	}
	if deployment == "" {
		deployment = config.DefaultDeployment
	}
	maxAge := time.Duration(d.MaxAge)
	lookback := dur(4 * maxAge)
	sel := fmt.Sprintf("%s{%s=%q}", CollectLastSuccessMetric, config.DeploymentLabel, deployment)
	// "vector(1) unless on() …" rather than absent_over_time, whose result
	// would carry the deployment matcher as a label.
	expr := fmt.Sprintf(`(time() - max by (job) (last_over_time(%[1]s[%[2]s])) > %[3]g) or on() (vector(1) unless on() count(last_over_time(%[1]s[%[2]s])))`,
		sel, lookback, maxAge.Seconds())
	labels := maps.Clone(d.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if d.Severity != "" {
		labels["severity"] = d.Severity
	}
	annotations := maps.Clone(d.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	if annotations["summary"] == "" {
		annotations["summary"] = fmt.Sprintf("sigmawatch collect has not succeeded for more than %s", dur(maxAge))
	}
	return rules.Rule{
		Group:          "sigmawatch",
		Alert:          d.Alert,
		Expr:           expr,
		RepeatInterval: config.Duration(s.RepeatInterval),
		Labels:         labels,
		Annotations:    annotations,
		MissingData:    rules.MissingResolve,
	}, true
}
