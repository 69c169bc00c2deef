package promauth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/sigmawatch/sigmawatch/shared/promauth"
)

const (
	password = "hunter2-pw"
	token    = "s3cr3t-token"
	awsKey   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// captured is what the test receiver saw.
type captured struct {
	header http.Header
	body   []byte
	host   string
	uri    string
	method string
	length int64
}

func receiver(t *testing.T) (*httptest.Server, <-chan captured) {
	t.Helper()
	ch := make(chan captured, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- captured{header: r.Header.Clone(), body: b, host: r.Host, uri: r.URL.RequestURI(), method: r.Method, length: r.ContentLength}
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func send(t *testing.T, rt http.RoundTripper, method, url string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return req
}

func TestTransportAuthAndHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      promauth.Config
		wantAuth string
	}{
		{name: "none", cfg: promauth.Config{}, wantAuth: ""},
		{name: "explicit none", cfg: promauth.Config{Mode: "none"}, wantAuth: ""},
		{name: "basic", cfg: promauth.Config{Mode: "basic", Username: "alice", Password: password}, wantAuth: "Basic YWxpY2U6aHVudGVyMi1wdw=="},
		{name: "bearer", cfg: promauth.Config{Mode: "bearer", Token: token}, wantAuth: "Bearer " + token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, got := receiver(t)
			tt.cfg.Headers = map[string]string{"X-Scope-Orgid": "team-a"}
			tt.cfg.Targets = []string{srv.URL}
			rt, err := promauth.NewTransport(tt.cfg, srv.Client().Transport)
			require.NoError(t, err)
			req := send(t, rt, http.MethodPost, srv.URL+"/api/v1/write", []byte("payload"))
			c := <-got
			require.Equal(t, tt.wantAuth, c.header.Get("Authorization"))
			require.Equal(t, "team-a", c.header.Get("X-Scope-OrgID"))
			require.Equal(t, "application/x-protobuf", c.header.Get("Content-Type"))
			require.Equal(t, []byte("payload"), c.body)
			require.Empty(t, req.Header.Get("Authorization"), "the caller's request must not be modified")
			require.Empty(t, req.Header.Get("X-Scope-OrgID"), "the caller's request must not be modified")
			if tt.cfg.Mode == "basic" {
				r := &http.Request{Header: c.header}
				u, p, ok := r.BasicAuth()
				require.True(t, ok)
				require.Equal(t, "alice", u)
				require.Equal(t, password, p)
			}
		})
	}
}

func fixedTime() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

// verifySigV4 signs the received request again with the SDK signer and the
// same inputs; the signature must match.
func verifySigV4(t *testing.T, c captured, creds aws.Credentials) {
	t.Helper()
	auth := c.header.Get("Authorization")
	_, signedPart, ok := strings.Cut(auth, "SignedHeaders=")
	require.True(t, ok, auth)
	signed, _, _ := strings.Cut(signedPart, ",")

	req, err := http.NewRequest(c.method, "http://"+c.host+c.uri, bytes.NewReader(c.body))
	require.NoError(t, err)
	req.ContentLength = c.length
	for _, h := range strings.Split(signed, ";") {
		if h == "host" || h == "content-length" {
			continue
		}
		req.Header[http.CanonicalHeaderKey(h)] = c.header.Values(h)
	}
	req.Header.Del("Authorization")
	signingTime, err := time.Parse("20060102T150405Z", c.header.Get("X-Amz-Date"))
	require.NoError(t, err)
	sum := sha256.Sum256(c.body)
	require.NoError(t, v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "aps", "us-east-1", signingTime))
	require.Equal(t, req.Header.Get("Authorization"), auth)
}

