package remotewrite

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Label is one name/value pair of a series. An empty Value means the label
// is absent, as in Prometheus; [Encode] drops it.
type Label struct {
	Name, Value string
}

// Sample is one value of a series at a time in milliseconds since the Unix
// epoch.
type Sample struct {
	T int64
	V float64
}

// Series is one time series: its labels (any order, __name__ included) and
// its samples in strictly increasing time order.
type Series struct {
	Labels  []Label
	Samples []Sample
}

// maxProblems caps how many problems one validation reports, so that a
// request of 10,000 broken series does not produce a megabyte of error text.
const maxProblems = 10

// Validate reports every problem of the request (up to a cap), joined with
// errors.Join, or nil when a receiver will accept the request as a whole.
// It checks that label names are valid, that __name__ is present and a valid
// metric name, that names are unique within a series, that values are valid
// UTF-8, that samples are strictly increasing in time and not NaN, and that no
// two series of the request have the same labels. Labels with an empty value
// are ignored (they are absent).
func Validate(series []Series) error {
	enc := getEncoder()
	defer putEncoder(enc)
	return enc.build(series)
}

// problems collects validation errors up to maxProblems and counts the rest.
type problems struct {
	errs    []error
	dropped int
}

func (p *problems) add(err error) {
	if len(p.errs) < maxProblems {
		p.errs = append(p.errs, err)
		return
	}
	p.dropped++
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := p.errs
	if p.dropped > 0 {
		errs = append(errs, fmt.Errorf("and %d more problems", p.dropped))
	}
	return fmt.Errorf("invalid write request: %w", errors.Join(errs...))
}

// isLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*, the label
// name syntax every receiver accepts (Prometheus 3 accepts any UTF-8 name,
// but Prometheus 2, AMP and older Mimir do not).
func isLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// isMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func isMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// ValidateLabels reports why a receiver would refuse, or silently drop, a
// series with these labels (in any order): an invalid or repeated label
// name, a missing or invalid __name__, a value that is not valid UTF-8.
// Labels with an empty value are absent and ignored. It lets a sender drop
// one bad series before batching instead of losing the whole request.
func ValidateLabels(labels []Label) error {
	var errs []error
	hasName := false
	for i := range labels {
		l := &labels[i]
		if l.Value == "" {
			continue
		}
		if l.Name == "__name__" {
			hasName = true
			if !isMetricName(l.Value) {
				errs = append(errs, fmt.Errorf("invalid metric name %q", l.Value))
			}
		} else if !isLabelName(l.Name) {
			errs = append(errs, fmt.Errorf("invalid label name %q", l.Name))
		}
		for j := range i {
			if labels[j].Name == l.Name && labels[j].Value != "" {
				errs = append(errs, fmt.Errorf("duplicate label name %q", l.Name))
				break
			}
		}
		if !utf8.ValidString(l.Value) {
			errs = append(errs, fmt.Errorf("label %q: value is not valid UTF-8", l.Name))
		}
	}
	if !hasName {
		errs = append(errs, errors.New("no __name__ label"))
	}
	if len(errs) == 0 {
		return nil
	}
	return joinInline(errs)
}
