// Package alerting holds sigmawatch's alert rules, the state machine that
// turns per-tick conditions into alert states, the grouping that turns
// states into notifications, and the store they are kept in. It knows
// nothing of SNS: the alert run (shared/alertengine) renders and sends.
//
// # State machine
//
// [Step] is pure and mirrors Prometheus's alerting rules: a series whose
// condition holds goes inactive → pending (nothing is sent), and pending →
// firing once it has held for `for` (with for = 0 it fires at once). A
// firing alert whose condition stops holding stays firing for
// keep_firing_for (recovering) and then resolves. A tick without data keeps
// the state by default (MissingDataKeep) — until the missing-data timeout
// (missing_data_timeout, 1h by default), which resolves the alert with
// [ReasonNoData] — or counts as the condition not holding
// (MissingDataResolve). Step's per-series events (fired, resolved, a repeat
// due, none while recovering) are what the backtest counts.
//
// Hysteresis is not the state machine's business: the caller decides
// whether the condition holds with anomaly.Params.Anomalous(z,
// state.Active()), so an active alert is held to the lower resolve
// threshold.
//
// The state is a plain [AlertState] the caller persists (as series in
// Prometheus) and passes back at the next tick. Step reads no clock, so a
// retried run of the same scheduled time recomputes the same states.
//
// # Grouping
//
// [Plan] groups one rule's states into notifications the way Alertmanager
// groups alerts: one group per severity (fixed when an episode fires, its
// template expanded then) and per value of the rule's group_by labels; a new
// group is notified group_wait after its first alert fired, a notified group
// whose alerts changed at most every group_interval, an unchanged one every
// repeat_interval unless all its alerts are only recovering. Each state
// records when a notification last listed it ([AlertState.NotifiedAt]), so a
// resolution is notified only after the firing was. A [Planned]
// notification holds everything its message lists and an id derived from
// (deployment, rule, group, kind, scheduled time) — see [PlanID] — so a retry
// plans the same ids. [Orphans] resolves the stored alerts of a rule that is
// no longer in the rules file, with [ReasonRuleRemoved].
//
// # Evaluation
//
// [Evaluate] runs one rule at one time through a consumer-side [Querier];
// [SpecOf] is the one mapping from a rule to what it runs (the detector,
// anomaly.Params, and the timing), which the backtest uses too. Both kinds
// of rule read the newest data stored within the rule's lookback_delta,
// whatever the schedules' phases and whether the store is Prometheus 2 or
// 3: a threshold rule is one instant query with every instant selector read
// as last_over_time(selector[lookback_delta]) ([ThresholdQuery]); an
// anomaly rule first finds the time of its newest data and evaluates every
// window there, so a deployed evaluation is the backtest's tick at that
// point.
//
// The shipped method, auto (package detector), is an online detector: its
// decision at a point depends on the whole sequence of points before it, so
// it has no PromQL form. The deployed function evaluates it incrementally
// ([Evaluator], incremental.go): each series' detector state is persisted
// in the store, in the request that persists the alert state, and each run
// advances it by the points stored since — O(series × (new points + a
// checkpoint)) per run, and the look-back's hour summaries once an hour
// per series. The full replay (auto.go: the series' stored points of the
// detector's History, five weeks, replayed through detector.FromParams,
// the backtest's detector) is what -dry-run and a caller without a store
// get; both decide as the backtest's tick at the newest point, to the bit
// (TestIncrementalEqualsFullReplay, TestBacktestEqualsDeployed).
//
// The classic methods push the aggregation to the query engine, so their
// cost grows with the number of series, not with the baseline's length:
//
//   - window: avg_over_time, stddev_over_time and count_over_time of
//     expr over the baseline, offset by exclude_recent, give
//     anomaly.BaselineFromMoments — three numbers per series;
//   - seasonal: the same over a one-hour window centred on the same time
//     1w, 2w, … back, pooled with anomaly.SeasonalBaseline;
//   - robust: the median and MAD of every point of the baseline's window,
//     which ends on a whole hour (anomaly.Params.RobustEnd): the points are
//     read a chunk of series at a time and computed here (robust.go); the
//     deployed function does that once per series and hour and keeps the
//     result in the store.
//
// The deployed function ([Evaluator] with a Store) does not re-read a
// window baseline at every run: it keeps each series' hour moments (count,
// mean, σ of each closed hour) in the store, persisted with the alert
// state, and combines them with the raw points of the baseline's two
// partial edge hours (moments.go) — the same baseline to about 1e-15, and
// the history check from the same counts. A seasonal rule's history check
// (three weeks of points) is answered by its season windows where they
// hold a point. What the summaries cannot answer is read the full way:
// correct, costlier, never a decision from part of a baseline
// (TestWindowIncrementalEqualsFull, TestSeasonalHistoryFromSeasons).
//
// A plain selector's ranges read its raw samples; another expression is
// read through a subquery of [SeriesQuery] at the schedule interval, which
// reads every stored sample once (not once per step for PromQL's 5-minute
// lookback) and drops NaN and ±Inf, so a ratio's 0/0 cannot poison an
// aggregate (a plain selector whose raw samples hold NaN or ±Inf is read
// that way too). The smoothed current value is the mean of the points of
// the last smoothing; its latest point and median, and the mean of the
// sustained window, are scored against the same baseline, and
// anomaly.Params.Holds decides on all of them, as the backtest does.
// min_history is a count_over_time of the part of the baseline older than
// min_history: a series with no point that old is insufficient data, as in
// the backtest. Ranges are one millisecond short of their length, which
// makes them left-open on Prometheus 2 as on 3, and the backtest's windows
// exactly: the evaluation tests check deployed = backtest on real
// Prometheus over 1-minute, 5-minute and aggregated data. Parts of an
// evaluation are matched on their label sets without __name__
// ([SeriesLabels], [Fingerprint]), as PromQL's aggregation functions drop
// it.
//
// [Advance] runs [Step] for every series of one evaluation and for every
// stored series the evaluation no longer returns (missing data for an
// anomaly rule, a condition that stopped holding for a threshold rule).
// [DeadMansSwitchRule] is the optional switch as a threshold rule; it
// watches the collector's health series of its own deployment and is
// evaluated at the scheduled time itself.
//
// # State store
//
// State lives in the Prometheus the rules query, under our own names
// (never ALERTS / ALERTS_FOR_STATE), all stamped at the run's scheduled
// time. A [Store] is one deployment's view: every series it builds carries
// config.DeploymentLabel and every query it runs selects on it, so two
// stacks sharing one store keep their states, outboxes, leases and last
// runs apart. One run writes, in one request (but for the per-series
// z-scores and detector records past the store's request limit, which
// alertengine sends in requests after it): [Store.StateSeries] —
// sigmawatch_alerts (1 while pending or firing, like ALERTS),
// sigmawatch_alert_state with one series per AlertState field (label
// sigmawatch_field, times in Unix seconds, sigmawatch_group since one alert
// name may live in several groups, and the episode's severity as the label
// of the "severity" field), sigmawatch_alert_zscore —; [Store.OutboxSeries],
// the notifications it plans (sigmawatch_alert_outbox); and
// [Store.RunSeries], sigmawatch_alert_last_run_timestamp_seconds and
// sigmawatch_alert_circuit_open; and [Store.MarkSeries], each anomaly
// rule's data mark (sigmawatch_alert_rule_data), by which the next run
// skips a rule whose data did not change ([Evaluator.EvaluateAtCadence],
// [Replay], cadence.go). [Store.SentSeries] marks notifications sent
// (sigmawatch_alert_notification_sent) and [Store.Unsent] reads back what
// is recorded and not sent. [Store.Restore] reads the state with
// last_over_time just before the scheduled time (so a retry sees what the
// first attempt saw, not its own writes); [Store.LastRun] finds a run
// persisted at or after a time, which turns a retry into a resend of the
// unsent and a late retry into a no-op. A state is written while it is kept
// (active, or owing a resolved notification) and once more when it stops
// being kept, so a restore never finds an older kept state behind a cleared
// one. The lease series (sigmawatch_alert_lease, [Store.Lease]) let
// overlapping runs of one deployment take turns; the protocol is the
// engine's.
package alerting
