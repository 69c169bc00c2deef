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
package alerting
