package notify

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is the status of a notification.
type Status string

// The statuses.
const (
	StatusFiring   Status = "firing"
	StatusResolved Status = "resolved"
)

// Limits of the rendered bodies.
const (
	// MaxSMS is the longest SMS body in ASCII characters (one SMS).
	MaxSMS = 140
	// MaxSubject is SNS's limit on the Subject.
	MaxSubject = 99
)

// Alert is one series of a notification.
type Alert struct {
	// Labels are the alert's labels: the series labels, the rule's labels
	// and alertname.
	Labels map[string]string
	// Annotations are already expanded (summary, description, runbook_url…).
	Annotations map[string]string
	Value       float64
	// Scored: an anomaly rule scored the series; Method, Center, Spread and
	// Z are meaningful.
	Scored bool
	Method string // window, robust or seasonal
	Center float64
	Spread float64
	Z      float64
	// StartsAt is since when the alert is active (the episode's start).
	StartsAt time.Time
	// EndsAt is when it resolved; for a firing alert sent to Alertmanager,
	// when Alertmanager may consider it resolved if not sent again.
	EndsAt time.Time
	// Recent are the latest points, oldest first, for the sparkline.
	Recent []float64
	// GeneratorURL links to the series' graph.
	GeneratorURL string
	// New: firing and listed for the first time (in a group that was
	// notified before). Recovering: still firing only because of
	// keep_firing_for.
	New, Recovering bool
	// Resolved: listed as resolved since the group's last notification;
	// Reason says why when it is not that the condition cleared ("no data
	// for 1h", "rule removed").
	Resolved bool
	Reason   string
}

// Message is one notification: one group of one rule's alerts (see
// alerting.Plan), at one run.
type Message struct {
	// ID is stable across retries of the run (see alerting.NotificationID).
	ID     string
	Status Status
	// Repeat: a reminder that the alert is still firing.
	Repeat bool
	// Test: a test of the notification path (see TestMessage), not an alert.
	Test     bool
	Rule     string
	Group    string
	Severity string
	Expr     string
	// At is the scheduled time of the run.
	At       time.Time
	GraphURL string
	// GroupLabels name the group (the rule's group_by labels).
	GroupLabels map[string]string
	// Alerts are the series, firing ones first, then resolved ones, in a
	// stable order; only the first MaxAlerts are listed (the rest as "+N
	// more"), all of them count.
	Alerts    []Alert
	MaxAlerts int
}

// counts returns how many alerts are firing, of them new, and resolved.
func (m Message) counts() (firing, fresh, resolved int) {
	for _, a := range m.Alerts {
		switch {
		case a.Resolved:
			resolved++
		case a.New:
			firing++
			fresh++
		default:
			firing++
		}
	}
	return firing, fresh, resolved
}

// GraphURL is a Prometheus UI link to expr over the day before at, or ""
// when base is empty. base is SIGMAWATCH_EXTERNAL_URL.
func GraphURL(base, expr string, at time.Time) string {
	if base == "" {
		return ""
	}
	v := url.Values{}
	v.Set("g0.expr", expr)
	v.Set("g0.tab", "0")
	v.Set("g0.range_input", "1d")
	v.Set("g0.end_input", at.UTC().Format("2006-01-02 15:04:05"))
	return strings.TrimRight(base, "/") + "/graph?" + v.Encode()
}

