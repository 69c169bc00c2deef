// Package backend wires the Prometheus-compatible store both functions use:
// one auth chain (promauth) shared by the remote-write client and the PromQL
// client, built from the SIGMAWATCH_* settings.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promauth"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// requestTimeout bounds one HTTP attempt. It is shorter than any sensible
// Lambda timeout, so retries still fit in the invocation.
const requestTimeout = 20 * time.Second

// Backend is the store: where to write and where to query.
type Backend struct {
	Writer  *remotewrite.Client // nil when SIGMAWATCH_REMOTE_WRITE_URL is unset
	Querier *promql.Client      // nil when SIGMAWATCH_PROMETHEUS_URL is unset
	// Transport is the auth chain itself (headers, basic, bearer, SigV4),
	// for the store's other services: the alert function's Alertmanager
	// sink reaches Mimir's or AMP's Alertmanager through it.
	Transport http.RoundTripper
}

// New builds the clients named by env. Basic and bearer credentials are
// read from Secrets Manager or a file, never from the environment, and read
// again after promauth.DefaultCredentialTTL (15 minutes) and when the store
// answers 401 or 403 (the request is then resent once if they changed).
func New(ctx context.Context, env config.Env, awsCfg aws.Config, logger *slog.Logger) (*Backend, error) {
	headers, err := promauth.ParseHeaders(env.Headers)
	if err != nil {
		return nil, fmt.Errorf("SIGMAWATCH_HEADERS: %w", err)
	}
	ac := promauth.Config{Mode: env.Auth, Headers: headers, Logger: logger}
	// Credentials and headers go only to the store's own hosts, and to the
	// alert function's Alertmanager sink, which the same auth reaches
	// (Mimir's or AMP's Alertmanager).
	for _, u := range []string{env.RemoteWriteURL, env.PrometheusURL, env.AlertmanagerURL} {
		if u != "" {
			ac.Targets = append(ac.Targets, u)
		}
	}
	switch env.Auth {
	case config.AuthBasic, config.AuthBearer:
		var sm promauth.SecretsManagerAPI
		if env.AuthSecretARN != "" {
			sm = secretsmanager.NewFromConfig(awsCfg)
		}
		// Read once now, so a missing or malformed secret fails the cold
		// start; then again every promauth.DefaultCredentialTTL and on the
		// store's 401/403, so a rotated secret is picked up by a warm
		// function.
		load := func(ctx context.Context) (promauth.Credentials, error) {
			return promauth.LoadCredentials(ctx, env.Auth, env.AuthSecretARN, env.AuthFile, sm)
		}
		creds, err := load(ctx)
		if err != nil {
			return nil, err
		}
		ac.Username, ac.Password, ac.Token, ac.Reload = creds.Username, creds.Password, creds.Token, load
	case config.AuthSigV4:
		ac.SigV4Region = env.SigV4Region
		if ac.SigV4Region == "" {
			ac.SigV4Region = awsCfg.Region
		}
		ac.Credentials = awsCfg.Credentials
	}
	rt, err := promauth.NewTransport(ac, http.DefaultTransport)
	if err != nil {
		return nil, fmt.Errorf("SIGMAWATCH_AUTH=%s: %w", env.Auth, err)
	}
	hc := &http.Client{Transport: rt, Timeout: requestTimeout}
	b := &Backend{Transport: rt}
	var problems []error
	if env.RemoteWriteURL != "" {
		b.Writer, err = remotewrite.NewClient(env.RemoteWriteURL, remotewrite.WithHTTPClient(hc), remotewrite.WithLogger(logger))
		if err != nil {
			problems = append(problems, fmt.Errorf("SIGMAWATCH_REMOTE_WRITE_URL: %w", err))
		}
	}
	if env.PrometheusURL != "" {
		b.Querier, err = promql.NewClient(env.PrometheusURL, timeoutTransport{rt}, promql.WithLogger(logger))
		if err != nil {
			problems = append(problems, fmt.Errorf("SIGMAWATCH_PROMETHEUS_URL: %w", err))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return b, nil
}

// timeoutTransport bounds each query the way http.Client.Timeout bounds
// each remote-write attempt.
type timeoutTransport struct{ rt http.RoundTripper }

func (t timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, ok := req.Context().Deadline(); ok {
		return t.rt.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), requestTimeout)
	resp, err := t.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
