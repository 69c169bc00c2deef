package promauth

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
)

// reservedHeaders are set by the auth chain or the remote-write protocol;
// an extra header must not override them.
var reservedHeaders = map[string]bool{
	"Authorization":                     true,
	"Content-Encoding":                  true,
	"Content-Type":                      true,
	"Content-Length":                    true,
	"Host":                              true,
	"User-Agent":                        true,
	"X-Prometheus-Remote-Write-Version": true,
	"Transfer-Encoding":                 true,
}

// ParseHeaders parses SIGMAWATCH_HEADERS: "Name=value,Other=v2". Spaces
// around items, names and values are trimmed; a value cannot contain a comma.
// Names are returned in canonical form. It refuses malformed items, invalid
// names, duplicates, Authorization, the remote-write protocol headers and
// X-Amz-* (SigV4's own). Errors name the item by position and header name,
// never its value, which may be a tenant token.
func ParseHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	var errs []error
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			errs = append(errs, fmt.Errorf("header item %d: empty", i+1))
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("header item %d: want Name=value", i+1))
			continue
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		canon, err := checkHeader(name, value)
		if err != nil {
			errs = append(errs, fmt.Errorf("header item %d: %w", i+1, err))
			continue
		}
		if _, dup := out[canon]; dup {
			errs = append(errs, fmt.Errorf("header item %d: %s given twice", i+1, canon))
			continue
		}
		out[canon] = value
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("parse headers: %w", errors.Join(errs...))
	}
	return out, nil
}

// checkHeader validates one extra header and returns its canonical name.
func checkHeader(name, value string) (string, error) {
	if !isToken(name) {
		return "", fmt.Errorf("invalid header name %q", name)
	}
	canon := textproto.CanonicalMIMEHeaderKey(name)
	if reservedHeaders[canon] || strings.HasPrefix(canon, "X-Amz-") {
		return "", fmt.Errorf("header %s is set by sigmawatch and cannot be overridden", canon)
	}
	if value == "" {
		return "", fmt.Errorf("header %s: empty value", canon)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", fmt.Errorf("header %s: value contains a control character", canon)
		}
	}
	return canon, nil
}

// isToken reports whether s is an RFC 9110 token (a valid field name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
