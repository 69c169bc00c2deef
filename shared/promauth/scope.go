package promauth

import (
	"github.com/sigmawatch/sigmawatch/shared/endpoint"

	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// scope is where the chain may send its credentials and extra headers: the
// store's own hosts, and plain http only to a loopback host.
type scope struct {
	hosts map[string]bool // hostKey of each target
	// tls: credentials travel in clear over http (basic, bearer, SigV4's
	// session token), so a non-loopback host needs https.
	tls  bool
	what string // what would leak, for errors: "basic credentials", "the extra headers"…
}

func newScope(cfg Config) (*scope, []error) {
	s := &scope{hosts: map[string]bool{}, tls: cfg.mode() != ModeNone, what: cfg.mode() + " credentials"}
	if !s.tls {
		s.what = "the extra headers"
	}
	var errs []error
	for i, raw := range cfg.Targets {
		u, err := endpoint.Parse(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %d: %w", i+1, err))
			continue
		}
		switch {
		case s.tls && u.Scheme == "http" && !IsLoopback(u.Hostname()):
			errs = append(errs, fmt.Errorf("target %d: %s over plain http to %s are refused: use https (http is allowed only for a loopback host)", i+1, s.what, u.Host))
		default:
			s.hosts[hostKey(u)] = true
		}
	}
	return s, errs
}

// check refuses a request the chain must not decorate: another host (a
// redirect elsewhere: http.Client drops Authorization then, but this chain
// sits in its transport and would add it again) or a downgrade to http.
func (s *scope) check(u *url.URL) error {
	if s.tls && u.Scheme != "https" && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("promauth: refusing to send %s over plain http to %s", s.what, u.Host)
	}
	if !s.hosts[hostKey(u)] {
		return fmt.Errorf("promauth: refusing to send %s to %s: not the store's host (a redirect to another host?)", s.what, u.Host)
	}
	return nil
}

// hostKey is host:port in lower case with the scheme's default port filled
// in, so https://a and https://a:443 are one host.
func hostKey(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// IsLoopback reports whether host (a name or an IP, without port) is this
// machine: "localhost" or a loopback address (127.0.0.0/8, ::1).
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scopeTransport refuses requests outside the scope before any header or
// signature is added.
type scopeTransport struct {
	next  http.RoundTripper
	scope *scope
}

func (t *scopeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.scope.check(req.URL); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // the RoundTripper contract, even on error
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}
