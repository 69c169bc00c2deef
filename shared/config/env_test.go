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
