package promql

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
)

// queryAttempts bounds how often a query is sent when the connection fails
// before an answer arrives. Queries are idempotent, so resending is safe;
// an HTTP answer, even an error, is never retried here.
const queryAttempts = 3

// retryTransport resends a query whose connection failed: a pooled
// keep-alive connection that the server (or a proxy, or a restarted
// Prometheus) closed meanwhile fails with EOF or a reset on first use, and a
// connection cut mid-answer leaves a truncated body.
type retryTransport struct {
	rt    http.RoundTripper
	sleep func(ctx context.Context, d time.Duration) error
}

func (t retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var err error
	for attempt := range queryAttempts {
		if attempt > 0 {
			if req.Body != nil {
				if req.GetBody == nil {
					return nil, err
				}
				body, berr := req.GetBody()
				if berr != nil {
					return nil, err
				}
				req = req.Clone(req.Context())
				req.Body = body
			}
			if serr := t.sleep(req.Context(), time.Duration(attempt)*100*time.Millisecond); serr != nil {
				return nil, err
			}
		}
		var resp *http.Response
		resp, err = t.rt.RoundTrip(req)
		if err == nil {
			// The API client reads the whole answer anyway; reading it here
			// turns a connection cut mid-body into a retryable error.
			var body []byte
			body, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close() // read whole: nothing left to lose
			if err == nil {
				if cap(body)-len(body) > len(body)/8 {
					// ReadAll's slack (up to as much again) would be held
					// while the answer is decoded.
					body = bytes.Clone(body)
				}
				recordStats(req.Context(), body)
				resp.Body = &answer{Reader: bytes.NewReader(body), body: body}
				resp.ContentLength = int64(len(body))
				return resp, nil
			}
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || req.Context().Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// answer is a body the transport has read whole. answerClient hands its
// bytes to the API client as they are: client_golang's own client would
// read them into a buffer of its own, a second copy of every answer (with
// up to as much again of slack) held while it is decoded.
type answer struct {
	*bytes.Reader
	body []byte
}

func (a *answer) Close() error { return nil }

// answerClient is the api.Client the v1 API sends its requests through:
// client_golang's, except that an answer the transport read whole is
// handed over without a copy.
type answerClient struct {
	api.Client
	hc *http.Client
}

func (c answerClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.hc.Do(req.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close() // read whole (answer) or below
	var body []byte
	if a, ok := resp.Body.(*answer); ok {
		body = a.body
	} else if body, err = io.ReadAll(resp.Body); err != nil {
		return resp, body, err
	}
	if st := eachOf(ctx); st != nil && resp.StatusCode/100 == 2 {
		// A QueryEach: its samples go to its function as they are
		// decoded (each.go).
		body = st.stream(body)
	}
	return resp, body, nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
