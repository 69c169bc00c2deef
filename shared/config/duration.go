package config

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written the Prometheus way ("30s", "5m", "1h",
// "1d", "1w", "1h30m"), so collect.yaml and rules.yaml read like
// prometheus.yml. Negative values cannot be written in YAML.
type Duration time.Duration

// ParseDuration parses s with Prometheus's duration syntax.
func ParseDuration(s string) (Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %w", s, err)
	}
	return Duration(d), nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way it is written in YAML ("5m", "1d"); a negative
// value, which only code can build, is printed with a leading minus.
func (d Duration) String() string {
	if d < 0 {
		return "-" + model.Duration(-d).String()
	}
	return model.Duration(d).String()
}

// MarshalYAML writes d in its YAML form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a scalar duration. The line is part of the error because
// yaml.v3 does not add it to errors returned by custom unmarshalers.
func (d *Duration) UnmarshalYAML(value *yaml.Node) error {
	if value.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a string such as 5m", value.Line)
	}
	v, err := ParseDuration(value.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", value.Line, err)
	}
	*d = v
	return nil
}

// MarshalText lets Duration print in JSON (for -plan and debug output).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads the form MarshalText writes.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
