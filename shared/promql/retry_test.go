package promql

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryTransport(t *testing.T) {
	t.Parallel()
	noSleep := func(context.Context, time.Duration) error { return nil }
	ok := &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}"))}
	tests := []struct {
		name      string
		failures  int
		err       error
		wantCalls int
		wantErr   bool
	}{
		{"first try", 0, nil, 1, false},
		{"stale connection then answer", 1, io.ErrUnexpectedEOF, 2, false},
		{"down for good", 10, errors.New("connection refused"), queryAttempts, true},
		{"deadline is not retried", 10, context.DeadlineExceeded, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			var bodies []string
			rt := retryTransport{sleep: noSleep, rt: rtFunc(func(r *http.Request) (*http.Response, error) {
				calls++
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				if calls <= tt.failures {
					return nil, tt.err
				}
				return ok, nil
			})}
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/api/v1/query", strings.NewReader("query=up"))
			require.NoError(t, err)
			_, err = rt.RoundTrip(req)
			require.Equal(t, tt.wantCalls, calls)
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			for _, b := range bodies {
				require.Equal(t, "query=up", b, "a resent query carries its whole body")
			}
		})
	}
}

type failingBody struct{ io.Reader }

func (failingBody) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
func (failingBody) Close() error             { return nil }

func TestRetryTransportTruncatedBody(t *testing.T) {
	t.Parallel()
	calls := 0
	rt := retryTransport{sleep: func(context.Context, time.Duration) error { return nil }, rt: rtFunc(func(*http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			return &http.Response{StatusCode: 200, Body: failingBody{}}, nil
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"status":"success"}`))}, nil
	})}
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/api/v1/query?query=up", nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.JSONEq(t, `{"status":"success"}`, string(b))
	require.Equal(t, 2, calls)
}

// TestAnswerHandedOverWithoutCopy: the API client decodes the very bytes
// the transport read (an answer of 100,000 series was held twice, and
// client_golang's buffer with up to as much again of slack), trimmed of
// ReadAll's slack.
func TestAnswerHandedOverWithoutCopy(t *testing.T) {
	t.Parallel()
	payload := strings.Repeat(`{"metric":{"instance":"i-0"},"value":[1,"1"]},`, 5000)
	var read []byte
	rt := retryTransport{rt: rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(payload)), Request: r}, nil
	}), sleep: func(context.Context, time.Duration) error { return nil }}
	spy := rtFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		if err == nil {
			read = resp.Body.(*answer).body
		}
		return resp, err
	})
	c := answerClient{hc: &http.Client{Transport: spy}}
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/api/v1/query", nil)
	require.NoError(t, err)
	resp, body, err := c.Do(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, payload, string(body))
	require.Same(t, &read[0], &body[0], "the client's body is the transport's, not a copy")
	require.LessOrEqual(t, cap(body), len(body)+len(body)/8, "no slack held while the answer is decoded")
}
