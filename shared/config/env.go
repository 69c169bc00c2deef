package config

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/endpoint"
	"github.com/sigmawatch/sigmawatch/shared/promauth"
)

// Env holds the deployment settings both functions read from SIGMAWATCH_*
// environment variables (DESIGN.md, Contracts). Credentials never live here:
// only where to find them.
type Env struct {
	ConfigPath      string // SIGMAWATCH_CONFIG
	RemoteWriteURL  string // SIGMAWATCH_REMOTE_WRITE_URL
	PrometheusURL   string // SIGMAWATCH_PROMETHEUS_URL
	Auth            string // SIGMAWATCH_AUTH: none, basic, bearer, sigv4
	AuthSecretARN   string // SIGMAWATCH_AUTH_SECRET_ARN
	AuthFile        string // SIGMAWATCH_AUTH_FILE
	SigV4Region     string // SIGMAWATCH_SIGV4_REGION
	Headers         string // SIGMAWATCH_HEADERS, "Name=value,…"; parsed by promauth
	SNSTopicARN     string // SIGMAWATCH_SNS_TOPIC_ARN
	AlertmanagerURL string // SIGMAWATCH_ALERTMANAGER_URL
	ExternalURL     string // SIGMAWATCH_EXTERNAL_URL
	// AlertParts is the alert schedules' split of the rule groups
	// (SIGMAWATCH_ALERT_PARTS, the template's AlertParts: "a,b;c"); the
	// alert function checks it against its rules (alertengine.CheckParts).
	AlertParts string
	// Deployment names this deployment (SIGMAWATCH_DEPLOYMENT; the template
	// sets the stack name). Every series sigmawatch writes about itself carries
	// it as DeploymentLabel and every read-back selects on it, so two stacks
	// sharing one store never see each other's progress or alert state.
	Deployment string
	LogLevel   slog.Level
}

// DeploymentLabel is the label that carries Env.Deployment on every series
// sigmawatch writes about itself (progress, health, alert state).
const DeploymentLabel = "sigmawatch_deployment"

// DefaultDeployment is the deployment name when SIGMAWATCH_DEPLOYMENT is
// unset (a CLI run, a test).
const DefaultDeployment = "default"

// deploymentPattern is what a CloudFormation stack name allows, plus "_" and
// ".": a deployment name is a label value that shows up in queries and
// dashboards, so keep it to a shape that never needs escaping.
var deploymentPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Auth modes.
const (
	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthSigV4  = "sigv4"
)

// EnvVars lists every variable FromEnv reads, for the template drift test.
var EnvVars = []string{
	"SIGMAWATCH_CONFIG", "SIGMAWATCH_REMOTE_WRITE_URL", "SIGMAWATCH_PROMETHEUS_URL",
	"SIGMAWATCH_AUTH", "SIGMAWATCH_AUTH_SECRET_ARN", "SIGMAWATCH_AUTH_FILE", "SIGMAWATCH_SIGV4_REGION",
	"SIGMAWATCH_HEADERS", "SIGMAWATCH_SNS_TOPIC_ARN", "SIGMAWATCH_ALERTMANAGER_URL",
	"SIGMAWATCH_EXTERNAL_URL", "SIGMAWATCH_LOG_LEVEL", "SIGMAWATCH_DEPLOYMENT", "SIGMAWATCH_ALERT_PARTS",
}

