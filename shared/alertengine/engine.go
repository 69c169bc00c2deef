package alertengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Publisher delivers one notification (SNS, or stdout in -dry-run).
type Publisher interface {
	Publish(ctx context.Context, m notify.Message) error
}

// Sink is the optional second sink (Alertmanager).
type Sink interface {
	Send(ctx context.Context, alerts []notify.Alert) error
}

// Writer persists series in one request (the store's remote write).
type Writer interface {
	Write(ctx context.Context, series []remotewrite.Series) error
}

const (
	// minStateLookback is how far back state is restored from, at least: a
	// firing alert survives this long an outage of the alert function and
	// still resolves (and is not notified again) when it comes back.
	minStateLookback = 24 * time.Hour
	// lateRetryWindow is how long after its scheduled time a retry may
	// arrive (Scheduler and Lambda retry for up to a day); a run later than
	// the retried one within it makes the retry a no-op.
	lateRetryWindow = 24 * time.Hour
	// recentWindow is the span of the sparkline.
	recentWindow = 3 * time.Hour
)

// Options are what an Engine runs with; main builds them from the
// environment.
type Options struct {
	Rules *rules.File
	// Query reads the rules' series and the stored state; Write persists
	// the state.
	Query alerting.Querier
	Write Writer
	// Publish delivers notifications; Sink, optional, also gets every
	// firing and resolved alert.
	Publish Publisher
	Sink    Sink
	// Deployment names this deployment (config.Env.Deployment): every
	// series the engine writes about itself carries it and every read of
	// the store selects on it. Empty means config.DefaultDeployment.
	Deployment string
	// ExternalURL is the base of links in notifications.
	ExternalURL string
	Logger      *slog.Logger
	// Now is the clock for the run's duration only; nil means time.Now.
	Now func() time.Time
}

// Engine runs the alert rules once per scheduled time.
type Engine struct {
	rules       *rules.File
	store       *alerting.Store
	log         *slog.Logger
	query       alerting.Querier
	write       Writer
	publish     Publisher
	sink        Sink
	externalURL string
	now         func() time.Time
}

