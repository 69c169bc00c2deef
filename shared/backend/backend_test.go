package backend_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/backend"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithMoto(m, &moto))
}

const (
	secretPassword = "pw-7f3a9c-RECOGNISABLE"
	secretToken    = "tok-51de0b-RECOGNISABLE"
)

// receiver answers writes and queries with status, recording Authorization
// and the tenant header.
type receiver struct {
	mu     sync.Mutex
	auth   []string
	tenant []string
	status int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.tenant = append(r.tenant, req.Header.Get("X-Scope-OrgID"))
	status := r.status
	r.mu.Unlock()
	if status != http.StatusOK {
		w.WriteHeader(status)
		_, _ = fmt.Fprint(w, "authentication failed")
		return
	}
	if req.URL.Path == "/api/v1/query" {
		_, _ = fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var probe = []remotewrite.Series{{
	Labels:  []remotewrite.Label{{Name: "__name__", Value: "probe"}},
	Samples: []remotewrite.Sample{{T: 1, V: 1}},
}}

// TestCredentialsFromSecretsManagerAndFile reads basic credentials from a
// real (moto) Secrets Manager secret and a bearer token from a file, sends
// them on writes and queries, and checks that a receiver's 401 reaches the
// caller as a clear error with no secret in it or in any log line.
func TestCredentialsFromSecretsManagerAndFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	sec, err := secretsmanager.NewFromConfig(awsCfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(testenv.UniqueName(t.Name())),
		SecretString: aws.String(fmt.Sprintf(`{"username":"sigmawatch","password":%q}`, secretPassword)),
	})
	require.NoError(t, err)
	tokenFile := filepath.Join(t.TempDir(), "token.json")
	require.NoError(t, os.WriteFile(tokenFile, fmt.Appendf(nil, `{"token":%q}`, secretToken), 0o600))

	tests := []struct {
		name     string
		env      map[string]string
		wantAuth string
	}{
		{
			name:     "basic from Secrets Manager",
			env:      map[string]string{"SIGMAWATCH_AUTH": "basic", "SIGMAWATCH_AUTH_SECRET_ARN": aws.ToString(sec.ARN), "SIGMAWATCH_HEADERS": "X-Scope-OrgID=team-a"},
			wantAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte("sigmawatch:"+secretPassword)),
		},
		{
			name:     "bearer from file",
			env:      map[string]string{"SIGMAWATCH_AUTH": "bearer", "SIGMAWATCH_AUTH_FILE": tokenFile, "SIGMAWATCH_HEADERS": "X-Scope-OrgID=team-a"},
			wantAuth: "Bearer " + secretToken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := &receiver{status: http.StatusOK}
			srv := httptest.NewServer(rcv)
			t.Cleanup(srv.Close)
			tt.env["SIGMAWATCH_REMOTE_WRITE_URL"] = srv.URL + "/api/v1/write"
			tt.env["SIGMAWATCH_PROMETHEUS_URL"] = srv.URL
			env, err := config.FromEnv(func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			b, err := backend.New(ctx, env, awsCfg, logger)
			require.NoError(t, err)
			require.NoError(t, b.Writer.Write(ctx, probe))
			_, err = b.Querier.Query(ctx, "up", time.Unix(1, 0))
			require.NoError(t, err)
			require.Equal(t, []string{tt.wantAuth, tt.wantAuth}, rcv.auth, "one auth chain for writes and queries")
			require.Equal(t, []string{"team-a", "team-a"}, rcv.tenant)

			// The receiver refuses the credentials: a clear error, no secret anywhere.
			rcv.mu.Lock()
			rcv.status = http.StatusUnauthorized
			rcv.mu.Unlock()
			werr := b.Writer.Write(ctx, probe)
			require.ErrorContains(t, werr, "401")
			_, qerr := b.Querier.Query(ctx, "up", time.Unix(1, 0))
			require.Error(t, qerr)
			for _, s := range []string{secretPassword, secretToken, base64.StdEncoding.EncodeToString([]byte("sigmawatch:" + secretPassword))} {
				require.NotContains(t, werr.Error(), s)
				require.NotContains(t, qerr.Error(), s)
				require.NotContains(t, logs.String(), s)
				require.NotContains(t, fmt.Sprintf("%+v %#v", env, env), s)
			}
			t.Logf("injected: 401 from the receiver; write error: %v; query error: %v; %d bytes of logs scanned for the secrets", werr, qerr, logs.Len())
		})
	}
}

func TestBadSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"missing secret", map[string]string{"SIGMAWATCH_AUTH": "basic", "SIGMAWATCH_AUTH_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"}, "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"},
		{"missing file", map[string]string{"SIGMAWATCH_AUTH": "bearer", "SIGMAWATCH_AUTH_FILE": "/nonexistent/token"}, "/nonexistent/token"},
		{"bad header", map[string]string{"SIGMAWATCH_HEADERS": "Authorization=Bearer x"}, "SIGMAWATCH_HEADERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, err := config.FromEnv(func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			_, err = backend.New(ctx, env, awsCfg, slog.New(slog.DiscardHandler))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// rotatingStore accepts only the basic password it currently holds.
type rotatingStore struct {
	mu       sync.Mutex
	password string
	attempts []string // the password each request carried
}

func (s *rotatingStore) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, pw, _ := req.BasicAuth()
	s.mu.Lock()
	s.attempts = append(s.attempts, pw)
	ok := pw == s.password
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprint(w, "authentication failed")
		return
	}
	if req.URL.Path == "/api/v1/query" {
		_, _ = fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *rotatingStore) rotate(pw string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.password = pw
	return append([]string(nil), s.attempts...)
}

// TestSecretRotatedWhileWarm rotates the store's password in a real (moto)
// Secrets Manager secret while the function is warm: the next write and
// query are refused once with the old password, the secret is read again,
// and they succeed with the new one. A password the store refuses after
// that read fails with a clear 401. No password reaches a log line.
func TestSecretRotatedWhileWarm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	awsCfg, err := moto.AWSConfig(ctx)
	require.NoError(t, err)
	sm := secretsmanager.NewFromConfig(awsCfg)
	const v1, v2 = "pw-v1-6a1f-RECOGNISABLE", "pw-v2-90c3-RECOGNISABLE"
	sec, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(testenv.UniqueName(t.Name())),
		SecretString: aws.String(fmt.Sprintf(`{"username":"sigmawatch","password":%q}`, v1)),
	})
	require.NoError(t, err)
	st := &rotatingStore{password: v1}
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	env, err := config.FromEnv(func(k string) string {
		return map[string]string{
			"SIGMAWATCH_AUTH": "basic", "SIGMAWATCH_AUTH_SECRET_ARN": aws.ToString(sec.ARN),
			"SIGMAWATCH_REMOTE_WRITE_URL": srv.URL + "/api/v1/write", "SIGMAWATCH_PROMETHEUS_URL": srv.URL,
		}[k]
	})
	require.NoError(t, err)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := backend.New(ctx, env, awsCfg, logger)
	require.NoError(t, err)
	require.NoError(t, b.Writer.Write(ctx, probe))

	// Rotation, as Secrets Manager's rotation does it: a new version of the
	// secret, and the store switched over.
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     sec.ARN,
		SecretString: aws.String(fmt.Sprintf(`{"username":"sigmawatch","password":%q}`, v2)),
	})
	require.NoError(t, err)
	before := len(st.rotate(v2))
	require.NoError(t, b.Writer.Write(ctx, probe), "the write after the rotation succeeds")
	_, err = b.Querier.Query(ctx, "up", time.Unix(1, 0))
	require.NoError(t, err, "and so does the query")
	seen := st.rotate(v2)[before:]
	require.Equal(t, []string{v1, v2, v2}, seen, "one refused attempt with the old password, then the new one")

	// The store refuses the password the secret holds: one read, then a clear error.
	before = len(st.rotate("pw-v3-not-in-the-secret"))
	werr := b.Writer.Write(ctx, probe)
	require.ErrorContains(t, werr, "401")
	require.Len(t, st.rotate("pw-v3-not-in-the-secret")[before:], 1, "not resent with the same password")
	for _, s := range []string{v1, v2} {
		require.NotContains(t, logs.String(), s)
		require.NotContains(t, werr.Error(), s)
	}
	require.Contains(t, logs.String(), "store credentials: read again")
	t.Logf("rotated the secret in moto while warm; attempts after rotation: %d; refusal error: %v", len(seen), werr)
}
