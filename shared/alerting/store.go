package alerting

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Our own series. Never ALERTS / ALERTS_FOR_STATE: those belong to the
// user's own Prometheus rules.
const (
	// AlertsMetric is 1 while a series is pending or firing, like ALERTS.
	AlertsMetric = "sigmawatch_alerts"
	// StateMetric holds every field of an AlertState, one series per field
	// (label FieldLabel); times are Unix seconds, 0 when unset.
	StateMetric = "sigmawatch_alert_state"
	// ZScoreMetric is the z of every scored series of an anomaly rule.
	ZScoreMetric = "sigmawatch_alert_zscore"
	// LastRunMetric is the scheduled time of the last completed run; it
	// travels in the same write request as the state it vouches for.
	LastRunMetric = "sigmawatch_alert_last_run_timestamp_seconds"
	// CircuitOpenMetric is 1 when a run refused to notify because the last
	// persisted run was too old to trust the state it restored, else 0.
	CircuitOpenMetric = "sigmawatch_alert_circuit_open"
	// FieldLabel names the AlertState field of a StateMetric series. It is
	// prefixed so that it cannot collide with a label of the user's series.
	FieldLabel = "sigmawatch_field"
	// GroupLabel names the rule group on StateMetric series: Prometheus
	// allows one alert name in several groups, whose states must not mix.
	GroupLabel = "sigmawatch_group"
	// SeverityLabel carries the episode's severity on the StateMetric
	// series of field "severity" (whose value is when it was written, so
	// that the newest wins if a series changed severity between episodes).
	SeverityLabel = "sigmawatch_severity"
	// PartLabel names the part of the rules a run's own series belong to
	// (see Store.WithPart).
	PartLabel = "sigmawatch_part"
)

// Store is one deployment's alert state in the store (the Prometheus the
// rules query): it builds the series a run writes and reads them back.
// Every series it builds carries config.DeploymentLabel and every query it
// runs selects on it, so two deployments (stacks in two regions, two teams)
// sharing one store never read each other's state or last run.
type Store struct {
	q          Querier
	deployment string
	// part names the share of the rules one invocation runs (see
	// WithPart); empty for a run of the whole rules file.
	part string
}

// NewStore returns the store of deployment (config.Env.Deployment; empty
// means config.DefaultDeployment) read through q.
func NewStore(q Querier, deployment string) *Store {
	if deployment == "" {
		deployment = config.DefaultDeployment
	}
	return &Store{q: q, deployment: deployment}
}

// Deployment is the deployment the store reads and writes.
func (s *Store) Deployment() string { return s.deployment }

// WithPart is the store of one part of the deployment's rules (a schedule
// running some of its rule groups, alertengine's parts): the run's own
// series — the last-run mark, the circuit breaker, the outbox and sent
// marks, the lease, the run's cost — carry PartLabel and are read back by
// it, so parts running at the same scheduled time neither skip as each
// other's retry, nor wait for each other's lease, nor send each other's
// notifications, nor write one series at one time with two values (a
// stock Prometheus refuses the whole request). Alert state is the
// deployment's, without a part: a rule group moved to another part keeps
// its alerts. An empty part is the whole rules file, whose run series have
// no PartLabel.
func (s *Store) WithPart(part string) *Store {
	c := *s
	c.part = part
	return &c
}

// Part is the part the store's run series belong to; empty for the whole
// rules file.
func (s *Store) Part() string { return s.part }

// RunLabels are the labels of the store's run series after their name:
// the deployment, and the part when there is one.
func (s *Store) RunLabels() []remotewrite.Label {
	ls := []remotewrite.Label{{Name: config.DeploymentLabel, Value: s.deployment}}
	if s.part != "" {
		ls = append(ls, remotewrite.Label{Name: PartLabel, Value: s.part})
	}
	return ls
}

// runSelector is selector restricted to the store's part (an empty part
// matches series without PartLabel).
func (s *Store) runSelector(metric string, matchers ...string) string {
	return s.selector(metric, append([]string{PartLabel + "=" + strconv.Quote(s.part)}, matchers...)...)
}

