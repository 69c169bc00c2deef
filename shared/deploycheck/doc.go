// Package deploycheck holds no code, only tests: they fail when the deployment
// (template.yaml, infra/cross-account-role.yaml, samconfig.toml, the Makefile's
// deploy targets, infra/) drifts from the code or from itself.
//
// # What is checked
//
//   - cfn-lint, which runs the AWS SAM transform offline, reports nothing on
//     either template in three regions, informational rules included. A
//     missing cfn-lint is a failure that says how to install it
//     (`pip install cfn-lint`), never a skip.
//   - The SAM-transformed template (testdata/samtransform.py runs the
//     samtranslator cfn-lint uses) generates no role, policy or permission of
//     its own, keeps every schedule on time (FlexibleTimeWindow OFF) with its
//     retry policy and dead-letter queue, reserves no concurrency by default
//     (a new account has 10 executions, Lambda keeps 100 unreserved), and tags
//     every resource that takes tags for cost allocation.
//   - What CloudFormation refuses before creating anything: cfn_test.go
//     evaluates parameter constraints, Rules and Conditions for a given set of
//     parameter values, so a test can state "this deploy is refused, naming
//     that parameter" and look at the resources another one really creates.
//   - sigmawatch's own failures reach a person: every alarm notifies the
//     operations topic, which always has an email subscription; each function
//     has a dead man's switch (no invocation, missing data breaching), errors,
//     throttles and duration-near-timeout alarms; every failure queue alarms on
//     arrivals; SMS delivery failures and spend near the limit alarm; CloudWatch
//     may use the topics' key for this stack's alarms only, and every alarm name
//     falls under that condition; both topics refuse publishes without TLS.
//   - Every SIGMAWATCH_* variable each function reads is set by the template for
//     that function and no other is; variables named in the Go sources must be
//     known to the template (or local-only, such as SIGMAWATCH_AUTH_FILE).
//   - The IAM actions each role is granted equal the AWS APIs the code calls plus
//     an explicit allow-list of what the platform needs (log delivery, the
//     on-failure destination, the scheduler's invoke and dead-letter queue, SMS
//     delivery logs), and each is scoped to the resource it needs; KMS only
//     through the service that needs the key. The cross-account role in
//     infra/cross-account-role.yaml may call exactly what collect calls through
//     a job's role, and trusts only the collect role with an external id.
//   - The schedule rates equal the example configs' interval and cannot overlap
//     the functions' timeouts, the scheduled time reaches the function through
//     the schedule's Input, and CollectRoleArns mirrors collect.yaml's role_arns.
//   - AlertParts (issue 14) deploys one enabled alert schedule per part, up to
//     eight, each with its part's groups, the rest disabled; the function gets
//     the same split and its start-up check (alertengine.CheckParts) refuses a
//     group in two parts or in none, which CloudFormation's Rules cannot see;
//     make deploy runs the same check on the saved AlertParts first.
//   - samconfig.toml never syncs the production stack, holds no personal data,
//     and the guided deploy writes to the git-ignored samconfig.local.toml; the
//     SAM build targets package COLLECT_CONFIG / RULES_CONFIG and refuse a bad one.
//   - The make targets that act on a deployed stack (sms-setup,
//     test-notification) run against moto on a stand-in stack with the
//     template's outputs, and do what the README's deploy steps say.
//   - The store guides (infra/guides) give a receiver block that is valid in
//     collect.yaml, of their store's kind, with the same out-of-order window
//     they recommend for the store: only an AMP URL is recognised on its own.
//   - The Grafana dashboard parses, every PromQL expression in it and in the
//     example rules parses with Prometheus's own parser, and names only series
//     that sigmawatch writes.
//
// # Keeping it current
//
// The AWS APIs the code calls and the variables it reads are listed once, in
// contract_test.go. When a function starts calling a new API, add it there and
// grant it in template.yaml; the tests fail until both agree.
package deploycheck
