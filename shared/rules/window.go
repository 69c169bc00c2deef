package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sigmawatch/sigmawatch/shared/config"
)

// Window is a window of the anomaly block that used to be a point count
// (smoothing, sustained): a duration such as 15m. A bare number other than
// 0 is the old form and is refused with the duration to write instead:
// a count meant different spans on 1-minute and 5-minute data, which is
// exactly what made the deployed function and the backtest disagree.
type Window config.Duration

// D returns w as a time.Duration.
func (w Window) D() time.Duration { return time.Duration(w) }

// String formats w the way it is written in YAML ("15m").
func (w Window) String() string { return config.Duration(w).String() }

// MarshalYAML writes w in its YAML form.
func (w Window) MarshalYAML() (any, error) { return w.String(), nil }

// UnmarshalYAML reads a duration. The refusal of a point count is a
// yaml.TypeError, so Load goes on and reports the rest of the file too.
func (w *Window) UnmarshalYAML(value *yaml.Node) error {
	if value.Kind == yaml.ScalarNode {
		if n, err := strconv.Atoi(strings.TrimSpace(value.Value)); err == nil && n != 0 {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf(
				"line %d: %d is a point count; windows are durations now: write %s for %d points of 5-minute data, %s of 1-minute data",
				value.Line, n, config.Duration(time.Duration(n)*5*time.Minute), n, config.Duration(time.Duration(n)*time.Minute))}}
		}
	}
	var d config.Duration
	if err := d.UnmarshalYAML(value); err != nil {
		return &yaml.TypeError{Errors: []string{err.Error()}}
	}
	*w = Window(d)
	return nil
}

// removedPoints is the anomaly block's former sustained_points key: any
// value is refused with the sustained duration to write instead.
type removedPoints struct{ set bool }

// UnmarshalYAML refuses the key (as a yaml.TypeError, so Load reports the
// rest of the file too) and remembers it was there, so validation does not
// add the consequences of its absence.
func (r *removedPoints) UnmarshalYAML(value *yaml.Node) error {
	r.set = true
	msg := fmt.Sprintf("line %d: sustained_points was replaced by sustained, a duration", value.Line)
	switch n, err := strconv.Atoi(strings.TrimSpace(value.Value)); {
	case err == nil && n == 0:
		msg += ": write sustained: 0s to turn the check off"
	case err == nil:
		msg += fmt.Sprintf(": write sustained: %s for %d points of 5-minute data (sustained: 0s turns the check off)",
			config.Duration(time.Duration(n)*5*time.Minute), n)
	}
	return &yaml.TypeError{Errors: []string{msg}}
}
