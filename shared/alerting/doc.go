// Package alerting holds sigmawatch's alert rules and the state machine
// that turns per-tick conditions into notifications.
//
// # State machine
//
// [Step] is pure and mirrors Prometheus's alerting rules: a series whose
// condition holds goes inactive → pending (nothing is sent), and pending →
// firing once it has held for `for` (with for = 0 it fires at once). A
// firing alert whose condition stops holding stays firing for
// keep_firing_for and then resolves; both firing and resolved are notified,
// and a firing alert is notified again every repeat_interval. A tick without
// data keeps the state by default (MissingDataKeep) or counts as the
// condition not holding (MissingDataResolve).
//
// Hysteresis is not the state machine's business: the caller decides
// whether the condition holds with anomaly.Params.Anomalous(z,
// state.Active()), so an active alert is held to the lower resolve
// threshold.
//
// The state is a plain [AlertState] the caller persists (as series in
// Prometheus) and passes back at the next tick. Because Step reads no clock
// and each [Notification] carries an id derived only from (rule, series
// fingerprint, fired_at, kind, tick time) — see [NotificationID] — a retried
// run of the same scheduled time recomputes the same notifications with the
// same ids, which is what lets publish-then-persist stay free of duplicates.
//
// # Evaluation
//
// [Evaluate] runs one rule at one time through a consumer-side [Querier].
// A threshold rule is one instant query: every returned series holds. An
// anomaly rule pushes the aggregation to the query engine, so its cost
// grows with the number of series, not with the baseline's length:
//
//   - window: avg_over_time, stddev_over_time and count_over_time of
//     expr over the baseline, offset by exclude_recent, give
//     anomaly.BaselineFromMoments — three numbers per series;
//   - seasonal: the same over a [SeasonalWindow] centred on the same time
//     1w, 2w, … back, pooled with anomaly.SeasonalBaseline;
//   - robust: median/MAD has no PromQL form, so points are pulled through a
//     subquery whose step keeps each series at or under [MaxRobustPoints]
//     (7d of 5-minute data is read as is, finer data is downsampled); memory
//     is series × MaxRobustPoints, the one method whose cost grows with the
//     baseline's resolution.
//
// The current value is expr at the time (or, with smoothing K, the mean of
// its last K points within K × [SmoothingResolution]). With
// sustained_points N, the mean of the last N points within N ×
// [SmoothingResolution] is scored against the same baseline too, and the
// condition also holds when that z passes sustained_threshold (a level
// shift no single point makes anomalous). min_history is a
// count_over_time of the part of the baseline older than min_history: a
// series with no point that old is insufficient data, as in the backtest.
// Ranges are one millisecond short of their length, which makes them
// left-open on Prometheus 2 as on 3, and the backtest's windows exactly:
// the store tests check the three methods against backtest.Run over the
// same points. Parts of an evaluation are matched on their label sets
// without __name__ ([SeriesLabels], [Fingerprint]), as PromQL's aggregation
// functions drop it.
//
// [Advance] runs [Step] for every series of one evaluation and for every
// stored series the evaluation no longer returns (missing data for an
// anomaly rule, a condition that stopped holding for a threshold rule).
// [DeadMansSwitchRule] is the optional switch as a threshold rule.
//
// # State store
//
// State lives in the Prometheus the rules query, under our own names
// (never ALERTS / ALERTS_FOR_STATE), all stamped at the run's scheduled time
// and written in one request by [StateSeries]: sigmawatch_alerts (1 while
// pending or firing, like ALERTS), sigmawatch_alert_state with one series
// per AlertState field (label sigmawatch_field, times in Unix seconds, and
// sigmawatch_group, since one alert name may live in several groups),
// sigmawatch_alert_zscore and sigmawatch_alert_last_run_timestamp_seconds.
// A [Store] is one deployment's view: every series it builds carries
// config.DeploymentLabel and every query it runs selects on it, so two
// stacks sharing one store keep their states and last runs apart.
// [Restore] reads the state with last_over_time just before the scheduled
// time (so a retry sees what the first attempt saw, not its own writes);
// [LastRun] finds a completed run at or after a time, which turns a retry or
// a late retry into a no-op. A state is written while a series is active
// and once more when it stops being active, so a restore never finds an
// older active state behind a resolved one.
package alerting
