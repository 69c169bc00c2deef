package rules

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// TemplateData is what label and annotation templates see, as in Prometheus:
// $labels, $externalLabels, $externalURL and $value.
type TemplateData struct {
	Labels         map[string]string
	ExternalLabels map[string]string
	ExternalURL    string
	Value          float64
}

// prelude gives templates Prometheus's variables, so annotations copied from a
// Prometheus rule file work unchanged.
const prelude = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}" +
	"{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// TemplateFuncs are the Prometheus template functions that need no query
// engine. query, first, label, value, sortByLabel and strvalue are absent on
// purpose: a template that uses them fails validation instead of failing at
// notification time.
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"humanize":           humanize,
		"humanize1024":       humanize1024,
		"humanizeDuration":   humanizeDuration,
		"humanizePercentage": humanizePercentage,
		"humanizeTimestamp":  humanizeTimestamp,
		"toUpper":            strings.ToUpper,
		"toLower":            strings.ToLower,
		"title":              title,
		"match":              regexp.MatchString,
		"reReplaceAll": func(pattern, repl, text string) (string, error) {
			re, err := regexp.Compile(pattern)
			if err != nil {
				return "", err
			}
			return re.ReplaceAllString(text, repl), nil
		},
		"stripPort":   stripPort,
		"stripDomain": stripDomain,
		"safeHtml":    func(s string) string { return s },
		"args": func(args ...any) map[string]any {
			m := make(map[string]any, len(args))
			for i, a := range args {
				m["arg"+strconv.Itoa(i)] = a
			}
			return m
		},
	}
}

func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Funcs(TemplateFuncs()).Option("missingkey=zero").Parse(prelude + text)
}

// Expand renders a label or annotation template with data.
func Expand(name, text string, data TemplateData) (string, error) {
	tmpl, err := parseTemplate(name, text)
	if err != nil {
		return "", fmt.Errorf("parse template %s: %w", name, err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("expand template %s: %w", name, err)
	}
	return b.String(), nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case string:
		return strconv.ParseFloat(x, 64)
	case time.Duration:
		return x.Seconds(), nil
	}
	return 0, fmt.Errorf("cannot convert %T to a number", v)
}

func humanize(v any) (string, error) {
	f, err := toFloat(v)
	if err != nil {
		return "", err
	}
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprintf("%.4g", f), nil
	}
	if math.Abs(f) >= 1 {
		prefix := ""
		for _, p := range []string{"k", "M", "G", "T", "P", "E", "Z", "Y"} {
			if math.Abs(f) < 1000 {
				break
			}
			prefix = p
			f /= 1000
		}
		return fmt.Sprintf("%.4g%s", f, prefix), nil
	}
	prefix := ""
	for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
		if math.Abs(f) >= 1 {
			break
		}
		prefix = p
		f *= 1000
	}
	return fmt.Sprintf("%.4g%s", f, prefix), nil
}

func humanize1024(v any) (string, error) {
	f, err := toFloat(v)
	if err != nil {
		return "", err
	}
	if math.Abs(f) <= 1 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprintf("%.4g", f), nil
	}
	prefix := ""
	for _, p := range []string{"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"} {
		if math.Abs(f) < 1024 {
			break
		}
		prefix = p
		f /= 1024
	}
	return fmt.Sprintf("%.4g%s", f, prefix), nil
}

func humanizeDuration(v any) (string, error) {
	f, err := toFloat(v)
	if err != nil {
		return "", err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprintf("%.4g", f), nil
	}
	if f == 0 {
		return "0s", nil
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	if f < 1 {
		for _, u := range []struct {
			s string
			m float64
		}{{"ms", 1e3}, {"us", 1e6}, {"ns", 1e9}} {
			if f*u.m >= 1 || u.s == "ns" {
				return fmt.Sprintf("%s%.4g%s", sign, f*u.m, u.s), nil
			}
		}
	}
	secs := int64(f)
	days, hours, minutes := secs/86400, secs/3600%24, secs/60%60
	seconds := math.Mod(f, 60)
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%dh", hours))
	}
	if minutes > 0 {
		parts = append(parts, fmt.Sprintf("%dm", minutes))
	}
	if seconds >= 0.001 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%.4gs", seconds))
	}
	return sign + strings.Join(parts, " "), nil
}

func humanizePercentage(v any) (string, error) {
	f, err := toFloat(v)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%.4g%%", f*100), nil
}

func humanizeTimestamp(v any) (string, error) {
	f, err := toFloat(v)
	if err != nil {
		return "", err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprintf("%.4g", f), nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().String(), nil
}

// title upper-cases the first letter of each space-separated word (the
// deprecated strings.Title is what Prometheus used; words are ASCII here).
func title(s string) string {
	words := strings.Split(s, " ")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

func stripPort(hostPort string) string {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return hostPort
	}
	return host
}

func stripDomain(hostPort string) string {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	if net.ParseIP(host) == nil {
		if i := strings.IndexByte(host, '.'); i >= 0 {
			host = host[:i]
		}
	}
	if port != "" {
		return net.JoinHostPort(host, port)
	}
	return host
}
