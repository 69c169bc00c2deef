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
// 10 ("+N more" past it), lookback_delta 30m (how old the newest sample of a
// series may be and still be read as current: CloudWatch data lands up to 25
// minutes late with collect's defaults, depending on the schedules' phases;
// a rule may override it), evaluation_delay 0 (rules are evaluated at T −
// delay; not needed for late data, which lookback_delta covers), and
// dead_mans_switch off unless configured (max_age required; alert
// SigmawatchCollectStale, severity critical by default).
//
// # Rules
//
// alert, expr, for, keep_firing_for, repeat_interval and lookback_delta
// (override the settings), labels, annotations and missing_data (keep, the
// default, or resolve). expr
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
// method auto (default: package detector's online detector — baselines by
// hour of day and of week once there is history, learning weights an
// incident cannot poison, a CUSUM for shifts), window (mean/σ), robust
// (median/MAD of every point of a window that ends on a whole hour, two to
// three hours before now less exclude_recent: computed once per series and
// hour and kept in the store) or seasonal (the same time 1w, 2w, … back); baseline (default
// 7d; for auto the look-back of its recent and time-of-day baselines, at
// least 1h; for seasonal it is seasons × 1w, with seasons default 3, and
// setting a different baseline is an error); threshold (|z|, default 4 for
// auto, 6 otherwise); resolve_threshold (<= threshold); direction up, down
// or both (default); min_history (default 1d, or 1w for seasonal, capped at
// the baseline; less history is insufficient data); min_stddev and
// min_relative_stddev (σ floors, default 1e-9 and 0.05 × |level|; both 0 is
// an error; auto also floors a count at 1); smoothing (the current value is
// the mean of the points of the last smoothing — for auto, of their
// standardized residuals — default 10m for auto, 15m otherwise; 0s is the
// latest point alone); exclude_recent (window and robust only: a gap
// between the baseline and now, default 0); sustained and
// sustained_threshold (not for auto; default 90m at 1.5: a second, longer
// average that fires at its own, lower |z|, for shifts that last rather than
// burst; setting either takes both from the rule, sustained: 0s turns it
// off; it must be longer than smoothing).
//
// Windows are durations, so a rule means the same on 1-minute and 5-minute
// data (15m of smoothing is 3 points of 5-minute data, 15 of 1-minute
// data). The point counts of earlier versions (smoothing: 3,
// sustained_points: 18) are refused with the duration to write instead
// ([Window]).
//
// After Load every field holds its effective value. The defaults are
// anomaly.DefaultParamsFor the block's method, defined once there; [Anomaly.Detector] maps the
// block to the anomaly.Params the deployed evaluation and the backtest both
// run (through alerting.SpecOf). Tests of behaviour set their own.
package rules