func TestSigV4(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
	}{
		{name: "remote write POST", method: http.MethodPost, path: "/workspaces/ws-1/api/v1/remote_write", body: []byte("\x00snappy\xffbody")},
		{name: "query POST form", method: http.MethodPost, path: "/workspaces/ws-1/api/v1/query", body: []byte("query=up&time=1700000000")},
		{name: "GET with query string", method: http.MethodGet, path: "/workspaces/ws-1/api/v1/query?query=sum%28up%29&time=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, got := receiver(t)
			provider := credentials.NewStaticCredentialsProvider("AKID", awsKey, "session-token")
			rt, err := promauth.NewTransport(promauth.Config{
				Mode: "sigv4", SigV4Region: "us-east-1", Credentials: provider, Now: fixedTime,
				Headers: map[string]string{"X-Scope-Orgid": "team-a"}, Targets: []string{srv.URL},
			}, srv.Client().Transport)
			require.NoError(t, err)

			req := send(t, rt, tt.method, srv.URL+tt.path, tt.body)
			c := <-got
			auth := c.header.Get("Authorization")
			require.True(t, strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/aps/aws4_request, SignedHeaders="), auth)
			require.Contains(t, auth, "x-scope-orgid", "extra headers are added before signing")
			require.Contains(t, auth, "x-amz-security-token")
			require.Equal(t, "20260304T050607Z", c.header.Get("X-Amz-Date"))
			require.Equal(t, "session-token", c.header.Get("X-Amz-Security-Token"))
			require.Equal(t, tt.body, nilIfEmpty(c.body))
			require.NotContains(t, auth, awsKey)
			require.Empty(t, req.Header.Get("Authorization"), "the caller's request must not be modified")

			creds, err := provider.Retrieve(t.Context())
			require.NoError(t, err)
			verifySigV4(t, c, creds)
		})
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// TestSigV4RetriedRequestIsResigned sends the same request twice (as a
// retrying sender does): each carries one fresh, valid signature.
func TestSigV4RetriedRequestIsResigned(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t)
	provider := credentials.NewStaticCredentialsProvider("AKID", awsKey, "")
	rt, err := promauth.NewTransport(promauth.Config{Mode: "sigv4", SigV4Region: "us-east-1", Credentials: provider, Now: fixedTime, Targets: []string{srv.URL}}, srv.Client().Transport)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/w", bytes.NewReader([]byte("abc")))
	require.NoError(t, err)
	for range 2 {
		r := req.Clone(t.Context())
		r.Body, err = req.GetBody()
		require.NoError(t, err)
		resp, err := rt.RoundTrip(r)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		c := <-got
		require.Len(t, c.header.Values("Authorization"), 1)
		creds, err := provider.Retrieve(t.Context())
		require.NoError(t, err)
		verifySigV4(t, c, creds)
	}
}

type failingProvider struct{ calls int }

func (p *failingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	p.calls++
	return aws.Credentials{}, errors.New("no EC2 IMDS role found")
}

func TestSigV4CredentialError(t *testing.T) {
	t.Parallel()
	srv, _ := receiver(t)
	rt, err := promauth.NewTransport(promauth.Config{Mode: "sigv4", SigV4Region: "eu-west-1", Credentials: &failingProvider{}, Targets: []string{srv.URL}}, srv.Client().Transport)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("x"))
	require.NoError(t, err)
	_, err = rt.RoundTrip(req)
	require.ErrorContains(t, err, "sigv4: retrieve credentials")
	require.ErrorContains(t, err, "no EC2 IMDS role found")
}

