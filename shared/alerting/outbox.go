package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// The outbox: every planned notification is written to the store in the
// same request as the state that planned it, before it is published, and
// marked sent after. A run whose publish failed, its Lambda retry, or the
// next scheduled run sends what is recorded and not marked sent, as
// recorded, with its id.
const (
	// OutboxMetric holds the planned notifications: per notification one
	// header series (field "at", with the rule, kind, severity and group
	// labels) and per member a few numeric fields, its series labels in
	// one label (JSON), so no series label can collide with the outbox's.
	OutboxMetric = "sigmawatch_alert_outbox"
	// SentMetric marks a notification as sent; its value is the scheduled
	// time of the run that sent it.
	SentMetric = "sigmawatch_alert_notification_sent"

	// NotificationIDLabel names the notification of an outbox or sent series.
	NotificationIDLabel = "sigmawatch_notification_id"
	kindLabel           = "sigmawatch_kind"
	memberLabel         = "sigmawatch_member"
	labelsLabel         = "sigmawatch_labels"
	groupLabelsLabel    = "sigmawatch_group_labels"
)

// Member fields of the outbox; absent fields read as zero.
const (
	outboxAt       = "at"
	outboxValue    = "value"
	outboxZ        = "z"
	outboxCenter   = "center"
	outboxSpread   = "spread"
	outboxStartsAt = "starts_at"
	outboxEndsAt   = "ends_at"
	outboxFlags    = "flags" // bit 0 resolved, 1 new, 2 recovering, 3 scored; the reason from bit 8
)

// OutboxSeries records plans at the scheduled time at, for the same write
// request as the state that planned them.
func (s *Store) OutboxSeries(at time.Time, plans []Planned) []remotewrite.Series {
	ms := at.UnixMilli()
	var out []remotewrite.Series
	add := func(v float64, kv ...string) {
		if !finite(v) {
			return
		}
		ls := append([]remotewrite.Label{{Name: model.MetricNameLabel, Value: OutboxMetric}}, s.RunLabels()...)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				ls = append(ls, remotewrite.Label{Name: kv[i], Value: kv[i+1]})
			}
		}
		out = append(out, remotewrite.Series{Labels: ls, Samples: []remotewrite.Sample{{T: ms, V: v}}})
	}
	for _, p := range plans {
		id := NotificationIDLabel
		add(seconds(p.At), id, p.ID, model.AlertNameLabel, p.Rule.Alert, GroupLabel, p.Rule.Group, kindLabel, string(p.Kind),
			SeverityLabel, p.Severity, groupLabelsLabel, jsonLabels(p.GroupLabels), FieldLabel, outboxAt)
		for i, m := range p.Members {
			member := func(field string, v float64) {
				if v == 0 {
					return // absent reads as zero
				}
				add(v, id, p.ID, memberLabel, strconv.Itoa(i), labelsLabel, jsonLabels(m.Labels), FieldLabel, field)
			}
			flags := float64(int(m.Reason) << 8)
			for bit, on := range []bool{m.Resolved, m.New, m.Recovering, m.Scored} {
				if on {
					flags += float64(int(1) << bit)
				}
			}
			// One series is always written, so the member is listed even
			// when every other field is zero.
			add(flags, id, p.ID, memberLabel, strconv.Itoa(i), labelsLabel, jsonLabels(m.Labels), FieldLabel, outboxFlags)
			member(outboxValue, m.Value)
			member(outboxZ, m.Z)
			member(outboxCenter, m.Center)
			member(outboxSpread, m.Spread)
			member(outboxStartsAt, seconds(m.StartsAt))
			member(outboxEndsAt, seconds(m.EndsAt))
		}
	}
	return out
}

// SentSeries marks the notifications ids as sent by the run at at.
func (s *Store) SentSeries(at time.Time, ids []string) []remotewrite.Series {
	out := make([]remotewrite.Series, 0, len(ids))
	for _, id := range ids {
		out = append(out, remotewrite.Series{
			Labels: append(append([]remotewrite.Label{{Name: model.MetricNameLabel, Value: SentMetric}}, s.RunLabels()...),
				remotewrite.Label{Name: NotificationIDLabel, Value: id}),
			Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: seconds(at)}},
		})
	}
	return out
}

