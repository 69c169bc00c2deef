// Package promauth builds the one http.RoundTripper chain that sigmawatch
// uses for both remote write and PromQL queries: extra headers (for example
// X-Scope-OrgID for Mimir), then one of no auth, HTTP basic, a bearer token,
// or AWS Signature V4 for Amazon Managed Service for Prometheus (service
// "aps").
//
// Secrets are of type [Secret], which prints, marshals and logs as
// "<secret>". Basic and bearer credentials come from a Secrets Manager secret
// or a file ([LoadCredentials]), never from an environment value, and no
// error or log line of this package contains them.
//
// # Where credentials go
//
// Credentials and extra headers are sent only to the store's hosts
// ([Config.Targets]). The chain sits in the http.Client's transport, so on a
// redirect the client's own rule (drop Authorization for another host) does
// not help: the chain would add it again, or sign for the other host with
// the session token. A request for any other host is therefore refused. Over
// plain http, basic, bearer and SigV4 credentials travel in clear, so http
// is refused for them except to a loopback host (localhost, 127.0.0.0/8, ::1:
// tests, or a local proxy that adds TLS).
//
// # Credentials that go stale
//
// A warm Lambda keeps its process for hours, and a secret may be rotated in
// the meantime. With [Config.Reload] set, basic and bearer credentials are
// read again after [DefaultCredentialTTL] (15 minutes) and when the store
// answers 401 or 403: if the value changed, the refused request is resent
// once with it; if not, the refusal goes back to the caller, which reports
// it. Requests refused together share one read. A failed read after the TTL
// keeps the working credentials and is logged; it is tried again a minute
// later.
//
// SigV4 signs the SHA-256 of the whole body, so the body is buffered; remote
// write bodies are small (compressed, bounded by the sender's batches) and
// query bodies smaller. Credentials are fetched from the provider for every
// request (through a cache, so this is a lookup, and rotated credentials are
// picked up without a restart). AMP does not require the
// X-Amz-Content-Sha256 header (Prometheus's own SigV4 transport does not send
// it), so it is not added.
package promauth
