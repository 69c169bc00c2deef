package promauth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promauth"
)

// store accepts only the bearer token it currently holds and records what
// each attempt carried.
type store struct {
	mu       sync.Mutex
	valid    string
	status   int // the refusal: 401 or 403
	attempts []string
	bodies   []string
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.attempts = append(s.attempts, got)
	s.bodies = append(s.bodies, string(b))
	if got != s.valid {
		w.WriteHeader(s.status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *store) set(valid string) {
	s.mu.Lock()
	s.valid = valid
	s.mu.Unlock()
}

func (s *store) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.attempts...)
}

// secretSource stands in for Secrets Manager: a value that can be rotated,
// and a count of reads.
type secretSource struct {
	mu    sync.Mutex
	value string
	err   error
	reads atomic.Int32
}

func (s *secretSource) load(context.Context) (promauth.Credentials, error) {
	s.reads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return promauth.Credentials{}, s.err
	}
	return promauth.Credentials{Token: promauth.Secret(s.value)}, nil
}

func (s *secretSource) rotate(v string, err error) {
	s.mu.Lock()
	s.value, s.err = v, err
	s.mu.Unlock()
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func post(t *testing.T, hc *http.Client, url, body string) int {
	t.Helper()
	resp, err := hc.Post(url, "application/x-protobuf", strings.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// TestRotatedSecretIsReadAgain: the secret is rotated while the client is
// warm. The store's 401 (or 403) makes the chain read the secret once more
// and resend the request once with the new value; a refusal of the current
// value goes back to the caller after that one read. After the TTL the
// secret is read again without waiting for a refusal.
func TestRotatedSecretIsReadAgain(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			st := &store{valid: "tok-v1-RECOGNISABLE", status: status}
			srv := httptest.NewServer(st)
			t.Cleanup(srv.Close)
			src := &secretSource{value: "tok-v1-RECOGNISABLE"}
			clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
			var logs bytes.Buffer
			rt, err := promauth.NewTransport(promauth.Config{
				Mode: "bearer", Token: "tok-v1-RECOGNISABLE", Reload: src.load,
				Targets: []string{srv.URL}, Now: clk.now,
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			}, http.DefaultTransport)
			require.NoError(t, err)
			hc := &http.Client{Transport: rt}

			require.Equal(t, http.StatusNoContent, post(t, hc, srv.URL+"/w", "one"))
			require.Zero(t, src.reads.Load(), "the secret read at start-up is used")

			// Rotation: the store now wants v2, the secret holds v2.
			src.rotate("tok-v2-RECOGNISABLE", nil)
			st.set("tok-v2-RECOGNISABLE")
			require.Equal(t, http.StatusNoContent, post(t, hc, srv.URL+"/w", "two"))
			require.Equal(t, int32(1), src.reads.Load())
			require.Equal(t, []string{"tok-v1-RECOGNISABLE", "tok-v1-RECOGNISABLE", "tok-v2-RECOGNISABLE"}, st.seen())
			require.Equal(t, []string{"one", "two", "two"}, st.bodies, "the resent request carries the same body")

			// The store refuses the current secret: one read, no resend, the
			// refusal reaches the caller.
			st.set("tok-v3-RECOGNISABLE")
			require.Equal(t, status, post(t, hc, srv.URL+"/w", "three"))
			require.Equal(t, int32(2), src.reads.Load())
			require.Len(t, st.seen(), 4, "no resend with the same value")

			// Before the TTL nothing is read ahead: v2 goes out, is refused,
			// and the read on the refusal finds v3.
			src.rotate("tok-v3-RECOGNISABLE", nil)
			clk.advance(promauth.DefaultCredentialTTL - time.Second)
			n := len(st.seen())
			require.Equal(t, http.StatusNoContent, post(t, hc, srv.URL+"/w", "four"))
			require.Equal(t, []string{"tok-v2-RECOGNISABLE", "tok-v3-RECOGNISABLE"}, st.seen()[n:])
			require.Equal(t, int32(3), src.reads.Load())

			// After the TTL the secret is read before sending.
			reads := src.reads.Load()
			src.rotate("tok-v4-RECOGNISABLE", nil)
			st.set("tok-v4-RECOGNISABLE")
			clk.advance(promauth.DefaultCredentialTTL)
			n = len(st.seen())
			require.Equal(t, http.StatusNoContent, post(t, hc, srv.URL+"/w", "six"))
			require.Equal(t, reads+1, src.reads.Load(), "the TTL read")
			require.Equal(t, []string{"tok-v4-RECOGNISABLE"}, st.seen()[n:], "the new value goes out first time")

			// A failed TTL read keeps the working credentials.
			src.rotate("", errors.New("ThrottlingException: rate exceeded"))
			clk.advance(promauth.DefaultCredentialTTL)
			require.Equal(t, http.StatusNoContent, post(t, hc, srv.URL+"/w", "seven"))
			require.Contains(t, logs.String(), "ThrottlingException")
			for _, v := range []string{"v1", "v2", "v3", "v4"} {
				require.NotContains(t, logs.String(), "tok-"+v+"-RECOGNISABLE", "no secret in the logs")
			}
			t.Logf("rotated the secret three times while warm (%d secret reads); store refusals answered %d; logs:\n%s", src.reads.Load(), status, logs.String())
		})
	}
}

// TestConcurrentRefusalsReadOnce: requests in flight together, all refused
// with the old value, cause one read of the secret, not one each.
func TestConcurrentRefusalsReadOnce(t *testing.T) {
	t.Parallel()
	st := &store{valid: "old", status: http.StatusUnauthorized}
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	src := &secretSource{value: "old"}
	rt, err := promauth.NewTransport(promauth.Config{
		Mode: "bearer", Token: "old", Reload: src.load, Targets: []string{srv.URL},
	}, http.DefaultTransport)
	require.NoError(t, err)
	hc := &http.Client{Transport: rt}
	require.Equal(t, http.StatusNoContent, post(t, hc, srv.URL, "warm"))
	src.rotate("new", nil)
	st.set("new")
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			resp, err := hc.Post(srv.URL, "text/plain", strings.NewReader("x"))
			if err == nil {
				codes[i] = resp.StatusCode
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	for _, c := range codes {
		require.Equal(t, http.StatusNoContent, c)
	}
	require.Equal(t, int32(1), src.reads.Load(), "refusals of one value share one read")
	t.Logf("%d concurrent requests refused with the old value: %d secret reads", len(codes), src.reads.Load())
}
