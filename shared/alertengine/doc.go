// Package alertengine is one run of the alert function: at a scheduled time
// T ([Engine.Tick]) it evaluates every rule, advances each series' state
// machine, groups what is due into notifications, persists the state in the
// store and publishes through SNS (and, optionally, Alertmanager).
//
// It is the alert function's core, kept out of package main the way the
// collector keeps its own in shared/collector: functions/alert only wires
// the environment, the store, SNS and Alertmanager into [Options].
//
// # Delivery: record, publish, mark sent
//
// The store is the only state, and it cannot take a state and an SNS
// publish atomically. Publishing first and persisting after (the first
// design) paged every minute while the store refused the state write, and
// re-sent, with new ids, what a half-failed run had already sent. So a run
//
//  1. persists, in one request, the state, the notifications it plans (the
//     outbox, alerting.Store.OutboxSeries: every planned notification with
//     its id and everything its message lists) and its last-run mark;
//     nothing is published if the store refuses it. The per-series records
//     (detector records, z-scores) go with them as far as the store's
//     request limit allows ([DefaultMaxWriteSamples]: AMP refuses a
//     request beyond its ingestion burst), the rest in requests after it:
//     one of those refused costs later runs work, never a notification;
//  2. publishes what earlier runs left unsent, then its own plans;
//  3. marks what went out as sent (alerting.Store.SentSeries), even when
//     another publish failed;
//  4. posts to Alertmanager last, within what is left of the deadline.
//
// A Lambda retry of T finds T's last-run mark and only sends what T
// recorded and did not mark sent; so does a late retry after T+1 ran, and
// T+1 itself sends what T left. Each is sent as recorded, with its id. Only
// a process killed between a publish and its sent mark repeats a
// notification, with the same id (a message attribute and a line of the
// body).
//
// # Circuit breaker
//
// A run whose last persisted run is more than [BreakerIntervals] intervals
// old cannot tell from the state it restores what was notified since. It
// records that it ran (sigmawatch_alert_circuit_open 1, a warning log line)
// and notifies nothing; the next run, finding it, goes on normally. After an
// outage of the store or the function this costs one interval.
//
// # Parts
//
// A run may evaluate only some rule groups ([Engine.TickGroups], the
// event's "groups"), when one invocation cannot evaluate every rule within
// the timeout: several schedules then split the groups, as collect's split
// its jobs. Each part has its own run series (last-run mark, breaker,
// outbox, lease) and advances only its groups' alerts; see parts.go.
//
// # Cost
//
// Every query of a run is counted (the samples the store reports reading,
// which is what AMP bills): the summary line, the response and
// QuerySamplesMetric carry it, and alert -plan (package alertplan)
// predicts it per rule; see cost.go.
//
// # Grouping
//
// Notifications are grouped like Alertmanager's (alerting.Plan): per rule,
// per severity and per value of its group_by labels; group_wait,
// group_interval and repeat_interval as Alertmanager means them. A fleet
// event is one message per group per group_interval, listing its series;
// a group only kept firing by keep_firing_for is not repeated.
package alertengine
