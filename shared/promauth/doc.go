// Package promauth builds the one http.RoundTripper chain that sigmawatch
// uses for both remote write and PromQL queries: extra headers (for example
// X-Scope-OrgID for Mimir), then one of no auth, HTTP basic, a bearer token,
// or AWS Signature V4 for Amazon Managed Service for Prometheus (service
// "aps").
//
// Secrets are of type [Secret], which prints, marshals and logs as
// "<secret>". Basic and bearer credentials come from a Secrets Manager secret
// or a file ([LoadCredentials]), never from an environment value, and no
// error of this package contains them.
//
// SigV4 signs the SHA-256 of the whole body, so the body is buffered; remote
// write bodies are small (compressed, bounded by the sender's batches) and
// query bodies smaller. Credentials are fetched from the provider for every
// request (through a cache, so this is a lookup, and rotated credentials are
// picked up without a restart). AMP does not require the
// X-Amz-Content-Sha256 header (Prometheus's own SigV4 transport does not send
// it), so it is not added.
package promauth
