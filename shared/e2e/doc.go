// Package e2e holds sigmawatch's end-to-end tests: the collect and alert
// CLIs, built as users build them, run as separate processes on their own
// schedules (each at its own phase, as rate schedules created at different
// times are) against moto's CloudWatch and SNS and a real Prometheus, with
// the shipped example configs. It has no code of its own; its tests are
// part of make test.
package e2e
