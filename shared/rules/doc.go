// Package rules loads rules.yaml: Prometheus-style alerting rules with an
// optional anomaly block that turns a rule into a z-score rule.
//
// The file is parsed strictly (unknown keys are errors with their line), every
// setting has a default, and Validate reports every problem at once, each with
// its path and rule:
//
//	groups[0].rules[1] (ALBErrorsHigh).expr: 1:36: parse error: unexpected <op:>>
//
// # Settings
//
// interval 1m, repeat_interval 4h, resolve_ratio 0.75 (the resolve threshold of
// an anomaly rule that sets none is threshold × ratio), max_alerts_per_notification
// 10 ("+N more" past it), evaluation_delay 15m (CloudWatch data lands that late
// with collect's defaults), and dead_mans_switch off unless
// configured (max_age required; alert SigmawatchCollectStale, severity
// critical by default).
//
// # Rules
//
// alert, expr, for, keep_firing_for, repeat_interval (overrides the setting),
// labels, annotations and missing_data (keep, the default, or resolve). expr
// is parsed with Prometheus's own parser and must be an instant vector. A rule
// without an anomaly block is a threshold rule: it fires for every series its
// expr returns. With an anomaly block expr is the series to score and must not
// be a comparison.
//
// Label and annotation values are Go templates with Prometheus's $labels,
// $value, $externalLabels and $externalURL, and its engine-free functions
// (humanize…, toUpper, match, reReplaceAll, …; see TemplateFuncs). query and
// the other functions that need a query engine are not available, so a
// template using them fails validation rather than at notification time.
// Expand renders them.
//
// # Anomaly block
//
// method window (mean/σ, default), robust (median/MAD) or seasonal (the same
// time 1w, 2w, … back); baseline (default 7d; for seasonal it is seasons × 1w,
// with seasons default 3, and setting a different baseline is an error);
// threshold (|z|, default 6); resolve_threshold (<= threshold); direction up,
// down or both (default); min_history (default 1d, or 1w for seasonal, capped
// at the baseline; less history is insufficient data); min_stddev and
// min_relative_stddev (σ floors, default 0 and 0.05 × |level|; both 0 is an
// error); smoothing (points averaged for the current value, default 3);
// exclude_recent (a gap between the baseline and now, default 0);
// sustained_points and sustained_threshold (default 18 points at 1.5: a
// second, longer average of the last sustained_points points that fires at
// its own, lower |z|, for shifts that last rather than burst; setting either
// takes both from the rule, sustained_points: 0 turns it off; it must be
// longer than smoothing).
// After Load every field holds its effective value. The defaults (Default*)
// are the configuration with the best low-FP score on NAB's labelled
// CloudWatch data (BENCHMARKS.md); tests of behaviour set their own.
package rules
