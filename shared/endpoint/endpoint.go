// Package endpoint checks the URL of a store or service sigmawatch sends
// requests to (remote write, PromQL, Alertmanager, the external link) and
// gives the part of it an error or a log line may show.
//
// A URL may carry a secret — user info, a token in the query, an escape
// inside the user info — so neither Parse's errors nor Redact ever contain
// more than scheme://host/path.
package endpoint

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrCredentials is Parse's error for a URL with user info: credentials in
// a URL end up in logs and in the template, so they belong in the auth
// settings.
var ErrCredentials = errors.New("credentials in the URL are not allowed")

// Parse parses raw as an http or https URL with a host and without user
// info. Its errors name the problem and quote raw only as Redact shows it.
func Parse(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q: not a URL: %w", Redact(raw), parseProblem(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: want an http or https URL", Redact(raw))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", Redact(raw))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q: %w", Redact(raw), ErrCredentials)
	}
	return u, nil
}

// Redact is the part of a URL an error or a log line may show:
// scheme://host/path, without user info, query or fragment. It works on
// the text, so it also serves a URL that does not parse.
func Redact(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	return scheme + "://" + authority + path
}

// parseProblem is url.Parse's reason without the URL it quotes; an invalid
// escape is not quoted either, since it may sit in user info.
func parseProblem(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if _, ok := errors.AsType[url.EscapeError](err); ok {
		return errors.New("invalid %-escape")
	}
	return err
}
