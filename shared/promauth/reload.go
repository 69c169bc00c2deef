package promauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// DefaultCredentialTTL is how long basic or bearer credentials are used
// before they are read again from their secret or file. A rotated secret is
// also picked up at the store's first 401 or 403; the TTL bounds how long a
// warm function keeps a value that the store still accepts but that was
// replaced (rotation with a grace period), and how long a revoked value is
// used where the store answers something else.
const DefaultCredentialTTL = 15 * time.Minute

// reloadRetryAfter spaces out reads after a failed TTL read, which keeps
// the working credentials meanwhile.
const reloadRetryAfter = time.Minute

// Credentials are basic or bearer credentials as their secret or file holds
// them.
type Credentials struct {
	Username string
	Password Secret
	Token    Secret
}

// CredentialLoader reads the credentials again from where they live.
type CredentialLoader func(ctx context.Context) (Credentials, error)

// credState holds the credentials in use and when to read them again.
type credState struct {
	mu       sync.Mutex
	creds    Credentials
	gen      uint64 // counts reads; a request remembers the one it used
	loadedAt time.Time
	nextTry  time.Time // after a failed TTL read
	reload   CredentialLoader
	ttl      time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// current returns the credentials to send and their generation, reading
// them again first when the TTL has passed.
func (s *credState) current(ctx context.Context) (Credentials, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.reload != nil && now.Sub(s.loadedAt) >= s.ttl && !now.Before(s.nextTry) {
		fresh, err := s.reload(ctx)
		if err != nil {
			s.nextTry = now.Add(reloadRetryAfter)
			s.log.WarnContext(ctx, "store credentials: re-reading after the TTL failed; keeping the current ones",
				"ttl", s.ttl.String(), "retry_in", reloadRetryAfter.String(), "err", err)
			return s.creds, s.gen
		}
		s.swap(ctx, fresh, now, "ttl")
	}
	return s.creds, s.gen
}

// afterRefusal is called when the store refused credentials of generation
// gen. It reads them again unless another request already did since gen was
// sent, and returns what to resend with, or false when nothing new is
// available (the refusal then stands).
func (s *credState) afterRefusal(ctx context.Context, used Credentials, gen uint64, status int) (Credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		fresh, err := s.reload(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "store credentials: re-reading after a refusal failed", "status", status, "err", err)
			return used, false
		}
		s.swap(ctx, fresh, s.now(), "refused")
	}
	if s.creds == used {
		s.log.WarnContext(ctx, "store credentials: the store refuses the current ones", "status", status)
		return used, false
	}
	return s.creds, true
}

func (s *credState) swap(ctx context.Context, fresh Credentials, now time.Time, why string) {
	changed := fresh != s.creds
	s.creds, s.loadedAt, s.nextTry = fresh, now, time.Time{}
	s.gen++
	// A rotation noticed through a refusal is worth a line; the routine TTL
	// read is a detail.
	level := slog.LevelDebug
	if why != "ttl" {
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "store credentials: read again", "reason", why, "changed", changed)
}

// credTransport adds basic or bearer credentials, and resends a refused
// request once when re-reading them gave new ones.
type credTransport struct {
	next  http.RoundTripper
	mode  string
	state *credState
}

func (t *credTransport) header(c Credentials) string {
	if t.mode == ModeBasic {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+string(c.Password)))
	}
	return "Bearer " + string(c.Token)
}

func (t *credTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	creds, gen := t.state.current(ctx)
	if t.state.reload == nil {
		return t.send(req, req.Body, creds)
	}
	getBody, err := replayableBody(req)
	if err != nil {
		return nil, err
	}
	body, err := getBody()
	if err != nil {
		return nil, err
	}
	resp, err := t.send(req, body, creds)
	if err != nil || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden) {
		return resp, err
	}
	fresh, ok := t.state.afterRefusal(ctx, creds, gen, resp.StatusCode)
	if !ok {
		return resp, nil
	}
	body, err = getBody()
	if err != nil {
		return resp, nil
	}
	// Let the connection be reused, then send once more.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return t.send(req, body, fresh)
}

func (t *credTransport) send(req *http.Request, body io.ReadCloser, c Credentials) (*http.Response, error) {
	// A RoundTripper must not modify the caller's request.
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", t.header(c))
	return t.next.RoundTrip(r)
}

// replayableBody returns a function giving the request body afresh for each
// attempt: req.GetBody when the request has one (bytes and strings readers),
// else the body read once into memory (and closed, as the RoundTripper
// contract asks).
func replayableBody(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return func() (io.ReadCloser, error) { return req.Body, nil }, nil
	}
	if req.GetBody != nil {
		// The caller's Body is not sent: close it as the contract asks.
		_ = req.Body.Close()
		return req.GetBody, nil
	}
	b, err := readBody(req)
	if err != nil {
		return nil, err
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, nil
}
