package config

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, e Env)
		wantErr []string
	}{
		{
			name: "empty is valid with defaults",
			env:  map[string]string{},
			check: func(t *testing.T, e Env) {
				require.Equal(t, AuthNone, e.Auth)
				require.Equal(t, slog.LevelInfo, e.LogLevel)
				require.Equal(t, DefaultDeployment, e.Deployment)
			},
		},
		{
			name: "full",
			env: map[string]string{
				"SIGMAWATCH_CONFIG":           "/var/task/collect.yaml",
				"SIGMAWATCH_REMOTE_WRITE_URL": "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write",
				"SIGMAWATCH_PROMETHEUS_URL":   "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1",
				"SIGMAWATCH_AUTH":             "SigV4",
				"SIGMAWATCH_SNS_TOPIC_ARN":    "arn:aws:sns:us-east-1:123456789012:sigmawatch",
				"SIGMAWATCH_LOG_LEVEL":        "debug",
				"SIGMAWATCH_DEPLOYMENT":       "sigmawatch-prod",
			},
			check: func(t *testing.T, e Env) {
				require.Equal(t, "sigmawatch-prod", e.Deployment)
				require.Equal(t, AuthSigV4, e.Auth)
				require.Equal(t, slog.LevelDebug, e.LogLevel)
				require.Equal(t, "/var/task/collect.yaml", e.ConfigPath)
			},
		},
		{
			name: "every problem at once",
			env: map[string]string{
				"SIGMAWATCH_AUTH":             "basic",
				"SIGMAWATCH_REMOTE_WRITE_URL": "ftp://example.com/write",
				"SIGMAWATCH_PROMETHEUS_URL":   "https://user:hunter2@example.com",
				"SIGMAWATCH_SNS_TOPIC_ARN":    "sigmawatch",
				"SIGMAWATCH_LOG_LEVEL":        "loud",
				"SIGMAWATCH_DEPLOYMENT":       "team a",
			},
			wantErr: []string{
				"SIGMAWATCH_AUTH=basic: set SIGMAWATCH_AUTH_SECRET_ARN or SIGMAWATCH_AUTH_FILE",
				"SIGMAWATCH_REMOTE_WRITE_URL: \"ftp://example.com/write\": want an http or https URL",
				"SIGMAWATCH_PROMETHEUS_URL:",
				"credentials in the URL are not allowed",
				"SIGMAWATCH_SNS_TOPIC_ARN: \"sigmawatch\" is not an SNS topic ARN",
				"SIGMAWATCH_LOG_LEVEL: unknown level \"loud\"",
				"SIGMAWATCH_DEPLOYMENT: \"team a\" must be",
			},
		},
		{
			name:    "unknown auth",
			env:     map[string]string{"SIGMAWATCH_AUTH": "kerberos"},
			wantErr: []string{`SIGMAWATCH_AUTH: unknown mode "kerberos"`},
		},
		{
			name:    "secret and file",
			env:     map[string]string{"SIGMAWATCH_AUTH": "bearer", "SIGMAWATCH_AUTH_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x", "SIGMAWATCH_AUTH_FILE": "/tmp/x"},
			wantErr: []string{"set at most one"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := FromEnv(func(k string) string { return tt.env[k] })
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					require.ErrorContains(t, err, w)
				}
				require.NotContains(t, err.Error(), "hunter2", "a password in a URL must not reach an error")
				return
			}
			require.NoError(t, err)
			tt.check(t, e)
		})
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	e := Env{ConfigPath: "x"}
	err := e.Require("SIGMAWATCH_CONFIG", "SIGMAWATCH_REMOTE_WRITE_URL", "SIGMAWATCH_SNS_TOPIC_ARN")
	require.ErrorContains(t, err, "SIGMAWATCH_REMOTE_WRITE_URL: required")
	require.ErrorContains(t, err, "SIGMAWATCH_SNS_TOPIC_ARN: required")
	require.NotContains(t, err.Error(), "SIGMAWATCH_CONFIG")
}

