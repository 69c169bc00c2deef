package promauth

import "log/slog"

// Secret is a credential. Every way of printing it (fmt, JSON, YAML, slog)
// gives "<secret>"; use string(s) where the value itself is needed.
type Secret string

const redacted = "<secret>"

// String hides the value from fmt's %s, %v, %q and %x.
func (Secret) String() string { return redacted }

// GoString hides the value from fmt's %#v.
func (Secret) GoString() string { return `"` + redacted + `"` }

// MarshalJSON hides the value from encoding/json.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalYAML hides the value from go.yaml.in/yaml.
func (Secret) MarshalYAML() (any, error) { return redacted, nil }

// MarshalText hides the value from encoders that use encoding.TextMarshaler.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue hides the value from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
