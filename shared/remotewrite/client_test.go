package remotewrite_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

func oneSeries() []remotewrite.Series {
	return []remotewrite.Series{{
		Labels:  lbl("region", "us-east-1", "__name__", "aws_sqs_sent_sum", "dimension_QueueName", "orders"),
		Samples: []remotewrite.Sample{{T: 1_700_000_000_000, V: 3}, {T: 1_700_000_060_000, V: 4}},
	}}
}

// recordedSleep records the waits a client asks for instead of sleeping.
type recordedSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordedSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func (r *recordedSleep) got() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}

func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func TestWriteSendsSpecRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		method string
		header http.Header
		req    *prompb.WriteRequest
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- seen{method: r.Method, header: r.Header.Clone(), req: decode(t, body)}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	c, err := remotewrite.NewClient(srv.URL+"/api/v1/write", remotewrite.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	require.NoError(t, c.Write(t.Context(), oneSeries()))

	s := <-got
	require.Equal(t, http.MethodPost, s.method)
	require.Equal(t, "snappy", s.header.Get("Content-Encoding"))
	require.Equal(t, "application/x-protobuf", s.header.Get("Content-Type"))
	require.Equal(t, "0.1.0", s.header.Get("X-Prometheus-Remote-Write-Version"))
	require.True(t, strings.HasPrefix(s.header.Get("User-Agent"), "sigmawatch/"), s.header.Get("User-Agent"))
	want := []prompb.TimeSeries{{
		Labels:  plbl("__name__", "aws_sqs_sent_sum", "dimension_QueueName", "orders", "region", "us-east-1"),
		Samples: []prompb.Sample{{Timestamp: 1_700_000_000_000, Value: 3}, {Timestamp: 1_700_000_060_000, Value: 4}},
	}}
	if diff := cmp.Diff(want, s.req.Timeseries, cmpOpts()); diff != "" {
		t.Fatalf("received series (-want +got):\n%s", diff)
	}
}

func TestWriteCustomUserAgentAndEmptyRequest(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var ua atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		ua.Store(r.UserAgent())
	}))
	t.Cleanup(srv.Close)
	c, err := remotewrite.NewClient(srv.URL, remotewrite.WithUserAgent("sigmawatch/1.2.3"))
	require.NoError(t, err)

	require.NoError(t, c.Write(t.Context(), nil))
	require.Zero(t, calls.Load(), "an empty request must send nothing")

	require.NoError(t, c.Write(t.Context(), oneSeries()))
	require.Equal(t, int32(1), calls.Load())
	require.Equal(t, "sigmawatch/1.2.3", ua.Load())
}

// statusServer answers with the given statuses in turn (the last one
// repeats), each with its headers and body, and counts the attempts.
func statusServer(t *testing.T, answers ...answer) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		i := int(n.Add(1)) - 1
		a := answers[min(i, len(answers)-1)]
		if a.hangup {
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("hijack unsupported")
				return
			}
			conn, _, err := hj.Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

type answer struct {
	status int
	header map[string]string
	body   string
	hangup bool // close the connection without answering
}

func TestWriteRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		answers      []answer
		maxAttempts  int
		wantAttempts int32
		wantErr      string // empty: success
		wantStatus   int
		retryable    bool
		checkWaits   func(t *testing.T, waits []time.Duration)
	}{
		{
			name:         "500 then 200 is retried after a backoff",
			answers:      []answer{{status: 500, body: "boom"}, {status: 200}},
			wantAttempts: 2,
			checkWaits: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 1)
				require.GreaterOrEqual(t, waits[0], 50*time.Millisecond)
				require.LessOrEqual(t, waits[0], 100*time.Millisecond)
			},
		},
		{
			name: "429 honours Retry-After seconds",
			answers: []answer{
				{status: 429, header: map[string]string{"Retry-After": "7"}},
				{status: 204},
			},
			wantAttempts: 2,
			checkWaits: func(t *testing.T, waits []time.Duration) {
				require.Equal(t, []time.Duration{7 * time.Second}, waits)
			},
		},
		{
			name: "503 honours Retry-After as an HTTP date",
			answers: []answer{
				{status: 503, header: map[string]string{"Retry-After": fixedNow().Add(90 * time.Second).Format(http.TimeFormat)}},
				{status: 200},
			},
			wantAttempts: 2,
			checkWaits: func(t *testing.T, waits []time.Duration) {
				require.Equal(t, []time.Duration{90 * time.Second}, waits)
			},
		},
		{
			name:         "network error is retried",
			answers:      []answer{{hangup: true}, {status: 200}},
			wantAttempts: 2,
		},
		{
			name:         "400 is not retried and carries the body",
			answers:      []answer{{status: 400, body: "out of order sample\n"}},
			wantAttempts: 1,
			wantErr:      "HTTP 400 Bad Request: out of order sample",
			wantStatus:   400,
			checkWaits:   func(t *testing.T, waits []time.Duration) { require.Empty(t, waits) },
		},
		{
			name:         "413 is not retried",
			answers:      []answer{{status: 413}},
			wantAttempts: 1,
			wantErr:      "HTTP 413",
			wantStatus:   413,
		},
		{
			name:         "long body is truncated",
			answers:      []answer{{status: 400, body: strings.Repeat("x", 5000)}},
			wantAttempts: 1,
			wantErr:      strings.Repeat("x", 512),
			wantStatus:   400,
		},
		{
			name:         "gives up after max attempts with growing waits",
			answers:      []answer{{status: 502}},
			maxAttempts:  4,
			wantAttempts: 4,
			wantErr:      "giving up after 4 attempts",
			wantStatus:   502,
			retryable:    true,
			checkWaits: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 3)
				for i, upper := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
					require.GreaterOrEqual(t, waits[i], upper/2, "wait %d", i)
					require.LessOrEqual(t, waits[i], upper, "wait %d", i)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, attempts := statusServer(t, tt.answers...)
			sl := &recordedSleep{}
			opts := []remotewrite.Option{
				remotewrite.WithHTTPClient(srv.Client()),
				remotewrite.WithBackoff(100*time.Millisecond, 300*time.Millisecond),
				remotewrite.WithClock(fixedNow, sl.sleep),
			}
			if tt.maxAttempts > 0 {
				opts = append(opts, remotewrite.WithMaxAttempts(tt.maxAttempts))
			}
			c, err := remotewrite.NewClient(srv.URL+"/write?tenant=secret-token", opts...)
			require.NoError(t, err)

			err = c.Write(t.Context(), oneSeries())
			require.Equal(t, tt.wantAttempts, attempts.Load())
			if tt.checkWaits != nil {
				tt.checkWaits(t, sl.got())
			}
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "secret-token", "the URL's query must not leak into errors")
			var werr *remotewrite.Error
			require.ErrorAs(t, err, &werr)
			require.Equal(t, tt.wantStatus, werr.StatusCode)
			require.Equal(t, tt.retryable, werr.Retryable)
			require.LessOrEqual(t, len(werr.Body), 512)
		})
	}
}

func TestWriteRespectsDeadline(t *testing.T) {
	t.Parallel()
	srv, attempts := statusServer(t, answer{status: 429, header: map[string]string{"Retry-After": "60"}})
	c, err := remotewrite.NewClient(srv.URL, remotewrite.WithHTTPClient(srv.Client()))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err = c.Write(ctx, oneSeries())
	elapsed := time.Since(start)

	require.ErrorContains(t, err, "would pass the deadline")
	var werr *remotewrite.Error
	require.ErrorAs(t, err, &werr)
	require.Equal(t, http.StatusTooManyRequests, werr.StatusCode)
	require.Equal(t, 60*time.Second, werr.RetryAfter)
	require.Equal(t, int32(1), attempts.Load())
	require.Less(t, elapsed, time.Second, "must give up at once, not wait for the deadline")
}

func TestWriteCancelledDuringWait(t *testing.T) {
	t.Parallel()
	srv, _ := statusServer(t, answer{status: 500})
	c, err := remotewrite.NewClient(srv.URL, remotewrite.WithHTTPClient(srv.Client()),
		remotewrite.WithBackoff(time.Hour, time.Hour), remotewrite.WithMaxAttempts(3))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	err = c.Write(ctx, oneSeries())
	require.ErrorIs(t, err, context.Canceled)
	var werr *remotewrite.Error
	require.ErrorAs(t, err, &werr, "the receiver's last answer stays visible")
}

