package naming

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MetricName returns the YACE series name of a CloudWatch metric and statistic.
// An empty statistic gives the name without a suffix (YACE's *_info series).
func MetricName(namespace, metric, statistic string) string {
	var b strings.Builder
	b.Grow(len("aws_") + len(namespace) + len(metric) + len(statistic) + 2)
	// Only a literal leading "/" goes (/aws/sagemaker/Endpoints); any other
	// leading separator stays, as "_".
	ns := snake(strings.ToLower(strings.TrimPrefix(namespace, "/")))
	if !strings.HasPrefix(ns, "aws") {
		b.WriteString("aws_")
	}
	b.WriteString(ns)
	b.WriteByte('_')
	b.WriteString(trimNamespaceWords(snake(metric), ns))
	if statistic != "" {
		b.WriteByte('_')
		b.WriteString(snake(statistic))
	}
	return replaceInvalid(b.String(), true)
}

// trimNamespaceWords drops the namespace words a metric name repeats
// (AWS/Kafka KafkaDataLogsDiskUsed → data_logs_disk_used) the way YACE does,
// quirks included, since the point is identical names: the words of ns are
// tried in order against the metric at the current cut, and a word that
// matches there moves the cut to that word's own length, not past it. So a
// second matching word does not extend the cut (AWS/EC2 AWSEC2Thing keeps
// ec2_thing), and an empty word, from two separators in a row, resets it to
// the start. One "_" after the cut goes too.
func trimNamespaceWords(m, ns string) string {
	cut := 0
	for word := range strings.SplitSeq(ns, "_") {
		if strings.HasPrefix(m[cut:], word) {
			cut = len(word)
		}
	}
	return strings.TrimPrefix(m[cut:], "_")
}

// DimensionLabel returns the label name of a CloudWatch dimension:
// "dimension_" followed by the sanitised name, case kept.
func DimensionLabel(dimension string) string {
	return "dimension_" + replaceInvalid(separators(dimension), false)
}

// SanitizeLabelName turns any string into a valid Prometheus label name:
// YACE's separator replacements, then "_" for any other invalid character, and
// a leading "_" when the result would be empty or start with a digit.
func SanitizeLabelName(s string) string {
	out := replaceInvalid(separators(s), false)
	if out == "" || (out[0] >= '0' && out[0] <= '9') {
		out = "_" + out
	}
	return out
}

// ValidLabelName reports whether s is a valid label name in the classic
// Prometheus character set, which every remote-write receiver accepts.
func ValidLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], i == 0, false) {
			return false
		}
	}
	return true
}

// ValidMetricName reports whether s is a valid metric name in the classic
// Prometheus character set (label characters plus ':').
func ValidMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], i == 0, true) {
			return false
		}
	}
	return true
}

func nameByte(c byte, first, colon bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9':
		return !first
	case c == ':':
		return colon
	}
	return false
}

// isSeparator lists the characters YACE replaces with "_".
func isSeparator(c rune) bool {
	switch c {
	case ' ', ',', '\t', '/', '\\', '.', '-', ':', '=', '@', '<', '>', '(', ')', '“':
		return true
	}
	return false
}

// snake is YACE's PromString: separators to "_", "%" to "_percent", lower
// case, and "_" before an upper-case letter that follows a lower-case letter or
// a digit.
func snake(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 4)
	var prev rune
	for _, c := range s {
		switch {
		case isSeparator(c):
			b.WriteByte('_')
		case c == '%':
			b.WriteString("_percent")
		default:
			if unicode.IsUpper(c) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
		}
		prev = c
	}
	return b.String()
}

// separators is YACE's case-keeping sanitiser for label names.
func separators(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch {
		case isSeparator(c):
			b.WriteByte('_')
		case c == '%':
			b.WriteString("_percent")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// replaceInvalid maps each rune outside the classic name alphabet to one "_".
// Names here never start with a digit (they carry a prefix) except through
// SanitizeLabelName, which handles it.
func replaceInvalid(s string, colon bool) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], false, colon) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if nameByte(s[i], false, colon) {
			b.WriteByte(s[i])
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteByte('_')
		i += size
	}
	return b.String()
}
