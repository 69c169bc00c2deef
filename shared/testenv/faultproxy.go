package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Fault is what a FaultProxy does to the requests it receives.
type Fault struct {
	// Status answers with this HTTP status instead of forwarding (500, 429…).
	Status int
	// Body is the answer's body when Status is set.
	Body string
	// RetryAfter is sent with Status (seconds).
	RetryAfter int
	// Delay holds each request this long before forwarding it: a receiver
	// slower than the caller's deadline.
	Delay time.Duration
	// Down drops the connection without an answer: a receiver that is gone.
	Down bool
	// Times limits the fault to the next n requests (0: until changed).
	Times int
	// Match, if set, limits the fault to requests it returns true for.
	Match func(*http.Request) bool
}

// FaultProxy sits in front of a real server and injects faults that the
// real server cannot show on demand: 5xx, 429 with Retry-After, slowness
// past a deadline, a dropped connection. Between faults it forwards
// everything unchanged.
type FaultProxy struct {
	URL string

	srv      *httptest.Server
	proxy    *httputil.ReverseProxy
	mu       sync.Mutex
	fault    *Fault
	requests int
	injected int
	// OnForwarded, if set, is called after a request was answered by the
	// real server and before the answer is returned to the caller.
	onForwarded func(*http.Request)
}

// NewFaultProxy starts a proxy to target on loopback; it stops at cleanup.
func NewFaultProxy(t TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("testenv: fault proxy target: %v", err)
	}
	p := &FaultProxy{proxy: httputil.NewSingleHostReverseProxy(u)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Set replaces the current fault; nil forwards everything.
func (p *FaultProxy) Set(f *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// OnForwarded sets a hook called after the real server answered a request,
// before the answer goes back (to kill a caller between the two).
func (p *FaultProxy) OnForwarded(fn func(*http.Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onForwarded = fn
}

// Counts returns how many requests arrived and how many got a fault.
func (p *FaultProxy) Counts() (requests, injected int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, p.injected
}

func (p *FaultProxy) take(r *http.Request) (*Fault, func(*http.Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	f := p.fault
	if f == nil || (f.Match != nil && !f.Match(r)) {
		return nil, p.onForwarded
	}
	p.injected++
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			p.fault = nil
		}
	}
	return f, p.onForwarded
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	f, hook := p.take(r)
	if f != nil {
		switch {
		case f.Down:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						_ = tc.SetLinger(0)
					}
					_ = conn.Close()
					return
				}
			}
			http.Error(w, "down", http.StatusBadGateway)
			return
		case f.Status != 0:
			_, _ = io.Copy(io.Discard, r.Body)
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			}
			if f.Body != "" {
				w.Header().Set("Content-Type", "text/xml")
			}
			w.WriteHeader(f.Status)
			_, _ = fmt.Fprint(w, f.Body)
			return
		case f.Delay > 0:
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
	}
	if hook == nil {
		p.proxy.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.proxy.ServeHTTP(rec, r)
	hook(r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
