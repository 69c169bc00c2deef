package promauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Auth modes (SIGMAWATCH_AUTH).
const (
	ModeNone   = "none"
	ModeBasic  = "basic"
	ModeBearer = "bearer"
	ModeSigV4  = "sigv4"
)

// Config describes the auth chain. An empty Mode means ModeNone.
type Config struct {
	Mode string
	// Username, Password and Token are the basic or bearer credentials to
	// start with.
	Username string
	Password Secret
	Token    Secret
	// Reload, when set, reads basic or bearer credentials again from where
	// the first ones came from: after CredentialTTL, and once when the store
	// answers 401 or 403 — the request is then resent once if the value
	// changed (a rotated secret); otherwise the refusal goes back to the
	// caller. Nil keeps the first credentials for good.
	Reload CredentialLoader `json:"-" yaml:"-"`
	// CredentialTTL is how long credentials are used before Reload; zero
	// means DefaultCredentialTTL.
	CredentialTTL time.Duration
	// Targets are the store's URLs (remote write, PromQL base). The chain
	// sends credentials and extra headers only to their hosts, and refuses
	// any other request: a redirect to another host would otherwise get
	// them added again. Credentials over plain http are refused except to a
	// loopback host.
	Targets []string
	// SigV4Region is the region of the AMP workspace.
	SigV4Region string
	// Credentials sign SigV4 requests; normally the SDK's default chain
	// (aws.Config.Credentials). Wrapped in a cache unless it is one.
	Credentials aws.CredentialsProvider `json:"-" yaml:"-"`
	// Headers are added to every request (see ParseHeaders).
	Headers map[string]string
	// Now is the clock for SigV4 signing and the credential TTL; nil means
	// time.Now. For tests.
	Now func() time.Time `json:"-" yaml:"-"`
	// Logger gets a line when credentials are read again (why, whether they
	// changed; never their value); nil discards.
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	switch c.mode() {
	case ModeNone:
	case ModeBasic:
		if c.Username == "" {
			errs = append(errs, errors.New("basic auth: username is required"))
		}
		if c.Password == "" {
			errs = append(errs, errors.New("basic auth: password is required"))
		}
	case ModeBearer:
		if c.Token == "" {
			errs = append(errs, errors.New("bearer auth: token is required"))
		}
	case ModeSigV4:
		if c.SigV4Region == "" {
			errs = append(errs, errors.New("sigv4 auth: region is required"))
		}
		if c.Credentials == nil {
			errs = append(errs, errors.New("sigv4 auth: credentials are required"))
		}
	default:
		errs = append(errs, fmt.Errorf("auth mode %q: want none, basic, bearer or sigv4", c.Mode))
	}
	if c.CredentialTTL < 0 {
		errs = append(errs, fmt.Errorf("credential TTL %s: must not be negative", c.CredentialTTL))
	}
	if _, targetErrs := newScope(c); len(targetErrs) > 0 {
		errs = append(errs, targetErrs...)
	}
	for name, value := range c.Headers {
		canon, err := checkHeader(name, value)
		if err != nil {
			errs = append(errs, err)
		} else if canon != name {
			errs = append(errs, fmt.Errorf("header %q: use the canonical name %s", name, canon))
		}
	}
	return errors.Join(errs...)
}

func (c Config) mode() string {
	if c.Mode == "" {
		return ModeNone
	}
	return c.Mode
}

// NewTransport returns base wrapped with cfg's headers and authentication.
// A nil base means http.DefaultTransport.
func NewTransport(cfg Config, base http.RoundTripper) (http.RoundTripper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rt := base
	switch cfg.mode() {
	case ModeBasic, ModeBearer:
		ttl := cfg.CredentialTTL
		if ttl == 0 {
			ttl = DefaultCredentialTTL
		}
		rt = &credTransport{next: rt, mode: cfg.mode(), state: &credState{
			creds:  Credentials{Username: cfg.Username, Password: cfg.Password, Token: cfg.Token},
			reload: cfg.Reload, ttl: ttl, now: now, loadedAt: now(),
			log: logger.With("component", "promauth", "auth", cfg.mode()),
		}}
	case ModeSigV4:
		creds := cfg.Credentials
		if _, cached := creds.(*aws.CredentialsCache); !cached {
			creds = aws.NewCredentialsCache(creds)
		}
		rt = &sigv4Transport{next: rt, signer: v4.NewSigner(), creds: creds, region: cfg.SigV4Region, now: now}
	}
	// Headers go on before signing so that SigV4 covers them.
	if len(cfg.Headers) > 0 {
		rt = &headerTransport{next: rt, set: cfg.Headers}
	}
	// Outermost: nothing is added to a request that leaves the store.
	if cfg.mode() != ModeNone || len(cfg.Headers) > 0 {
		sc, _ := newScope(cfg) // validated above
		rt = &scopeTransport{next: rt, scope: sc}
	}
	return rt, nil
}

// headerTransport sets fixed headers on a copy of each request.
type headerTransport struct {
	next http.RoundTripper
	set  map[string]string
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must not modify the caller's request.
	r := req.Clone(req.Context())
	for k, v := range t.set {
		r.Header.Set(k, v)
	}
	return t.next.RoundTrip(r)
}

// sigv4Transport signs each request for AMP (service "aps").
type sigv4Transport struct {
	next   http.RoundTripper
	signer *v4.Signer
	creds  aws.CredentialsProvider
	region string
	now    func() time.Time
}

const sigv4Service = "aps"

func (t *sigv4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, fmt.Errorf("sigv4: read body: %w", err)
	}
	r := req.Clone(req.Context())
	sum := sha256.Sum256(body)
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	} else {
		r.Body, r.GetBody, r.ContentLength = http.NoBody, nil, 0
	}
	if err := t.sign(r.Context(), r, hex.EncodeToString(sum[:])); err != nil {
		return nil, err
	}
	return t.next.RoundTrip(r)
}

func (t *sigv4Transport) sign(ctx context.Context, r *http.Request, payloadHash string) error {
	creds, err := t.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("sigv4: retrieve credentials: %w", err)
	}
	// A retried request must not carry the previous attempt's signature.
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Date")
	r.Header.Del("X-Amz-Security-Token")
	if err := t.signer.SignHTTP(ctx, creds, r, payloadHash, sigv4Service, t.region, t.now().UTC()); err != nil {
		return fmt.Errorf("sigv4: sign: %w", err)
	}
	return nil
}

// readBody reads and closes the request body, as the RoundTripper contract
// requires even on error.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer func() { _ = req.Body.Close() }()
	return io.ReadAll(req.Body)
}
