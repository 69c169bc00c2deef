// Package demo runs the whole sigmawatch pipeline on one machine with no AWS
// account: moto stands in for CloudWatch, SNS and SQS, a local Prometheus is
// the store, and both functions run as their real bootstraps under the
// AWS Lambda Runtime Interface Emulator, invoked with EventBridge Scheduler
// events for successive simulated scheduled times.
//
// Two days of realistic series are generated (EC2 CPU with a daily cycle,
// network, an ALB's request count and 5xx count, and one instance that is
// plain noise). Older history goes straight into Prometheus through the
// project's own remote-write sender, exactly as the collector would have
// written it; the most recent hours go into moto and through the collect
// function. One series (the ALB's 5xx count) carries a burst that the
// example rules must catch; the noise must not page.
//
// `make demo` runs cmd/demo; TestDemo in make test runs the same Run and
// checks the notifications, the chart, and every Grafana dashboard panel on
// sigmawatch's own series against what the functions wrote. The chart code (shared/chart) stays out of the
// Lambda path: only the demo and the backtest import it.
package demo
