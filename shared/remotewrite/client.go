package remotewrite

import (
	"github.com/sigmawatch/sigmawatch/shared/endpoint"

	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"
)

// Client sends write requests to one remote-write endpoint. It is safe for
// concurrent use.
type Client struct {
	url         string
	host        string
	http        *http.Client
	logger      *slog.Logger
	userAgent   string
	minBackoff  time.Duration
	maxBackoff  time.Duration
	maxAttempts int
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	jitter      func(d time.Duration) time.Duration
}

// Option configures a [Client].
type Option func(*Client) error

// WithHTTPClient sets the HTTP client; its Transport is where the
// authentication chain (promauth) goes. Default: a client with no timeout of
// its own, since the context bounds every attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("nil http client")
		}
		c.http = hc
		return nil
	}
}

// WithLogger sets the logger for retries (debug level). Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithUserAgent sets the User-Agent. Default: "sigmawatch/<module version>".
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if ua == "" {
			return errors.New("empty user agent")
		}
		c.userAgent = ua
		return nil
	}
}

// WithBackoff sets the first and the largest wait between attempts. The wait
// doubles after every failed attempt and is jittered to between half and all
// of its value, so that concurrent senders do not retry in lockstep.
// Default: 100ms and 5s.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(c *Client) error {
		if minWait <= 0 || maxWait < minWait {
			return fmt.Errorf("backoff: need 0 < min <= max (got %s, %s)", minWait, maxWait)
		}
		c.minBackoff, c.maxBackoff = minWait, maxWait
		return nil
	}
}

// WithMaxAttempts bounds the attempts per Write, the first one included.
// Default: 10; the context's deadline usually ends the retries first.
func WithMaxAttempts(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("max attempts must be >= 1 (got %d)", n)
		}
		c.maxAttempts = n
		return nil
	}
}

// WithClock replaces the clock used for Retry-After dates and the deadline
// check, and the wait between attempts (which must return ctx.Err() when ctx
// ends first). For tests; testing/synctest works with the defaults too.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) error {
		if now == nil || sleep == nil {
			return errors.New("nil clock")
		}
		c.now, c.sleep = now, sleep
		return nil
	}
}

// NewClient returns a client for the remote-write endpoint rawURL
// (http or https). Credentials belong in the HTTP client's transport, not in
// the URL: a URL with user info is refused.
func NewClient(rawURL string, opts ...Option) (*Client, error) {
	u, err := endpoint.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("remote write url: %w", err)
	}
	c := &Client{
		url:         u.String(),
		host:        u.Host,
		http:        &http.Client{},
		logger:      slog.New(slog.DiscardHandler),
		userAgent:   defaultUserAgent(),
		minBackoff:  100 * time.Millisecond,
		maxBackoff:  5 * time.Second,
		maxAttempts: 10,
		now:         time.Now,
		sleep:       sleepCtx,
		jitter:      equalJitter,
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("remote write client for %s: %w", u.Host, err)
		}
	}
	c.logger = c.logger.With("component", "remotewrite", "host", c.host)
	return c, nil
}

func defaultUserAgent() string {
	version := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	return "sigmawatch/" + version
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// equalJitter returns a wait in [d/2, d].
func equalJitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(d-half+1)
}

// backoff is the jittered wait after the given failed attempt (1-based).
func (c *Client) backoff(attempt int) time.Duration {
	d := c.minBackoff
	for i := 1; i < attempt && d < c.maxBackoff; i++ {
		d *= 2
	}
	return c.jitter(min(d, c.maxBackoff))
}

// Write sends series as exactly one write request, retrying it whole on
// network errors, 5xx and 429. It gives up early, with the last error, when
// the next wait would end after ctx's deadline. An empty request sends
// nothing. Invalid series are refused before anything is sent. A receiver's
// Retry-After is honoured as given (up to 24h), so give ctx a deadline: in
// Lambda, the invocation's.
//
// The returned error is, or wraps, an *[Error] when the receiver failed.
func (c *Client) Write(ctx context.Context, series []Series) error {
	if len(series) == 0 {
		return nil
	}
	// A fresh body per request: the transport may still read it after Do
	// returns (see http.RoundTripper), so it must not go back into a pool.
	body, err := Encode(nil, series)
	if err != nil {
		return fmt.Errorf("remote write to %s: %w", c.host, err)
	}
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, body)
		if err == nil {
			return nil
		}
		var werr *Error
		if !errors.As(err, &werr) || !werr.Retryable {
			return err
		}
		if attempt >= c.maxAttempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		wait := werr.RetryAfter
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			return fmt.Errorf("giving up after %d attempts, the next in %s would pass the deadline: %w", attempt, wait, err)
		}
		c.logger.DebugContext(ctx, "remote write failed, retrying",
			"attempt", attempt, "status", werr.StatusCode, "wait_ms", wait.Milliseconds(), "err", err)
		if err2 := c.sleep(ctx, wait); err2 != nil {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, errors.Join(err2, err))
		}
	}
}

// attempt sends one request and classifies its outcome.
func (c *Client) attempt(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("remote write to %s: new request: %w", c.host, err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("remote write to %s: %w", c.host, ctx.Err())
		}
		// url.Error repeats the full URL; keep the cause only.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return &Error{Host: c.host, Retryable: true, Err: err}
	}
	// Everything worth reading is read below; closing only frees the connection.
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 == 2 {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	return &Error{
		Host:       c.host,
		StatusCode: code,
		Body:       string(bytes.ToValidUTF8(msg, []byte("?"))),
		Retryable:  code >= 500 || code == http.StatusTooManyRequests,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
}