// selector is metric restricted to the store's deployment, plus matchers.
func (s *Store) selector(metric string, matchers ...string) string {
	ms := append([]string{config.DeploymentLabel + "=" + strconv.Quote(s.deployment)}, matchers...)
	return metric + "{" + strings.Join(ms, ",") + "}"
}

// RuleRef names a rule: its group and alert name.
type RuleRef struct {
	Group, Alert string
}

// RefOf is the RuleRef of r.
func RefOf(r rules.Rule) RuleRef { return RuleRef{Group: r.Group, Alert: r.Alert} }

// The fields of StateMetric.
const (
	fieldState           = "state" // 0 inactive, 1 pending, 2 firing
	fieldActiveAt        = "active_at"
	fieldFiredAt         = "fired_at"
	fieldLastSentAt      = "last_sent_at"
	fieldNotifiedAt      = "notified_at"
	fieldKeepFiringSince = "keep_firing_since"
	fieldResolvedAt      = "resolved_at"
	fieldReason          = "reason"
	fieldLastDataAt      = "last_data_at"
	fieldLastValue       = "last_value"
	fieldLastZ           = "last_z"
	fieldSeverity        = "severity" // the value is when it was written; the severity is a label
)

// Stored is the restored state of one series of one rule.
type Stored struct {
	Labels map[string]string
	State  AlertState
}

// Restore reads the state every rule left before the scheduled time at:
// last_over_time over lookback, evaluated just before at, so a retry of at
// sees the same previous state as the first attempt did rather than its own
// writes. lookback should be at least twice the schedule interval (an
// instant query's 5-minute lookback would lose state on Prometheus 3, which
// excludes a sample exactly 5 m old); a longer one survives missed runs.
// The result is keyed by rule, then by series fingerprint.
func (s *Store) Restore(ctx context.Context, at time.Time, lookback time.Duration) (map[RuleRef]map[string]Stored, error) {
	query := fmt.Sprintf("last_over_time(%s[%s])", s.selector(StateMetric), dur(lookback))
	samples, err := s.q.Query(ctx, query, at.Add(-time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("restore state: %w", err)
	}
	out := map[RuleRef]map[string]Stored{}
	severityAt := map[RuleRef]map[string]float64{}
	for _, smp := range samples {
		rule, field := RuleRef{Group: smp.Labels[GroupLabel], Alert: smp.Labels[model.AlertNameLabel]}, smp.Labels[FieldLabel]
		if rule.Alert == "" || field == "" {
			continue
		}
		labels := SeriesLabels(withoutOwn(smp.Labels))
		fp := Fingerprint(labels)
		if out[rule] == nil {
			out[rule] = map[string]Stored{}
			severityAt[rule] = map[string]float64{}
		}
		st := out[rule][fp]
		st.Labels = labels
		if field == fieldSeverity {
			// The newest severity wins.
			if smp.V >= severityAt[rule][fp] {
				severityAt[rule][fp] = smp.V
				st.State.Severity = smp.Labels[SeverityLabel]
			}
		} else {
			setField(&st.State, field, smp.V)
		}
		out[rule][fp] = st
	}
	for _, byFP := range out {
		for fp, st := range byFP {
			if st.State.State == "" {
				st.State.State = StateInactive
				byFP[fp] = st
			}
		}
	}
	return out, nil
}

// LastRun is the newest scheduled time at or after at for which a run
// completed (its state was written), found in (at, at+window]; ok is false
// when there is none. A retry of at, or a late retry arriving after later
// runs, must do nothing.
func (s *Store) LastRun(ctx context.Context, at time.Time, window time.Duration) (time.Time, bool, error) {
	query := fmt.Sprintf("max_over_time(%s[%s])", s.runSelector(LastRunMetric), dur(window+time.Millisecond))
	samples, err := s.q.Query(ctx, query, at.Add(window))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last run: %w", err)
	}
	var newest time.Time
	for _, smp := range samples {
		if !finite(smp.V) {
			continue
		}
		t := time.UnixMilli(int64(math.Round(smp.V * 1000))).UTC()
		if t.After(newest) {
			newest = t
		}
	}
	if newest.IsZero() || newest.Before(at) {
		return time.Time{}, false, nil
	}
	return newest, true, nil
}

