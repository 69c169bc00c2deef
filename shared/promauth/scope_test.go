package promauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promauth"
)

// TestRedirectToAnotherHostGetsNoCredentials: the store answers with a
// redirect to another host. http.Client drops Authorization on such a
// redirect, but the auth chain sits in its transport and would add it again
// (and sign for the other host, with the session token). The chain must
// refuse the redirected request instead: the other host sees nothing.
func TestRedirectToAnotherHostGetsNoCredentials(t *testing.T) {
	t.Parallel()
	sigv4 := credentials.NewStaticCredentialsProvider("AKID", awsKey, "session-token")
	tests := []struct {
		name string
		cfg  promauth.Config
	}{
		{"basic", promauth.Config{Mode: "basic", Username: "alice", Password: password}},
		{"bearer", promauth.Config{Mode: "bearer", Token: token}},
		{"sigv4", promauth.Config{Mode: "sigv4", SigV4Region: "us-east-1", Credentials: sigv4}},
		{"tenant header only", promauth.Config{Headers: map[string]string{"X-Scope-Orgid": "team-a"}}},
	}
	for _, tt := range tests {
		for _, code := range []int{http.StatusTemporaryRedirect, http.StatusFound} {
			t.Run(tt.name+"/"+http.StatusText(code), func(t *testing.T) {
				t.Parallel()
				var mu sync.Mutex
				var leaked []http.Header
				other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					leaked = append(leaked, r.Header.Clone())
					mu.Unlock()
					w.WriteHeader(http.StatusNoContent)
				}))
				t.Cleanup(other.Close)
				// Another host name for the same loopback listener: Go
				// itself treats it as a different host.
				ou, err := url.Parse(other.URL)
				require.NoError(t, err)
				elsewhere := "http://localhost:" + ou.Port() + "/stolen"
				store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, elsewhere, code)
				}))
				t.Cleanup(store.Close)

				cfg := tt.cfg
				cfg.Targets = []string{store.URL + "/api/v1/write"}
				rt, err := promauth.NewTransport(cfg, http.DefaultTransport)
				require.NoError(t, err)
				hc := &http.Client{Transport: rt}
				resp, err := hc.Post(store.URL+"/api/v1/write", "application/x-protobuf", strings.NewReader("payload"))
				if err == nil {
					_ = resp.Body.Close()
				}
				mu.Lock()
				defer mu.Unlock()
				for _, h := range leaked {
					require.Empty(t, h.Get("Authorization"), "credentials sent to another host")
					require.Empty(t, h.Get("X-Amz-Security-Token"), "session token sent to another host")
					require.Empty(t, h.Get("X-Scope-Orgid"), "tenant header sent to another host")
				}
				require.Error(t, err, "the redirect to another host is refused")
				require.ErrorContains(t, err, "localhost:"+ou.Port())
				require.ErrorContains(t, err, "not the store's host")
				require.Empty(t, leaked, "the other host sees no request at all")
			})
		}
	}
}

// recordingRT is the network for tests that must not reach one: it records
// the hosts asked for and answers 204.
type recordingRT struct {
	mu    sync.Mutex
	hosts []string
}

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.hosts = append(r.hosts, req.URL.Scheme+"://"+req.URL.Host)
	r.mu.Unlock()
	return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: req}, nil
}

// TestPlainHTTPCredentials: basic, bearer and SigV4 credentials travel in
// clear over http. A store URL with http is refused, except on a loopback
// host (tests, a local proxy); a request that is downgraded to http (a
// redirect from https) is refused at send time.
func TestPlainHTTPCredentials(t *testing.T) {
	t.Parallel()
	sigv4 := credentials.NewStaticCredentialsProvider("AKID", awsKey, "session-token")
	modes := map[string]promauth.Config{
		"basic":  {Mode: "basic", Username: "alice", Password: password},
		"bearer": {Mode: "bearer", Token: token},
		"sigv4":  {Mode: "sigv4", SigV4Region: "us-east-1", Credentials: sigv4},
	}
	tests := []struct {
		target  string
		wantErr string // for every credentialed mode; empty: accepted
	}{
		{"http://prometheus.internal:9090/api/v1/write", "plain http to prometheus.internal:9090"},
		{"http://10.0.0.7/api/v1/write?token=SECRET-IN-QUERY", "plain http to 10.0.0.7"},
		{"https://prometheus.internal:9090/api/v1/write", ""},
		{"http://127.0.0.1:9090/api/v1/write", ""},
		{"http://127.9.9.9:9090", ""},
		{"http://localhost:9090", ""},
		{"http://[::1]:9090", ""},
		{"ftp://prometheus.internal", "want an http or https URL"},
		{"https://user:SECRET-IN-USERINFO@prometheus.internal", "credentials in the URL"},
		{"https://prometheus.internal/%zz?token=SECRET-IN-QUERY", "not a URL"},
	}
	for mode, base := range modes {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.target, func(t *testing.T) {
				t.Parallel()
				cfg := base
				cfg.Targets = []string{tt.target}
				_, err := promauth.NewTransport(cfg, &recordingRT{})
				if tt.wantErr == "" {
					require.NoError(t, err)
					return
				}
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "SECRET")
			})
		}
	}
	// No credentials, no restriction: an internal http Prometheus is fine.
	_, err := promauth.NewTransport(promauth.Config{Targets: []string{"http://prometheus.internal:9090"}}, nil)
	require.NoError(t, err)

	// A downgrade at send time (https store, http request: a redirect).
	for mode, base := range modes {
		net := &recordingRT{}
		cfg := base
		cfg.Targets = []string{"https://store.example/api/v1/write"}
		rt, err := promauth.NewTransport(cfg, net)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://store.example/api/v1/query", nil)
		require.NoError(t, err)
		_, err = rt.RoundTrip(req)
		require.ErrorContains(t, err, "plain http", mode)
		req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, "https://store.example:443/api/v1/query", nil)
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err, "%s: the default port is the same host", mode)
		_ = resp.Body.Close()
		require.Equal(t, []string{"https://store.example:443"}, net.hosts, mode)
	}
}