func TestWriteRefusesInvalidSeriesWithoutSending(t *testing.T) {
	t.Parallel()
	srv, attempts := statusServer(t, answer{status: 200})
	c, err := remotewrite.NewClient(srv.URL)
	require.NoError(t, err)
	err = c.Write(t.Context(), []remotewrite.Series{{Labels: lbl("__name__", "x"), Samples: []remotewrite.Sample{{T: 2, V: 1}, {T: 1, V: 1}}}})
	require.ErrorContains(t, err, "timestamp 1 not after 2")
	require.Zero(t, attempts.Load())
}

// roundTripFunc lets a handler answer in memory, so that testing/synctest's
// fake clock can run: real sockets would keep the bubble from idling.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func inMemory(h http.Handler) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Result(), nil
	})}
}

// TestWriteRetryTimingSynctest runs the default timer-based waits on
// synctest's fake clock: the time between attempts is exactly what the
// receiver asked for, and backoff waits stay within their bounds.
func TestWriteRetryTimingSynctest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		statuses := []int{503, 429, 500, 204}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			at = append(at, time.Now())
			code := statuses[len(at)-1]
			if code == 429 {
				w.Header().Set("Retry-After", "5")
			}
			w.WriteHeader(code)
		})
		c, err := remotewrite.NewClient("http://receiver.example:9090/api/v1/write",
			remotewrite.WithHTTPClient(inMemory(h)), remotewrite.WithBackoff(time.Second, 4*time.Second))
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		require.NoError(t, c.Write(ctx, oneSeries()))

		require.Len(t, at, 4)
		first := at[1].Sub(at[0]) // backoff after attempt 1: [0.5s, 1s]
		require.GreaterOrEqual(t, first, 500*time.Millisecond)
		require.LessOrEqual(t, first, time.Second)
		require.Equal(t, 5*time.Second, at[2].Sub(at[1]), "Retry-After: 5")
		third := at[3].Sub(at[2]) // backoff after attempt 3: [2s, 4s]
		require.GreaterOrEqual(t, third, 2*time.Second)
		require.LessOrEqual(t, third, 4*time.Second)
	})
}

func TestNewClientRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		opts      []remotewrite.Option
		wantErr   string
		notInErr  string
	}{
		{name: "scheme", url: "ftp://x/y", wantErr: "want an http or https URL"},
		{name: "no host", url: "http:///write", wantErr: "no host"},
		{name: "credentials in URL", url: "https://user:hunter2@amp.example/write", wantErr: "credentials in the URL", notInErr: "hunter2"},
		{name: "unparsable", url: "http://x/%zz?token=hunter2", wantErr: "remote write url", notInErr: "hunter2"},
		{name: "bad backoff", url: "http://x", opts: []remotewrite.Option{remotewrite.WithBackoff(time.Second, time.Millisecond)}, wantErr: "backoff"},
		{name: "bad attempts", url: "http://x", opts: []remotewrite.Option{remotewrite.WithMaxAttempts(0)}, wantErr: "max attempts"},
		{name: "nil http client", url: "http://x", opts: []remotewrite.Option{remotewrite.WithHTTPClient(nil)}, wantErr: "nil http client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := remotewrite.NewClient(tt.url, tt.opts...)
			require.ErrorContains(t, err, tt.wantErr)
			if tt.notInErr != "" {
				require.NotContains(t, err.Error(), tt.notInErr)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *remotewrite.Error
		want string
	}{
		{
			name: "status and body",
			err:  &remotewrite.Error{Host: "prom:9090", StatusCode: 400, Body: "bad\n"},
			want: "remote write to prom:9090: HTTP 400 Bad Request: bad",
		},
		{
			name: "retry after",
			err:  &remotewrite.Error{Host: "prom:9090", StatusCode: 429, RetryAfter: 3 * time.Second, Retryable: true},
			want: "remote write to prom:9090: HTTP 429 Too Many Requests (retry after 3s)",
		},
		{
			name: "transport error",
			err:  &remotewrite.Error{Host: "prom:9090", Err: io.ErrUnexpectedEOF, Retryable: true},
			want: "remote write to prom:9090: unexpected EOF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.err.Error())
			if tt.err.Err != nil {
				require.ErrorIs(t, tt.err, tt.err.Err)
			}
		})
	}
}
