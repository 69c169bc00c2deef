package remotewrite

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a failed remote-write attempt: either the receiver answered with
// a non-2xx status (StatusCode > 0) or the request did not get an answer
// (StatusCode == 0, Err holds the cause).
type Error struct {
	// Host is the receiver's host[:port]; never the full URL, whose path or
	// query may carry tokens.
	Host string
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// Body is the start of the receiver's answer (at most maxErrorBody bytes).
	Body string
	// Retryable reports whether sending the same request again may succeed:
	// network errors, 5xx and 429.
	Retryable bool
	// RetryAfter is the receiver's Retry-After, 0 when absent.
	RetryAfter time.Duration
	// Err is the transport error when there was no response.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("remote write to ")
	b.WriteString(e.Host)
	if e.StatusCode != 0 {
		b.WriteString(": HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		if t := http.StatusText(e.StatusCode); t != "" {
			b.WriteByte(' ')
			b.WriteString(t)
		}
		if body := strings.TrimSpace(e.Body); body != "" {
			b.WriteString(": ")
			b.WriteString(body)
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// maxErrorBody bounds how much of a receiver's error answer we keep: enough
// for Prometheus's and Mimir's messages, small enough for a log line.
const maxErrorBody = 512

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// Absent, malformed or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Bound before multiplying: a silly value must not overflow.
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
