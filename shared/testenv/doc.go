// Package testenv starts the real local stand-ins that the tests run against:
// moto (CloudWatch, SNS, SQS, STS, Secrets Manager), Prometheus with its
// remote-write receiver, VictoriaMetrics, Cortex (the engine inside Amazon
// Managed Service for Prometheus, which stores a request series by series),
// Alertmanager and the AWS Lambda Runtime Interface Emulator running a
// freshly built bootstrap.
//
// Each helper picks a free loopback port (and tries again when the port turns
// out to be taken), waits until the server answers, and stops the process it
// started, by its own PID, at cleanup. Children get a parent-death signal so
// that a test binary killed by its timeout leaves nothing behind.
//
// A missing binary fails the test with a message that says how to install it:
// `make test` installs everything (Cortex it builds once from the Go module
// proxy into .tools/bin), and a stand-in test is never skipped.
//
// One moto serves a whole test package (start it in TestMain with StartMoto
// and give each test unique resource names); each test that writes gets a
// fresh Prometheus or VictoriaMetrics with its own data directory.
package testenv