// TestURLErrorsShowNoSecrets: an error about a URL shows at most
// scheme://host/path, never the query, the fragment or the user info, which
// may hold tokens (url.Parse's own error quotes the whole URL).
func TestURLErrorsShowNoSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		want []string
	}{
		{"bad escape in path", "https://store.example/api/%zz/write?token=SECRET1#SECRET2", []string{"SIGMAWATCH_REMOTE_WRITE_URL", "https://store.example/api/%zz/write", "invalid %-escape"}},
		{"bad host", "https://sto re.example/write?token=SECRET1", []string{"SIGMAWATCH_REMOTE_WRITE_URL", "invalid character"}},
		{"control character", "https://store.example/w\x7f?token=SECRET1", []string{"SIGMAWATCH_REMOTE_WRITE_URL", "invalid control character"}},
		{"wrong scheme", "ftp://user:SECRET1@store.example/write?token=SECRET2#SECRET3", []string{"SIGMAWATCH_REMOTE_WRITE_URL", `"ftp://store.example/write": want an http or https URL`}},
		{"user info", "https://SECRET1:SECRET2@store.example/write?token=SECRET3", []string{"credentials in the URL are not allowed", `"https://store.example/write"`}},
		{"user info, bad escape", "https://SECRET1:SEC%zzRET2@store.example/write?token=SECRET3", []string{"SIGMAWATCH_REMOTE_WRITE_URL", "https://store.example/write", "invalid %-escape"}},
		{"no host", "https:///write?token=SECRET1", []string{`"https:///write": no host`}},
		{"no scheme", "store.example/write?token=SECRET1", []string{`"store.example/write": want an http or https URL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := FromEnv(func(k string) string {
				if k == "SIGMAWATCH_REMOTE_WRITE_URL" {
					return tt.url
				}
				return ""
			})
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), "SECRET")
			require.NotContains(t, err.Error(), "token=")
		})
	}
}

// TestCredentialsNeedHTTPS: basic and bearer credentials (and SigV4's
// session token) travel in clear over http; a store URL with http is
// refused for them, naming the variable, except on a loopback host.
func TestCredentialsNeedHTTPS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		auth, writeURL, queryURL string
		wantErr                  []string
	}{
		{"basic", "http://prometheus.internal:9090/api/v1/write", "", []string{"SIGMAWATCH_REMOTE_WRITE_URL: basic credentials over plain http to prometheus.internal:9090 are refused: use https"}},
		{"bearer", "", "http://10.1.2.3:9090", []string{"SIGMAWATCH_PROMETHEUS_URL: bearer credentials over plain http to 10.1.2.3:9090"}},
		{"sigv4", "http://aps.example/workspaces/ws-1/api/v1/remote_write", "", []string{"SIGMAWATCH_REMOTE_WRITE_URL: sigv4 credentials over plain http"}},
		{"basic", "http://a.example/w", "http://b.example", []string{"SIGMAWATCH_REMOTE_WRITE_URL: basic", "SIGMAWATCH_PROMETHEUS_URL: basic"}},
		{"basic", "https://prometheus.internal/api/v1/write", "https://prometheus.internal", nil},
		{"basic", "http://127.0.0.1:9090/api/v1/write", "http://localhost:9090", nil},
		{"bearer", "http://[::1]:9090/api/v1/write", "", nil},
		{"none", "http://prometheus.internal:9090/api/v1/write", "http://prometheus.internal:9090", nil},
	}
	for _, tt := range tests {
		t.Run(tt.auth+" "+tt.writeURL+" "+tt.queryURL, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"SIGMAWATCH_AUTH": tt.auth, "SIGMAWATCH_REMOTE_WRITE_URL": tt.writeURL, "SIGMAWATCH_PROMETHEUS_URL": tt.queryURL,
			}
			if tt.auth == "basic" || tt.auth == "bearer" {
				env["SIGMAWATCH_AUTH_FILE"] = "/run/secrets/store"
			}
			_, err := FromEnv(func(k string) string { return env[k] })
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			for _, w := range tt.wantErr {
				require.ErrorContains(t, err, w)
			}
		})
	}
}
