// Package remotewrite sends samples to a Prometheus remote-write 1.0 receiver
// (Prometheus, Amazon Managed Service for Prometheus, Grafana Mimir,
// VictoriaMetrics).
//
// # Sender contract
//
// The package implements the sender side of the remote-write 1.0
// specification:
//
//   - the body is a prompb.WriteRequest, snappy-compressed in the block format
//     (not the framed/stream format);
//   - the request carries Content-Encoding: snappy, Content-Type:
//     application/x-protobuf, X-Prometheus-Remote-Write-Version: 0.1.0 and our
//     own User-Agent;
//   - labels are sorted by name and unique, every series has a valid
//     __name__, samples are in strictly increasing time order per series;
//   - network errors, 5xx and 429 are retried with jittered exponential
//     backoff (Retry-After is honoured), never past the context's deadline;
//     other 4xx are never retried.
//
// # Encoding
//
// [Encode] writes the protobuf bytes of the prompb.WriteRequest directly from
// our [Series] instead of first copying every label and sample into prompb's
// structs: the output is byte-for-byte what prompb.WriteRequest.Marshal gives
// for the same request (checked by the tests and the fuzz test against
// prompb itself), and the conversion stays within about 1.3x of the cost of
// marshalling an already-built prompb request plus snappy (BENCHMARKS.md at the repository root).
//
// Receivers silently drop some malformed series while answering 2xx, so
// [Encode] validates the whole request first and refuses to build a body that
// a receiver could half-accept. An empty label value means "label absent" in
// Prometheus; such labels are dropped instead of rejected.
//
// # Atomicity
//
// [Client.Write] sends exactly one request for the series it is given. A stock
// Prometheus rejects a whole request (and stores none of it) when any sample
// is out of order, so the caller decides what must travel together; [Batches]
// only helps to group whole series under size limits, it never splits one.
//
// # Errors
//
// Failures of the receiver are reported as *[Error] (use errors.As): the HTTP
// status, the start of the receiver's answer and whether a retry could help.
// Messages name the receiver's host only, never the full URL, whose query may
// carry secrets.
package remotewrite
