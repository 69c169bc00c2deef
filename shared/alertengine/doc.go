// Package alertengine is one run of the alert function: at a scheduled time
// T ([Engine.Tick]) it evaluates every rule, advances each series' state
// machine, turns what is due into notifications, persists the state in the
// store and publishes through SNS (and, optionally, Alertmanager).
//
// It is the alert function's core, kept out of package main the way the
// collector keeps its own in shared/collector: functions/alert only wires
// the environment, the store, SNS and Alertmanager into [Options].
package alertengine