// New checks o and returns an Engine.
func New(o Options) (*Engine, error) {
	var problems []error
	if o.Rules == nil {
		problems = append(problems, errors.New("alertengine: Options.Rules is required"))
	}
	if o.Query == nil {
		problems = append(problems, errors.New("alertengine: Options.Query is required (set SIGMAWATCH_PROMETHEUS_URL)"))
	}
	if o.Write == nil {
		problems = append(problems, errors.New("alertengine: Options.Write is required"))
	}
	if o.Publish == nil {
		problems = append(problems, errors.New("alertengine: Options.Publish is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	e := &Engine{rules: o.Rules, store: alerting.NewStore(o.Query, o.Deployment), log: o.Logger, query: o.Query, write: o.Write, publish: o.Publish,
		sink: o.Sink, externalURL: o.ExternalURL, now: o.Now}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "alertengine")
	if e.now == nil {
		e.now = time.Now
	}
	return e, nil
}

// Summary is what one run did; it is also the invocation's response.
type Summary struct {
	ScheduledTime time.Time `json:"scheduled_time"`
	Rules         int       `json:"rules"`
	// Skipped: a run at or after this scheduled time had already completed,
	// so this one (a retry) did nothing.
	Skipped       bool  `json:"skipped,omitempty"`
	Series        int   `json:"series_evaluated"`
	Insufficient  int   `json:"insufficient_data"`
	Pending       int   `json:"pending"`
	Firing        int   `json:"firing"`
	Notifications int   `json:"notifications_sent"`
	Errors        int   `json:"errors"`
	DurationMS    int64 `json:"duration_ms"`
}

// ruleRun is one rule's part of a run.
type ruleRun struct {
	// rule is nil for a rule no longer in the rules file, whose stored
	// alerts this run resolves.
	rule     *rules.Rule
	ref      alerting.RuleRef
	evalAt   time.Time
	outcomes []alerting.Outcome
	plans    []alerting.Planned
}

// Tick evaluates every rule at the scheduled time at, publishes what is
// due, then persists the state stamped at at.
//
// A retry of at (or a late retry after later runs completed) finds its own
// last-run mark and does nothing: recomputing could differ if late data
// arrived, and a stock Prometheus refuses a sample that differs from the one
// stored at the same time, so writing nothing is the safe identical result.
// If publishing fails nothing is persisted and the error is returned: the
// retry recomputes the same notifications with the same ids.
func (e *Engine) Tick(ctx context.Context, at time.Time) (Summary, error) {
	start := e.now()
	at = at.UTC()
	all := e.rules.Rules()
	dms, hasDMS := alerting.DeadMansSwitchRule(e.rules.Settings, e.store.Deployment())
	if hasDMS {
		all = append(all, dms)
	}
	sum := Summary{ScheduledTime: at, Rules: len(all)}
	defer func() {
		sum.DurationMS = e.now().Sub(start).Milliseconds()
		e.log.InfoContext(ctx, "alert run finished", "scheduled_time", at.Format(time.RFC3339),
			"rules", sum.Rules, "skipped", sum.Skipped, "series_evaluated", sum.Series,
			"insufficient_data", sum.Insufficient, "pending", sum.Pending, "firing", sum.Firing,
			"notifications_sent", sum.Notifications, "errors", sum.Errors, "duration_ms", sum.DurationMS)
	}()
	settings := e.rules.Settings
	interval := time.Duration(settings.Interval)

	if done, ok, err := e.store.LastRun(ctx, at, lateRetryWindow); err != nil {
		sum.Errors++
		return sum, err
	} else if ok {
		sum.Skipped = true
		e.log.DebugContext(ctx, "run already completed; nothing to do", "scheduled_time", at.Format(time.RFC3339), "completed", done.Format(time.RFC3339))
		return sum, nil
	}
	stored, err := e.store.Restore(ctx, at, max(2*interval, minStateLookback))
	if err != nil {
		sum.Errors++
		return sum, err
	}

	var errs []error
	runs := make([]ruleRun, 0, len(all))
	for i := range all {
		r := all[i]
		// Rules over CloudWatch data look at the store as it was
		// evaluation_delay ago; the dead man's switch watches sigmawatch's
		// own series, stamped at their scheduled time, so it looks at T.
		evalAt := at.Add(-time.Duration(settings.EvaluationDelay))
		if hasDMS && i == len(all)-1 {
			evalAt = at
		}
		ev, err := alerting.Evaluate(ctx, e.query, r, evalAt, interval)
		if err != nil {
			sum.Errors++
			errs = append(errs, fmt.Errorf("rule %s: %w", r.Alert, err))
			runs = append(runs, ruleRun{rule: &r, ref: alerting.RefOf(r), evalAt: evalAt, outcomes: unchanged(r, stored[alerting.RefOf(r)])})
			continue
		}
		sum.Series += len(ev.Series)
		sum.Insufficient += ev.Insufficient()
		runs = append(runs, ruleRun{rule: &r, ref: alerting.RefOf(r), evalAt: evalAt, outcomes: alerting.Advance(ev, stored[alerting.RefOf(r)], at)})
	}
	runs = append(runs, orphans(all, stored, at)...)

	var msgs []notify.Message
	var amAlerts []notify.Alert
	for i := range runs {
		rr := &runs[i]
		for _, o := range rr.outcomes {
			switch o.Next.State {
			case alerting.StatePending:
				sum.Pending++
			case alerting.StateFiring:
				sum.Firing++
			}
		}
		rr.plans = e.plan(rr, at)
		m, err := e.messages(ctx, *rr, interval)
		if err != nil {
			// The sparkline is decoration: send without it.
			e.log.WarnContext(ctx, "recent points unavailable", "alertname", rr.ref.Alert, "err", err)
		}
		msgs = append(msgs, m...)
		amAlerts = append(amAlerts, e.sinkAlerts(*rr, at, interval)...)
	}

	var pubErrs []error
	for _, m := range msgs {
		if err := e.publish.Publish(ctx, m); err != nil {
			pubErrs = append(pubErrs, err)
			continue
		}
		sum.Notifications++
		e.log.DebugContext(ctx, "notification sent", "alertname", m.Rule, "status", m.Status, "repeat", m.Repeat, "series", len(m.Alerts), "notification_id", m.ID)
	}
	if len(pubErrs) > 0 {
		sum.Errors += len(pubErrs)
		return sum, errors.Join(append(errs, pubErrs...)...)
	}
	if e.sink != nil {
		if err := e.sink.Send(ctx, amAlerts); err != nil {
			sum.Errors++
			errs = append(errs, err)
			e.log.ErrorContext(ctx, "alertmanager sink failed", "error", err)
		}
	}

	persist := make([]alerting.RuleOutcomes, 0, len(runs))
	for _, rr := range runs {
		persist = append(persist, alerting.RuleOutcomes{
			Rule: rr.ref.Alert, Group: rr.ref.Group, Anomaly: rr.rule != nil && rr.rule.IsAnomaly(), Outcomes: rr.outcomes,
			AlertLabels: func(o alerting.Outcome) map[string]string { return alertLabels(rr, o) },
		})
	}
	if err := e.write.Write(ctx, e.store.StateSeries(at, persist)); err != nil {
		sum.Errors++
		errs = append(errs, fmt.Errorf("persist state: %w", err))
	}
	return sum, errors.Join(errs...)
}

// unchanged carries a failed rule's stored state over, so its alerts stay
// visible and its timers are not lost.
func unchanged(r rules.Rule, stored map[string]alerting.Stored) []alerting.Outcome {
	out := make([]alerting.Outcome, 0, len(stored))
	for _, fp := range slices.Sorted(maps.Keys(stored)) {
		st := stored[fp]
		out = append(out, alerting.Outcome{Key: alerting.Key{Rule: alerting.RuleKey(r), Fingerprint: fp}, Labels: st.Labels, Prev: st.State, Next: st.State})
	}
	return out
}
