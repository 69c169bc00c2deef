// Package notify renders sigmawatch's alert notifications and delivers them:
// to one SNS topic (email, SMS and every other protocol from one Publish),
// to an optional Alertmanager through its v2 API, or as text for -dry-run.
//
// # Messages
//
// A [Message] is one notification of one rule at one run: every series of
// the rule that went firing (or was repeated, or resolved) at that run,
// grouped, so a fleet-wide anomaly is one email rather than a hundred. The
// renderers are pure functions of the Message:
//
//   - [Email] is the complete text: status, rule, each series' labels, value,
//     baseline (mean and σ, or median and MAD), signed z, since when, the
//     PromQL, a graph link, the runbook, the annotations, a sparkline of the
//     recent points, "+N more" past the cap, and the notification id. It is
//     also the `default` body that SQS/HTTPS subscribers and the console get.
//   - [SMS] is one line of at most 140 ASCII characters.
//   - [Subject] is ASCII, at most 99 characters, without newlines.
//
// # SNS
//
// [SNS] publishes with MessageStructure json (keys default, email and sms)
// and the message attributes severity, status, alertname and
// notification_id, so subscription filter policies can route (for example
// critical only to SMS) and a repeat caused by a crash between publish and
// persist can be recognised by its id. Only a standard topic can deliver
// email and SMS, so no FIFO deduplication id is set.
//
// # Alertmanager
//
// [Alertmanager] posts alerts to POST /api/v2/alerts as Prometheus does:
// the caller sends every firing alert at every run with endsAt a few
// intervals ahead, and resolved alerts with endsAt set to the time they
// resolved, so Alertmanager's own grouping, silences and inhibition apply.
package notify