// Sparkline draws points as block characters scaled between their minimum
// and maximum; non-finite points are blanks.
func Sparkline(points []float64) string {
	const ticks = "▁▂▃▄▅▆▇█"
	blocks := []rune(ticks)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range points {
		if finite(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	var b strings.Builder
	for _, v := range points {
		switch {
		case !finite(v):
			b.WriteRune(' ')
		case hi == lo:
			b.WriteRune(blocks[0])
		default:
			i := int(math.Round((v - lo) / (hi - lo) * float64(len(blocks)-1)))
			b.WriteRune(blocks[min(max(i, 0), len(blocks)-1)])
		}
	}
	return b.String()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (m Message) headline() string {
	switch {
	case m.Test:
		return "TEST"
	case m.Status == StatusResolved:
		return "RESOLVED"
	case m.Repeat:
		return "FIRING (repeat)"
	default:
		return "FIRING"
	}
}

func (m Message) listed() ([]Alert, int) {
	n := m.MaxAlerts
	if n <= 0 || n > len(m.Alerts) {
		n = len(m.Alerts)
	}
	return m.Alerts[:n], len(m.Alerts) - n
}

// Subject is the email subject: ASCII, at most MaxSubject characters, one line.
func Subject(m Message) string {
	if m.Test {
		return truncate(ascii(fmt.Sprintf("[TEST] sigmawatch notification test from %s (critical)", m.Group)), MaxSubject)
	}
	s := fmt.Sprintf("[%s] %s", m.headline(), m.Rule)
	if g := shortIdentity(m.GroupLabels); g != "" && len(m.Alerts) > 1 {
		s += " " + g
	}
	firing, _, resolved := m.counts()
	switch {
	case len(m.Alerts) == 1:
		if id := shortIdentity(m.Alerts[0].Labels); id != "" {
			s += ": " + id
		}
	case firing > 0 && resolved > 0:
		s += fmt.Sprintf(": %d firing, %d resolved", firing, resolved)
	default:
		s += fmt.Sprintf(": %d series", len(m.Alerts))
	}
	if m.Severity != "" {
		s += " (" + m.Severity + ")"
	}
	return truncate(ascii(s), MaxSubject)
}

// SMS is the one-line SMS body: ASCII, at most MaxSMS characters.
func SMS(m Message) string {
	if m.Test {
		return testSMS(m)
	}
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(m.headline(), " (repeat)", "+"))
	b.WriteString(" " + m.Rule)
	if m.Severity != "" {
		b.WriteString(" " + m.Severity)
	}
	if len(m.Alerts) > 0 {
		a := m.Alerts[0]
		if id := shortIdentity(a.Labels); id != "" {
			b.WriteString(" " + id)
		}
		switch {
		case a.Resolved:
			if a.Reason != "" {
				b.WriteString(" (" + a.Reason + ")")
			}
		default:
			b.WriteString(" v=" + num(a.Value))
			if a.Scored {
				b.WriteString(" z=" + signed(a.Z))
			}
			if a.Recovering {
				b.WriteString(" recovering")
			}
		}
		if len(m.Alerts) > 1 {
			fmt.Fprintf(&b, " +%d more", len(m.Alerts)-1)
		}
	}
	id := ""
	if m.ID != "" {
		id = " id:" + m.ID[:min(8, len(m.ID))]
	}
	return truncate(ascii(b.String()), MaxSMS-len(id)) + id
}

// Email is the complete text body; it is also the default body.
func Email(m Message) string {
	if m.Test {
		return testEmail(m)
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("%s: %s", m.headline(), m.Rule)
	line("")
	line("Status:    %s", m.Status)
	if m.Group != "" {
		line("Rule:      %s (group %s)", m.Rule, m.Group)
	} else {
		line("Rule:      %s", m.Rule)
	}
	if m.Severity != "" {
		line("Severity:  %s", m.Severity)
	}
	if len(m.GroupLabels) > 0 {
		line("Group:     %s", labelString(m.GroupLabels))
	}
	line("At:        %s", m.At.UTC().Format(time.RFC3339))
	firing, fresh, resolved := m.counts()
	switch {
	case resolved > 0 && firing > 0:
		line("Series:    %d firing (%d new), %d resolved", firing, fresh, resolved)
	case fresh > 0 && fresh < firing:
		line("Series:    %d firing (%d new)", firing, fresh)
	default:
		line("Series:    %d", len(m.Alerts))
	}
	line("PromQL:    %s", m.Expr)
	if m.GraphURL != "" {
		line("Graph:     %s", m.GraphURL)
	}
	if rb := runbook(m.Alerts); rb != "" {
		line("Runbook:   %s", rb)
	}
	shown, more := m.listed()
	for i, a := range shown {
		line("")
		line("%d. %s%s", i+1, labelString(a.Labels), marker(m, a, fresh, firing))
		for _, k := range []string{"summary", "description"} {
			if v := a.Annotations[k]; v != "" {
				line("   %s%s", strings.ToUpper(k[:1])+k[1:]+":", pad(len(k)+1)+oneLine(v))
			}
		}
		line("   Value:       %s", num(a.Value))
		if a.Scored {
			line("   Baseline:    %s", baseline(a))
			line("   z:           %s", signed(a.Z))
		}
		if !a.StartsAt.IsZero() {
			since := fmt.Sprintf("%s (%s before this run)", a.StartsAt.UTC().Format(time.RFC3339), m.At.Sub(a.StartsAt).Round(time.Second))
			line("   Since:       %s", since)
		}
		if a.Resolved && !a.EndsAt.IsZero() {
			resolvedAt := a.EndsAt.UTC().Format(time.RFC3339)
			if a.Reason != "" {
				resolvedAt += " (" + a.Reason + ")"
			}
			line("   Resolved:    %s", resolvedAt)
		}
		if len(a.Recent) > 0 {
			line("   Recent:      %s", Sparkline(a.Recent))
		}
	}
	if more > 0 {
		line("")
		line("+%d more", more)
	}
	line("")
	line("Notification ID: %s", m.ID)
	return b.String()
}

func pad(used int) string { return strings.Repeat(" ", max(1, 13-used)) }

// marker tells the alerts of a mixed message apart: resolved ones in a
// message that still fires, new ones among older ones, recovering ones.
func marker(m Message, a Alert, fresh, firing int) string {
	switch {
	case a.Resolved && m.Status == StatusFiring:
		return "  [resolved]"
	case a.New && fresh < firing:
		return "  [new]"
	case a.Recovering:
		return "  [recovering]"
	}
	return ""
}

func baseline(a Alert) string {
	if a.Method == "robust" {
		return fmt.Sprintf("median %s, MAD %s (robust)", num(a.Center), num(a.Spread))
	}
	method := a.Method
	if method == "" {
		method = "window"
	}
	return fmt.Sprintf("mean %s, σ %s (%s)", num(a.Center), num(a.Spread), method)
}

// runbook is the runbook_url the listed alerts share, or the first one.
func runbook(alerts []Alert) string {
	for _, a := range alerts {
		if v := a.Annotations["runbook_url"]; v != "" {
			return v
		}
	}
	return ""
}

// labelString prints labels as PromQL does, sorted, without alertname.
func labelString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "alertname" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// shortIdentity is the label values that tell series apart, for one-line
// bodies: every value but alertname, severity and the account/region
// context, joined by commas.
func shortIdentity(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		switch k {
		case "alertname", "severity", "account_id", "region", "__name__":
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vals := make([]string, 0, len(keys))
	for _, k := range keys {
		vals = append(vals, labels[k])
	}
	return strings.Join(vals, ",")
}

func num(v float64) string {
	if !finite(v) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func signed(z float64) string {
	if z >= 0 {
		return "+" + strconv.FormatFloat(z, 'f', 2, 64)
	}
	return strconv.FormatFloat(z, 'f', 2, 64)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ascii replaces what SMS and subjects cannot carry: non-ASCII and control
// characters become '?' and spaces.
func ascii(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
		case r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	if n <= 3 {
		return s[:n]
	}
	return s[:n-3] + "..."
}