// RuleOutcomes is one rule's tick as the store persists it.
type RuleOutcomes struct {
	// Rule is the alert name and Group its rule group.
	Rule     string
	Group    string
	Anomaly  bool
	Outcomes []Outcome
	// AlertLabels gives the labels of sigmawatch_alerts for an outcome
	// (AlertLabels of the rule); nil uses the series labels and alertname.
	AlertLabels func(Outcome) map[string]string
}

// StateSeries is everything one run persists, all stamped at the scheduled
// time at: sigmawatch_alerts for pending and firing series, the state of
// every series that is kept (active, or owing a resolved notification) or
// just stopped being kept (so the next restore sees it cleared rather than
// an older kept state), the z of every scored series, and the run's own
// timestamp (RunSeries). Written in one request,
// the state and the last-run mark are stored together or not at all. Every
// series carries the store's deployment.
func (s *Store) StateSeries(at time.Time, rs []RuleOutcomes) []remotewrite.Series {
	ms := at.UnixMilli()
	var out []remotewrite.Series
	add := func(name string, labels map[string]string, extra []remotewrite.Label, v float64) {
		if math.IsNaN(v) {
			return
		}
		ls := make([]remotewrite.Label, 0, len(labels)+len(extra)+1)
		ls = append(ls, remotewrite.Label{Name: model.MetricNameLabel, Value: name})
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			if k == config.DeploymentLabel {
				continue // the store's own, added below
			}
			ls = append(ls, remotewrite.Label{Name: k, Value: labels[k]})
		}
		ls = append(ls, extra...)
		ls = append(ls, remotewrite.Label{Name: config.DeploymentLabel, Value: s.deployment})
		out = append(out, remotewrite.Series{Labels: ls, Samples: []remotewrite.Sample{{T: ms, V: v}}})
	}
	for _, r := range rs {
		for _, o := range r.Outcomes {
			named := maps.Clone(o.Labels)
			if named == nil {
				named = map[string]string{}
			}
			named[model.AlertNameLabel] = r.Rule
			if o.Next.State.Active() {
				al := named
				if r.AlertLabels != nil {
					al = r.AlertLabels(o)
				}
				add(AlertsMetric, al, []remotewrite.Label{{Name: "alertstate", Value: string(o.Next.State)}}, 1)
			}
			if o.Next.Kept() || o.Prev.Kept() {
				for _, f := range fields(o.Next) {
					add(StateMetric, named, []remotewrite.Label{{Name: FieldLabel, Value: f.name}, {Name: GroupLabel, Value: r.Group}}, f.v)
				}
				if o.Next.Severity != "" {
					add(StateMetric, named, []remotewrite.Label{{Name: FieldLabel, Value: fieldSeverity}, {Name: GroupLabel, Value: r.Group},
						{Name: SeverityLabel, Value: o.Next.Severity}}, float64(ms)/1000)
				}
			}
			if r.Anomaly && o.Observed != nil && o.Observed.Result.OK() {
				add(ZScoreMetric, named, nil, o.Observed.Result.Z)
			}
		}
	}
	return dedupe(out)
}

// RunSeries are the run's own series, stamped at at: the last-run mark
// (which makes a retry of at a no-op, so it must travel with the state it
// vouches for) and whether the circuit breaker was open.
func (s *Store) RunSeries(at time.Time, circuitOpen bool) []remotewrite.Series {
	one := func(name string, v float64) remotewrite.Series {
		return remotewrite.Series{Labels: append([]remotewrite.Label{{Name: model.MetricNameLabel, Value: name}}, s.RunLabels()...),
			Samples: []remotewrite.Sample{{T: at.UnixMilli(), V: v}}}
	}
	open := 0.0
	if circuitOpen {
		open = 1
	}
	return []remotewrite.Series{one(LastRunMetric, seconds(at)), one(CircuitOpenMetric, open)}
}

