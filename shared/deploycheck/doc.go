// Package deploycheck holds no code, only tests: they fail when the deployment
// (template.yaml, samconfig.toml, infra/) drifts from the code or from itself.
//
// # What is checked
//
//   - cfn-lint, which runs the AWS SAM transform offline, reports nothing on
//     template.yaml, informational rules included. A missing cfn-lint is a
//     failure that says how to install it (`pip install cfn-lint`), never a skip.
//   - Every SIGMAWATCH_* variable each function reads is set by the template for
//     that function and no other is; variables named in the Go sources must be
//     known to the template (or local-only, such as SIGMAWATCH_AUTH_FILE).
//   - The IAM actions each role is granted equal the AWS APIs the code calls plus
//     an explicit allow-list of what the platform needs (log delivery, the
//     on-failure destination, the scheduler's invoke and dead-letter queue), and
//     each is scoped to the one resource it needs.
//   - The schedule rates equal the example configs' interval, the scheduled
//     time reaches the function through the schedule's Input, and the
//     CollectRoleArns parameter mirrors the role_arns of collect.yaml.
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