func TestNewTransportValidates(t *testing.T) {
	t.Parallel()
	creds := credentials.NewStaticCredentialsProvider("AKID", awsKey, "")
	tests := []struct {
		name    string
		cfg     promauth.Config
		wantErr []string
	}{
		{name: "unknown mode", cfg: promauth.Config{Mode: "oauth"}, wantErr: []string{`auth mode "oauth"`}},
		{name: "basic without user and password", cfg: promauth.Config{Mode: "basic"}, wantErr: []string{"username is required", "password is required"}},
		{name: "bearer without token", cfg: promauth.Config{Mode: "bearer"}, wantErr: []string{"token is required"}},
		{name: "sigv4 without region", cfg: promauth.Config{Mode: "sigv4", Credentials: creds}, wantErr: []string{"region is required"}},
		{name: "sigv4 without credentials", cfg: promauth.Config{Mode: "sigv4", SigV4Region: "us-east-1"}, wantErr: []string{"credentials are required"}},
		{name: "reserved header", cfg: promauth.Config{Headers: map[string]string{"Authorization": "x"}}, wantErr: []string{"Authorization is set by sigmawatch"}},
		{name: "non-canonical header", cfg: promauth.Config{Headers: map[string]string{"x-scope-orgid": "a"}}, wantErr: []string{"canonical name X-Scope-Orgid"}},
		{name: "negative TTL", cfg: promauth.Config{Mode: "bearer", Token: token, CredentialTTL: -time.Second}, wantErr: []string{"credential TTL -1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := promauth.NewTransport(tt.cfg, nil)
			require.Error(t, err)
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr []string
		notIn   string
	}{
		{name: "empty", in: "  ", want: map[string]string{}},
		{name: "one", in: "X-Scope-OrgID=team-a", want: map[string]string{"X-Scope-Orgid": "team-a"}},
		{name: "several with spaces, value with =", in: " x-scope-orgid = team-a , X-Api-Key=abc==", want: map[string]string{"X-Scope-Orgid": "team-a", "X-Api-Key": "abc=="}},
		{name: "missing =", in: "X-Api-Key:secretvalue", wantErr: []string{"header item 1: want Name=value"}, notIn: "secretvalue"},
		{name: "empty item", in: "A=1,,B=2", wantErr: []string{"header item 2: empty"}},
		{name: "bad name", in: "Bad Name=1", wantErr: []string{`invalid header name "Bad Name"`}},
		{name: "authorization refused", in: "authorization=Bearer secretvalue", wantErr: []string{"header item 1: header Authorization is set by sigmawatch"}, notIn: "secretvalue"},
		{name: "protocol headers refused", in: "Content-Encoding=gzip,X-Prometheus-Remote-Write-Version=2.0.0,User-Agent=x", wantErr: []string{"item 1: header Content-Encoding", "item 2: header X-Prometheus-Remote-Write-Version", "item 3: header User-Agent"}},
		{name: "sigv4 headers refused", in: "X-Amz-Date=1", wantErr: []string{"X-Amz-Date is set by sigmawatch"}},
		{name: "duplicate", in: "A=1,a=2", wantErr: []string{"header item 2: A given twice"}},
		{name: "empty value", in: "A=", wantErr: []string{"header A: empty value"}},
		{name: "every bad item reported", in: "=1,B=2,C", wantErr: []string{"header item 1", "header item 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := promauth.ParseHeaders(tt.in)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
			if tt.notIn != "" {
				require.NotContains(t, err.Error(), tt.notIn)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	cfg := promauth.Config{Mode: "basic", Username: "alice", Password: password, Token: token}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("config", "password", cfg.Password, "token", cfg.Token, "cfg", cfg)

	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	ym, err := yaml.Marshal(map[string]any{"password": cfg.Password, "token": cfg.Token})
	require.NoError(t, err)
	txt, err := cfg.Token.MarshalText()
	require.NoError(t, err)

	outputs := map[string]string{
		"%s":   fmt.Sprintf("%s", cfg.Password), //nolint:staticcheck // the %s verb is what is tested
		"%v":   fmt.Sprintf("%v", cfg.Password),
		"%q":   fmt.Sprintf("%q", cfg.Token),
		"%x":   fmt.Sprintf("%x", cfg.Token),
		"%#v":  fmt.Sprintf("%#v", cfg),
		"%+v":  fmt.Sprintf("%+v", cfg),
		"json": string(js),
		"yaml": string(ym),
		"text": string(txt),
		"slog": logs.String(),
		"err":  fmt.Errorf("auth %v: %w", cfg.Token, errors.New("x")).Error(),
	}
	for how, out := range outputs {
		require.NotContains(t, out, password, how)
		require.NotContains(t, out, token, how)
		require.NotContains(t, out, hex.EncodeToString([]byte(token)), how)
		if how == "%x" {
			require.Equal(t, hex.EncodeToString([]byte("<secret>")), out)
			continue
		}
		require.Contains(t, out, "secret", how) // JSON escapes the angle brackets
	}
	require.Equal(t, password, string(cfg.Password), "the value itself stays usable")
}

// fakeSM is a func-field fake of SecretsManagerAPI.
type fakeSM struct {
	get func(ctx context.Context, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error)
}

func (f fakeSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return f.get(ctx, in)
}

const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sigmawatch-auth-AbCdEf"

func smString(s string) fakeSM {
	return fakeSM{get: func(_ context.Context, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
		if aws.ToString(in.SecretId) != arn {
			return nil, fmt.Errorf("ResourceNotFoundException: %s", aws.ToString(in.SecretId))
		}
		return &secretsmanager.GetSecretValueOutput{SecretString: &s}, nil
	}}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "auth.json")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLoadCredentials(t *testing.T) {
	t.Parallel()
	type want struct {
		user          string
		password, tok promauth.Secret
		err           []string
	}
	tests := []struct {
		name string
		mode string
		arn  string
		file string // content; written to a temp file when set
		sm   promauth.SecretsManagerAPI
		want want
	}{
		{name: "basic from secret", mode: "basic", arn: arn, sm: smString(`{"username":"alice","password":"` + password + `"}`), want: want{user: "alice", password: password}},
		{name: "bearer from secret", mode: "bearer", arn: arn, sm: smString(`{"token":"` + token + `"}`), want: want{tok: token}},
		{
			name: "bearer from binary secret", mode: "bearer", arn: arn,
			sm: fakeSM{get: func(context.Context, *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
				return &secretsmanager.GetSecretValueOutput{SecretBinary: []byte(`{"token":"` + token + `"}`)}, nil
			}},
			want: want{tok: token},
		},
		{name: "basic from file", mode: "basic", file: `{"username":"alice","password":"` + password + "\"}\n", want: want{user: "alice", password: password}},
		{name: "bearer bare token file", mode: "bearer", file: token + "\n", want: want{tok: token}},
		{name: "bearer JSON file", mode: "bearer", file: `{"token":"` + token + `"}`, want: want{tok: token}},
		{name: "sigv4 needs nothing", mode: "sigv4"},
		{name: "none needs nothing", mode: ""},
		{name: "none refuses a source", mode: "none", arn: arn, want: want{err: []string{"auth mode none uses no credential secret or file"}}},
		{name: "basic needs a source", mode: "basic", want: want{err: []string{"auth mode basic needs a secret ARN or a file"}}},
		{name: "both sources", mode: "basic", arn: arn, file: "{}", want: want{err: []string{"not both"}}},
		{name: "unknown mode", mode: "digest", want: want{err: []string{`auth mode "digest"`}}},
		{name: "basic missing password", mode: "basic", arn: arn, sm: smString(`{"username":"alice"}`), want: want{err: []string{arn, `basic auth needs "password"`}}},
		{name: "basic given a token", mode: "basic", arn: arn, sm: smString(`{"token":"` + token + `"}`), want: want{err: []string{`needs "username" and "password"`}}},
		{name: "bearer missing token", mode: "bearer", arn: arn, sm: smString(`{"username":"alice","password":"` + password + `"}`), want: want{err: []string{`bearer auth needs "token"`}}},
		{name: "secret not JSON", mode: "basic", arn: arn, sm: smString(password), want: want{err: []string{arn + ": not a JSON object"}}},
		{name: "broken JSON quotes nothing", mode: "basic", arn: arn, sm: smString(`{"password":"` + password + `"x}`), want: want{err: []string{"not valid JSON"}}},
		{name: "wrong type quotes nothing", mode: "basic", arn: arn, sm: smString(`{"username":"a","password":98765432}`), want: want{err: []string{`field "password" must be a string`}}},
		{name: "unknown field", mode: "bearer", arn: arn, sm: smString(`{"tokn":"` + token + `"}`), want: want{err: []string{"unknown field"}}},
		{name: "trailing data", mode: "bearer", arn: arn, sm: smString(`{"token":"a"} {"x":1}`), want: want{err: []string{"data after the object"}}},
		{name: "multi-line bare token", mode: "bearer", file: token + "\n" + password + "\n", want: want{err: []string{"single line"}}},
		{name: "empty file", mode: "bearer", file: "\n", want: want{err: []string{"empty"}}},
		{name: "no SM client", mode: "basic", arn: arn, want: want{err: []string{"no Secrets Manager client"}}},
		{
			name: "Secrets Manager error", mode: "basic", arn: arn,
			sm: fakeSM{get: func(context.Context, *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
				return nil, errors.New("AccessDeniedException: not authorized")
			}},
			want: want{err: []string{"secret " + arn + ": get secret value: AccessDeniedException"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			got, err := promauth.LoadCredentials(t.Context(), tt.mode, tt.arn, path, tt.sm)
			if len(tt.want.err) == 0 {
				require.NoError(t, err)
				require.Equal(t, promauth.Credentials{Username: tt.want.user, Password: tt.want.password, Token: tt.want.tok}, got)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want.err {
				require.ErrorContains(t, err, w)
			}
			if path != "" && !strings.Contains(tt.name, "both") {
				require.ErrorContains(t, err, path, "errors name the file")
			}
			require.NotContains(t, err.Error(), password, "errors must not contain the secret")
			require.NotContains(t, err.Error(), token, "errors must not contain the secret")
			require.NotContains(t, err.Error(), "98765432", "errors must not contain the secret")
		})
	}
}

func TestLoadCredentialsMissingFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "nope.json")
	_, err := promauth.LoadCredentials(t.Context(), "bearer", "", p, nil)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, p)
}