// MaxResend bounds how many recorded notifications one run sends again.
const MaxResend = 100

var hexID = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

// Unsent reads the notifications recorded within window of at (either
// side: a late retry of an earlier time still sees what later runs
// recorded and sent) and not marked sent, oldest first, at most MaxResend.
// Reading after its own write, a run sees what it recorded itself.
func (s *Store) Unsent(ctx context.Context, at time.Time, window time.Duration) ([]Planned, error) {
	r := dur(2*window + time.Millisecond)
	query := fmt.Sprintf("last_over_time(%s[%s]) unless on(%s) last_over_time(%s[%s])",
		s.runSelector(OutboxMetric, FieldLabel+`="`+outboxAt+`"`), r, NotificationIDLabel, s.runSelector(SentMetric), r)
	evalAt := at.Add(window)
	headers, err := s.q.Query(ctx, query, evalAt)
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	if len(headers) == 0 {
		return nil, nil
	}
	byID := map[string]*Planned{}
	for _, h := range headers {
		id := h.Labels[NotificationIDLabel]
		if !hexID.MatchString(id) {
			continue
		}
		p := &Planned{ID: id, Rule: RuleRef{Group: h.Labels[GroupLabel], Alert: h.Labels[model.AlertNameLabel]},
			Kind: Kind(h.Labels[kindLabel]), At: fromSeconds(h.V), Severity: h.Labels[SeverityLabel],
			GroupLabels: parseJSONLabels(h.Labels[groupLabelsLabel])}
		byID[id] = p
	}
	ids := slices.SortedFunc(maps.Keys(byID), func(a, b string) int {
		return cmpTimeID(byID[a].At, a, byID[b].At, b)
	})
	if len(ids) > MaxResend {
		ids = ids[:MaxResend]
	}
	query = fmt.Sprintf("last_over_time(%s[%s])", s.runSelector(OutboxMetric, fmt.Sprintf(`%s=~"%s"`, NotificationIDLabel, strings.Join(ids, "|"))), r)
	fields, err := s.q.Query(ctx, query, evalAt)
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	members := map[string]map[int]*Member{}
	for _, f := range fields {
		id, idx := f.Labels[NotificationIDLabel], f.Labels[memberLabel]
		i, err := strconv.Atoi(idx)
		if byID[id] == nil || err != nil || i < 0 {
			continue
		}
		if members[id] == nil {
			members[id] = map[int]*Member{}
		}
		m := members[id][i]
		if m == nil {
			m = &Member{Labels: parseJSONLabels(f.Labels[labelsLabel])}
			m.Fingerprint = Fingerprint(m.Labels)
			members[id][i] = m
		}
		setMember(m, f.Labels[FieldLabel], f.V)
	}
	out := make([]Planned, 0, len(ids))
	for _, id := range ids {
		p := byID[id]
		for _, i := range slices.Sorted(maps.Keys(members[id])) {
			p.Members = append(p.Members, *members[id][i])
		}
		out = append(out, *p)
	}
	return out, nil
}

func setMember(m *Member, field string, v float64) {
	switch field {
	case outboxValue:
		m.Value = v
	case outboxZ:
		m.Z = v
	case outboxCenter:
		m.Center = v
	case outboxSpread:
		m.Spread = v
	case outboxStartsAt:
		m.StartsAt = fromSeconds(v)
	case outboxEndsAt:
		m.EndsAt = fromSeconds(v)
	case outboxFlags:
		if !finite(v) || v < 0 || v > math.MaxInt32 {
			return
		}
		f := int(v)
		m.Resolved, m.New, m.Recovering, m.Scored = f&1 != 0, f&2 != 0, f&4 != 0, f&8 != 0
		m.Reason = Reason(f >> 8)
	}
}

func cmpTimeID(ta time.Time, a string, tb time.Time, b string) int {
	if c := ta.Compare(tb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// jsonLabels encodes labels for one label value (keys sorted, as
// encoding/json writes maps); "" for none.
func jsonLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	b, err := json.Marshal(labels)
	if err != nil {
		return "" // a map of strings always encodes
	}
	return string(b)
}

func parseJSONLabels(s string) map[string]string {
	out := map[string]string{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out) // what we wrote; garbage reads as no labels
	}
	return out
}