// LastPersisted is the newest scheduled time before at, within lookback,
// for which a run persisted its state; ok is false when there is none.
func (s *Store) LastPersisted(ctx context.Context, at time.Time, lookback time.Duration) (time.Time, bool, error) {
	query := fmt.Sprintf("max_over_time(%s[%s])", s.runSelector(LastRunMetric), dur(lookback))
	samples, err := s.q.Query(ctx, query, at.Add(-time.Millisecond))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last persisted run: %w", err)
	}
	var newest time.Time
	for _, smp := range samples {
		if t := fromSeconds(smp.V); t.After(newest) && t.Before(at) {
			newest = t
		}
	}
	return newest, !newest.IsZero(), nil
}

// dedupe drops a series whose labels repeat an earlier one (only possible
// when a rule's label overrides a series label of another series); a
// receiver would refuse the whole request otherwise.
func dedupe(series []remotewrite.Series) []remotewrite.Series {
	seen := make(map[string]bool, len(series))
	out := series[:0]
	for _, s := range series {
		var kb strings.Builder
		for _, l := range s.Labels {
			kb.WriteString(l.Name)
			kb.WriteByte(0)
			kb.WriteString(l.Value)
			kb.WriteByte(0)
		}
		k := kb.String()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, s)
	}
	return out
}

// withoutOwn drops the labels the store adds to the series it writes.
func withoutOwn(labels map[string]string) map[string]string {
	_, d := labels[config.DeploymentLabel]
	_, v := labels[SeverityLabel]
	if !d && !v {
		return labels
	}
	out := maps.Clone(labels)
	delete(out, config.DeploymentLabel)
	delete(out, SeverityLabel)
	return out
}

type field struct {
	name string
	v    float64
}

func fields(s AlertState) []field {
	code := 0.0
	switch s.State {
	case StatePending:
		code = 1
	case StateFiring:
		code = 2
	}
	return []field{
		{fieldState, code},
		{fieldActiveAt, seconds(s.ActiveAt)},
		{fieldFiredAt, seconds(s.FiredAt)},
		{fieldLastSentAt, seconds(s.LastSentAt)},
		{fieldNotifiedAt, seconds(s.NotifiedAt)},
		{fieldKeepFiringSince, seconds(s.KeepFiringSince)},
		{fieldResolvedAt, seconds(s.ResolvedAt)},
		{fieldReason, float64(s.Reason)},
		{fieldLastDataAt, seconds(s.LastDataAt)},
		{fieldLastValue, finiteOrNaN(s.LastValue)},
		{fieldLastZ, finiteOrNaN(s.LastZ)},
	}
}

func finiteOrNaN(v float64) float64 {
	if finite(v) {
		return v
	}
	return math.NaN() // not written: remote write cannot carry it
}

func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

func fromSeconds(v float64) time.Time {
	if v == 0 || !finite(v) {
		return time.Time{}
	}
	return time.UnixMilli(int64(math.Round(v * 1000))).UTC()
}

func setField(s *AlertState, name string, v float64) {
	switch name {
	case fieldState:
		switch v {
		case 1:
			s.State = StatePending
		case 2:
			s.State = StateFiring
		default:
			s.State = StateInactive
		}
	case fieldActiveAt:
		s.ActiveAt = fromSeconds(v)
	case fieldFiredAt:
		s.FiredAt = fromSeconds(v)
	case fieldLastSentAt:
		s.LastSentAt = fromSeconds(v)
	case fieldNotifiedAt:
		s.NotifiedAt = fromSeconds(v)
	case fieldReason:
		if finite(v) && v >= 0 && v < 1<<16 {
			s.Reason = Reason(v)
		}
	case fieldLastDataAt:
		s.LastDataAt = fromSeconds(v)
	case fieldKeepFiringSince:
		s.KeepFiringSince = fromSeconds(v)
	case fieldResolvedAt:
		s.ResolvedAt = fromSeconds(v)
	case fieldLastValue:
		s.LastValue = v
	case fieldLastZ:
		s.LastZ = v
	}
}