// FromEnv reads and checks the settings. Every problem is reported, each
// with the variable's name.
func FromEnv(getenv func(string) string) (Env, error) {
	e := Env{
		ConfigPath:      strings.TrimSpace(getenv("SIGMAWATCH_CONFIG")),
		RemoteWriteURL:  strings.TrimSpace(getenv("SIGMAWATCH_REMOTE_WRITE_URL")),
		PrometheusURL:   strings.TrimSpace(getenv("SIGMAWATCH_PROMETHEUS_URL")),
		Auth:            strings.ToLower(strings.TrimSpace(getenv("SIGMAWATCH_AUTH"))),
		AuthSecretARN:   strings.TrimSpace(getenv("SIGMAWATCH_AUTH_SECRET_ARN")),
		AuthFile:        strings.TrimSpace(getenv("SIGMAWATCH_AUTH_FILE")),
		SigV4Region:     strings.TrimSpace(getenv("SIGMAWATCH_SIGV4_REGION")),
		Headers:         getenv("SIGMAWATCH_HEADERS"),
		SNSTopicARN:     strings.TrimSpace(getenv("SIGMAWATCH_SNS_TOPIC_ARN")),
		AlertmanagerURL: strings.TrimSpace(getenv("SIGMAWATCH_ALERTMANAGER_URL")),
		ExternalURL:     strings.TrimSpace(getenv("SIGMAWATCH_EXTERNAL_URL")),
		Deployment:      strings.TrimSpace(getenv("SIGMAWATCH_DEPLOYMENT")),
		AlertParts:      strings.TrimSpace(getenv("SIGMAWATCH_ALERT_PARTS")),
	}
	var problems []error
	if e.Deployment == "" {
		e.Deployment = DefaultDeployment
	}
	if !deploymentPattern.MatchString(e.Deployment) {
		problems = append(problems, fmt.Errorf("SIGMAWATCH_DEPLOYMENT: %q must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", e.Deployment))
	}
	if e.Auth == "" {
		e.Auth = AuthNone
	}
	switch e.Auth {
	case AuthNone, AuthSigV4:
	case AuthBasic, AuthBearer:
		if e.AuthSecretARN == "" && e.AuthFile == "" {
			problems = append(problems, fmt.Errorf("SIGMAWATCH_AUTH=%s: set SIGMAWATCH_AUTH_SECRET_ARN or SIGMAWATCH_AUTH_FILE (credentials never go in an environment value)", e.Auth))
		}
	default:
		problems = append(problems, fmt.Errorf("SIGMAWATCH_AUTH: unknown mode %q (want none, basic, bearer or sigv4)", e.Auth))
	}
	if e.AuthSecretARN != "" && e.AuthFile != "" {
		problems = append(problems, errors.New("SIGMAWATCH_AUTH_SECRET_ARN and SIGMAWATCH_AUTH_FILE: set at most one"))
	}
	if e.AuthSecretARN != "" && !strings.HasPrefix(e.AuthSecretARN, "arn:") {
		problems = append(problems, fmt.Errorf("SIGMAWATCH_AUTH_SECRET_ARN: %q is not an ARN", e.AuthSecretARN))
	}
	for _, u := range []struct {
		name, val string
		store     bool // gets the auth chain's credentials
	}{
		{"SIGMAWATCH_REMOTE_WRITE_URL", e.RemoteWriteURL, true},
		{"SIGMAWATCH_PROMETHEUS_URL", e.PrometheusURL, true},
		{"SIGMAWATCH_ALERTMANAGER_URL", e.AlertmanagerURL, false},
		{"SIGMAWATCH_EXTERNAL_URL", e.ExternalURL, false},
	} {
		if u.val == "" {
			continue
		}
		parsed, err := endpoint.Parse(u.val)
		if errors.Is(err, endpoint.ErrCredentials) {
			err = fmt.Errorf("%w, use SIGMAWATCH_AUTH", err)
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", u.name, err))
			continue
		}
		// Basic and bearer credentials, and SigV4's session token, travel
		// in clear over http. A loopback host (tests, a local proxy) may
		// still use it.
		if u.store && e.Auth != AuthNone && parsed.Scheme == "http" && !promauth.IsLoopback(parsed.Hostname()) {
			problems = append(problems, fmt.Errorf("%s: %s credentials over plain http to %s are refused: use https (http is allowed only for a loopback host: localhost, 127.0.0.0/8, ::1)", u.name, e.Auth, parsed.Host))
		}
	}
	if e.SNSTopicARN != "" && !IsSNSTopicARN(e.SNSTopicARN) {
		problems = append(problems, fmt.Errorf("SIGMAWATCH_SNS_TOPIC_ARN: %q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", e.SNSTopicARN))
	}
	level, err := parseLevel(getenv("SIGMAWATCH_LOG_LEVEL"))
	if err != nil {
		problems = append(problems, err)
	}
	e.LogLevel = level
	return e, errors.Join(problems...)
}

// Require reports every named setting that is empty.
func (e Env) Require(names ...string) error {
	values := map[string]string{
		"SIGMAWATCH_CONFIG":           e.ConfigPath,
		"SIGMAWATCH_REMOTE_WRITE_URL": e.RemoteWriteURL,
		"SIGMAWATCH_PROMETHEUS_URL":   e.PrometheusURL,
		"SIGMAWATCH_SNS_TOPIC_ARN":    e.SNSTopicARN,
	}
	var problems []error
	for _, n := range names {
		if values[n] == "" {
			problems = append(problems, fmt.Errorf("%s: required", n))
		}
	}
	return errors.Join(problems...)
}

// IsSNSTopicARN reports whether s has the shape of an SNS topic ARN.
func IsSNSTopicARN(s string) bool {
	parts := strings.Split(s, ":")
	return len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] == "sns" &&
		parts[3] != "" && len(parts[4]) == 12 && parts[5] != ""
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("SIGMAWATCH_LOG_LEVEL: unknown level %q (want debug, info, warn or error)", s)
}
