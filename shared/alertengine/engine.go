package alertengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
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
	// recentWindow is the span of the sparkline, and sparklinePoints its
	// width: 36 points, one every 5 minutes, whatever the data's resolution.
	recentWindow    = 3 * time.Hour
	sparklinePoints = 36
	// BreakerIntervals: a run whose last persisted run is more than this
	// many intervals old notifies nothing (see Tick).
	BreakerIntervals = 3
	// sinkTimeout bounds the Alertmanager call; deadlineMargin is left of
	// the run's deadline for it to return.
	sinkTimeout    = 10 * time.Second
	deadlineMargin = 2 * time.Second
)

// Bounds of one request of a run's state and records (Tick, step 4).
const (
	// DefaultMaxWriteSamples: AMP refuses, with a 429 that never passes, a
	// request of more samples than the workspace's ingestion burst size
	// (1,000,000 by default, shared with collect's writes); Cortex and
	// Mimir do so under ingestion_burst_size. A tenth of AMP's leaves
	// collect room.
	DefaultMaxWriteSamples = 100_000
	// DefaultMaxWriteBytes bounds a request's uncompressed protobuf:
	// the memory its encoding takes, far under the receivers' limits
	// (Cortex's and Mimir's max_recv_msg_size, 100 MiB by default).
	DefaultMaxWriteBytes = 4 << 20
	// recordChunk is how many series' records are built at a time.
	recordChunk = 1024
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
	// Now is the wall clock, for the run's duration and the lease's
	// expiry only (the run's own time is its scheduled time); nil means
	// time.Now.
	Now func() time.Time
	// NoLease runs without taking the deployment's turn (see lease.go): for
	// -dry-run, whose writes cannot be read back, and for tests with fakes.
	// Never in production: overlapping runs would page twice.
	NoLease bool
	// FullReplay evaluates auto rules by replaying each series' history
	// at every run, and persists no detector state (alerting.Evaluator
	// without a Store): for -dry-run, whose writes cannot be read back, so
	// that every series is decided rather than started cold.
	FullReplay bool
	// EvaluateEveryTick evaluates every rule at every run, also those
	// whose data did not change since the previous run (see
	// alerting.EvaluateAtCadence): the reference the cadence tests compare
	// with, and what -dry-run does (its writes cannot be read back).
	EvaluateEveryTick bool
	// MaxWriteSamples and MaxWriteBytes bound each request of the run's
	// state write: the state, outbox and marks travel whole in the first,
	// the per-series records (detector records, z-scores) fill it and the
	// requests after it (see persist); 0 means DefaultMaxWriteSamples and
	// DefaultMaxWriteBytes.
	MaxWriteSamples, MaxWriteBytes int
}

// Engine runs the alert rules once per scheduled time.
type Engine struct {
	rules *rules.File
	// byRef are the rules, the dead man's switch included, by name.
	byRef map[alerting.RuleRef]rules.Rule
	dms   alerting.RuleRef
	// part is the share of the rules this engine runs (parts.go); the zero
	// part is the whole file.
	part        part
	store       *alerting.Store
	log         *slog.Logger
	query       alerting.Querier
	write       Writer
	publish     Publisher
	sink        Sink
	externalURL string
	now         func() time.Time
	noLease     bool
	fullReplay  bool
	everyTick   bool
	// maxWriteSamples and maxWriteBytes bound a request of the state write.
	maxWriteSamples, maxWriteBytes int
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
		sink: o.Sink, externalURL: o.ExternalURL, now: o.Now, noLease: o.NoLease, fullReplay: o.FullReplay,
		everyTick: o.EvaluateEveryTick || o.FullReplay, maxWriteSamples: o.MaxWriteSamples, maxWriteBytes: o.MaxWriteBytes}
	if e.maxWriteSamples <= 0 {
		e.maxWriteSamples = DefaultMaxWriteSamples
	}
	if e.maxWriteBytes <= 0 {
		e.maxWriteBytes = DefaultMaxWriteBytes
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "alertengine")
	if e.now == nil {
		e.now = time.Now
	}
	e.byRef = map[alerting.RuleRef]rules.Rule{}
	for _, r := range e.rules.Rules() {
		e.byRef[alerting.RefOf(r)] = r
	}
	if dms, ok := alerting.DeadMansSwitchRule(e.rules.Settings, e.store.Deployment()); ok {
		e.dms = alerting.RefOf(dms)
		e.byRef[e.dms] = dms
	}
	return e, nil
}

// isDMS reports whether r is the dead man's switch, which is evaluated at
// the scheduled time itself.
func (e *Engine) isDMS(r rules.Rule) bool { return e.dms.Alert != "" && alerting.RefOf(r) == e.dms }

// Summary is what one run did; it is also the invocation's response.
type Summary struct {
	ScheduledTime time.Time `json:"scheduled_time"`
	// Part names the rule groups the run evaluated (see parts.go); empty
	// for the whole rules file.
	Part  string `json:"part,omitempty"`
	Rules int    `json:"rules"`
	// Skipped: a run at or after this scheduled time had already persisted,
	// so this one (a retry) only sent what was recorded unsent.
	Skipped bool `json:"skipped,omitempty"`
	// CircuitOpen: the last persisted run was too old; this one notified
	// nothing (see Tick).
	CircuitOpen bool `json:"circuit_open,omitempty"`
	// RulesSkipped anomaly rules were not evaluated, their data unchanged
	// since the previous run (see alerting.EvaluateAtCadence); their state
	// machines ran on its observations. SkippedRules names them (group/alert).
	RulesSkipped int      `json:"rules_skipped"`
	SkippedRules []string `json:"skipped_rules,omitempty"`
	Series       int      `json:"series_evaluated"`
	Insufficient int      `json:"insufficient_data"`
	Pending      int      `json:"pending"`
	Firing       int      `json:"firing"`
	// Planned notifications of this run; Notifications sent (of them, and
	// of earlier runs' unsent ones: Resent).
	Planned       int `json:"notifications_planned"`
	Notifications int `json:"notifications_sent"`
	Resent        int `json:"notifications_resent,omitempty"`
	// Detector is how the auto rules' series were advanced from their
	// persisted detector states (alerting.Evaluator).
	Detector alerting.Progress `json:"detector_states"`
	// LeaseWaitMS is how long the run waited for its turn.
	LeaseWaitMS int64 `json:"lease_wait_ms"`
	// Queries the run made of the store, and the samples they read (see
	// cost.go): what the store bills. QuerySamplesEstimated: the store did
	// not report its statistics for some queries, counted by the points
	// they returned (a lower bound).
	Queries               int64 `json:"queries"`
	QuerySamples          int64 `json:"query_samples"`
	QuerySamplesEstimated bool  `json:"query_samples_estimated,omitempty"`
	Errors                int   `json:"errors"`
	DurationMS            int64 `json:"duration_ms"`
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

// Tick is the run of the scheduled time at. In order:
//
//  0. A later run already persisted: this is a late retry, it does nothing.
//     Otherwise it takes the deployment's turn (the lease), so that no
//     other run of the deployment overlaps what follows.
//  1. A run of at already persisted (this is a Lambda retry): send what the
//     outbox holds unsent, and nothing else.
//  2. The circuit breaker: when the last persisted run is more than
//     BreakerIntervals intervals old, the state just restored cannot be
//     trusted to say what was notified since; the run records that it ran
//     (and that the breaker was open) and notifies nothing. The next run,
//     finding this one, goes on normally.
//  3. Restore, evaluate every rule, advance the state machines, resolve the
//     alerts of removed rules, and plan the notifications (grouped).
//  4. Persist the state, the planned notifications (the outbox), the
//     last-run mark and the rules' data marks in one request, with the
//     per-series records (detector records, z-scores) that fit the store's
//     limits; the rest follow in requests of their own (persist). If the
//     store refuses the first, nothing is published: the retry plans the
//     same notifications with the same ids. One of the others refused
//     costs later runs work, never a notification.
//  5. Publish what earlier runs left unsent, then this run's plans, and
//     mark what went out as sent (even when a later publish failed). What
//     failed stays in the outbox for the retry or the next run.
//  6. Last, the optional Alertmanager, within what is left of the deadline:
//     a black-holed Alertmanager cannot delay the state or the pages.
func (e *Engine) Tick(ctx context.Context, at time.Time) (result Summary, err error) {
	start := e.now()
	at = at.UTC()
	all := e.partRules()
	sum := Summary{ScheduledTime: at, Part: e.part.name, Rules: len(all)}
	var errs []error
	cost := &promql.Cost{}
	ctx = promql.WithCost(ctx, cost)
	var ruleCosts ruleCosts
	defer func() {
		sum.DurationMS = e.now().Sub(start).Milliseconds()
		c := cost.Snapshot()
		sum.Queries, sum.QuerySamples, sum.QuerySamplesEstimated = c.Queries, c.Samples, c.Estimated()
		level := slog.LevelInfo
		if len(errs) > 0 {
			level = slog.LevelError
		}
		e.log.Log(ctx, level, "alert run finished", "scheduled_time", at.Format(time.RFC3339),
			"queries", sum.Queries, "query_samples", sum.QuerySamples, "query_samples_estimated", sum.QuerySamplesEstimated,
			"rules", sum.Rules, "rules_skipped", sum.RulesSkipped, "skipped_rules", sum.SkippedRules, "skipped", sum.Skipped, "circuit_open", sum.CircuitOpen, "series_evaluated", sum.Series,
			"insufficient_data", sum.Insufficient, "pending", sum.Pending, "firing", sum.Firing,
			"notifications_planned", sum.Planned, "notifications_sent", sum.Notifications, "notifications_resent", sum.Resent,
			"detector_states", sum.Detector, "lease_wait_ms", sum.LeaseWaitMS,
			"errors", sum.Errors, "duration_ms", sum.DurationMS)
		// The response carries what the log line says, duration and cost
		// included (they are known only now).
		result = sum
	}()
	fail := func(err error) (Summary, error) {
		sum.Errors++
		errs = append(errs, err)
		return sum, errors.Join(errs...)
	}
	settings := e.rules.Settings
	interval := time.Duration(settings.Interval)

	// 0. A late retry, or this deployment's turn.
	if done, ok, err := e.store.LastRun(ctx, at, lateRetryWindow); err != nil {
		return fail(err)
	} else if ok && done.After(at) {
		sum.Skipped = true
		e.log.DebugContext(ctx, "a later run already persisted; nothing to do", "completed", done.Format(time.RFC3339))
		return sum, nil
	}
	release := func() {}
	if !e.noLease {
		waited := e.now()
		l, err := e.acquire(ctx, at)
		if err != nil {
			return fail(err)
		}
		sum.LeaseWaitMS = e.now().Sub(waited).Milliseconds()
		release = sync.OnceFunc(func() { l.release(ctx) })
		defer release()
	}

	// 1. Already persisted: only what is recorded unsent.
	if done, ok, err := e.store.LastRun(ctx, at, lateRetryWindow); err != nil {
		return fail(err)
	} else if ok {
		sum.Skipped = true
		e.log.DebugContext(ctx, "run already persisted; sending only what is recorded unsent", "completed", done.Format(time.RFC3339))
		unsent, err := e.store.Unsent(ctx, at, lateRetryWindow)
		if err != nil {
			return fail(err)
		}
		errs = append(errs, e.deliver(ctx, at, unsent, nil, &sum)...)
		return sum, errors.Join(errs...)
	}

	// 2. The circuit breaker.
	last, lastOK, err := e.store.LastPersisted(ctx, at, minStateLookback)
	if err != nil {
		return fail(err)
	} else if lastOK && at.Sub(last) > BreakerIntervals*max(interval, time.Minute) {
		sum.CircuitOpen = true
		e.log.WarnContext(ctx, "circuit breaker open: the last persisted run is too old to trust the restored state; recording this run and notifying nothing",
			"last_persisted", last.Format(time.RFC3339), "age_s", at.Sub(last).Seconds(), "max_age_s", (BreakerIntervals * interval).Seconds())
		if err := e.write.Write(ctx, append(e.store.RunSeries(at, true), e.costSeries(at, cost, sum.RulesSkipped)...)); err != nil {
			return fail(fmt.Errorf("record the run (circuit breaker open): %w", err))
		}
		return sum, nil
	}

	// 3. Evaluate, advance, plan.
	unsent, err := e.store.Unsent(ctx, at, lateRetryWindow)
	if err != nil {
		return fail(err)
	}
	stored, err := e.store.Restore(ctx, at, max(2*interval, minStateLookback))
	if err != nil {
		return fail(err)
	}
	stored = e.partStored(stored)
	// The data marks of the previous run: a rule whose data has not
	// changed since is not evaluated again (alerting.EvaluateAtCadence).
	// Without them every rule is evaluated, which is only slower.
	var marks map[alerting.RuleRef]alerting.Mark
	if !e.everyTick && lastOK {
		if marks, err = e.store.Marks(ctx, at, last); err != nil {
			e.log.WarnContext(ctx, "evaluating every rule: the previous run's data marks could not be read", "error", err)
		}
	}
	runs := make([]ruleRun, 0, len(all))
	// The detector states of auto rules are read from the store and
	// persisted with the alert state (step 4).
	eval := &alerting.Evaluator{Query: e.query, Step: interval, Scheduled: at}
	if !e.fullReplay {
		eval.Store = e.store
	}
	var (
		detectorRecords []ruleRecords
		markSeries      []remotewrite.Series
	)
	for i := range all {
		r := all[i]
		// The rule's share of the run's queries, logged below.
		rc := ruleCosts.add(r)
		ctx := promql.WithCost(ctx, rc.cost)
		// Rules over CloudWatch data look at the store as it was
		// evaluation_delay ago; the dead man's switch watches sigmawatch's
		// own series, stamped at their scheduled time, so it looks at T.
		evalAt := at.Add(-time.Duration(settings.EvaluationDelay))
		if e.isDMS(r) {
			evalAt = at
		}
		ref := alerting.RefOf(r)
		var (
			ev   alerting.Evaluation
			mark alerting.Mark
			err  error
		)
		if e.everyTick {
			ev, err = eval.Evaluate(ctx, r, evalAt)
		} else {
			var skipped bool
			ev, mark, skipped, err = eval.EvaluateAtCadence(ctx, r, evalAt, marks[ref])
			if err == nil && skipped {
				rr := ruleRun{rule: &r, ref: ref, evalAt: evalAt, outcomes: alerting.Replay(r, stored[ref], last, at)}
				if !e.notifies(rr, at) {
					rc.skipped = true
					sum.RulesSkipped++
					sum.SkippedRules = append(sum.SkippedRules, ref.Key())
					markSeries = append(markSeries, e.store.MarkSeries(at, ref, mark)...)
					runs = append(runs, rr)
					continue
				}
				// A message is due: it is written from an evaluation, which
				// gives what the message says of each series (its baseline
				// and z), as at every other run. The states are the same.
				ev, mark, _, err = eval.EvaluateAtCadence(ctx, r, evalAt, 0)
			}
		}
		if err != nil {
			sum.Errors++
			errs = append(errs, fmt.Errorf("rule %s: %w", r.Alert, err))
			runs = append(runs, ruleRun{rule: &r, ref: alerting.RefOf(r), evalAt: evalAt, outcomes: unchanged(r, stored[alerting.RefOf(r)])})
			continue
		}
		sum.Series += len(ev.Series)
		sum.Insufficient += ev.Insufficient()
		sum.Detector.Add(ev.Progress)
		if ev.Persist != nil {
			detectorRecords = append(detectorRecords, ruleRecords{ref: ref, recs: *ev.Persist})
		}
		markSeries = append(markSeries, e.store.MarkSeries(at, ref, mark)...)
		runs = append(runs, ruleRun{rule: &r, ref: alerting.RefOf(r), evalAt: evalAt, outcomes: alerting.Advance(ev, stored[alerting.RefOf(r)], at)})
	}
	runs = append(runs, orphans(all, stored, at)...)
	ruleCosts.log(ctx, e.log)
	var plans []alerting.Planned
	persist := make([]alerting.RuleOutcomes, 0, len(runs))
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
		plans = append(plans, rr.plans...)
		// The z-scores go with the records (persist), not here.
		persist = append(persist, alerting.RuleOutcomes{
			Rule: rr.ref.Alert, Group: rr.ref.Group, Outcomes: rr.outcomes,
			AlertLabels: func(o alerting.Outcome) map[string]string { return alertLabels(*rr, o) },
		})
	}
	sum.Planned = len(plans)

	// 4. Persist state, outbox and the last-run mark together, with the
	// per-series records that fit after them in the request; the rest
	// follow in further requests (persist).
	head := e.store.StateSeries(at, persist)
	head = append(head, e.costSeries(at, cost, sum.RulesSkipped)...)
	head = append(head, e.store.OutboxSeries(at, plans)...)
	head = append(head, e.store.RunSeries(at, false)...)
	head = append(head, markSeries...)
	persist = nil
	recordsErr, err := e.persist(ctx, at, head, runs, detectorRecords)
	if err != nil {
		return fail(fmt.Errorf("persist state: %w (nothing was published; the retry plans the same notifications)", err))
	}

	// 5. Publish, then mark sent.
	errs = append(errs, e.deliver(ctx, at, unsent, plans, &sum)...)
	if recordsErr != nil {
		sum.Errors++
		errs = append(errs, recordsErr)
	}

	// 6. Alertmanager, within what is left, after giving the turn back.
	release()
	if e.sink != nil {
		var amAlerts []notify.Alert
		for _, rr := range runs {
			amAlerts = append(amAlerts, e.sinkAlerts(rr, at, interval)...)
		}
		if err := e.sendSink(ctx, amAlerts); err != nil {
			sum.Errors++
			errs = append(errs, err)
		}
	}
	return sum, errors.Join(errs...)
}

// notifies reports whether rr's outcomes plan a notification at at. Plan
// marks what it lists, so it plans on a copy.
func (e *Engine) notifies(rr ruleRun, at time.Time) bool {
	rr.outcomes = slices.Clone(rr.outcomes)
	return len(e.plan(&rr, at)) > 0
}

// deliver publishes what earlier runs recorded and did not send (resent)
// and this run's plans, then marks what went out as sent, in one write. It
// returns the failures; a notification that failed stays recorded unsent.
func (e *Engine) deliver(ctx context.Context, at time.Time, resend, plans []alerting.Planned, sum *Summary) []error {
	var sentIDs []string
	var failures []error
	for i, p := range append(slices.Clip(resend), plans...) {
		m := e.render(ctx, p)
		if err := e.publish.Publish(ctx, m); err != nil {
			sum.Errors++
			failures = append(failures, err)
			continue
		}
		sentIDs = append(sentIDs, p.ID)
		sum.Notifications++
		if i < len(resend) {
			sum.Resent++
		}
		e.log.DebugContext(ctx, "notification sent", "alertname", m.Rule, "status", m.Status, "repeat", m.Repeat,
			"series", len(m.Alerts), "notification_id", m.ID, "planned_at", p.At.Format(time.RFC3339), "resent", i < len(resend))
	}
	if len(sentIDs) > 0 {
		if err := e.write.Write(ctx, e.store.SentSeries(at, sentIDs)); err != nil {
			// What went out is recorded unsent: the retry sends it again,
			// with the same ids.
			sum.Errors++
			failures = append(failures, fmt.Errorf("mark %d notifications sent: %w", len(sentIDs), err))
		}
	}
	return failures
}

// sendSink posts to Alertmanager within what is left of the run's
// deadline, less a margin for the run to return.
func (e *Engine) sendSink(ctx context.Context, alerts []notify.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	budget := sinkTimeout
	if d, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(d)-deadlineMargin)
	}
	if budget <= 0 {
		return errors.New("alertmanager: no time left before the deadline; its alerts go with the next run")
	}
	sctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	return e.sink.Send(sctx, alerts)
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

// ruleRecords are the detector records one rule's evaluation persists.
type ruleRecords struct {
	ref  alerting.RuleRef
	recs alerting.DetectorRecords
}

// persist writes the run's state (head: the alert state, the outbox, the
// last-run mark, the data marks) in one request, and with it and after it
// the run's per-series records — the detector records of every rule (the
// next runs resume from them) and the z-score of every scored series — in
// requests within the store's limits (maxWriteSamples, maxWriteBytes),
// building each request's series only when it is sent. A small run
// writes everything in one request. At 100,000 series the records are
// hundreds of thousands of series, which as one request a store refuses
// (AMP beyond its ingestion burst) and which held at once would take the
// function's memory.
//
// err is the head's request failing: nothing of the run is stored (on a
// receiver that stores a request whole) and no later request is sent.
// recordsErr is a later request failing, after the state landed: it costs
// later runs work, never a notification. A missing hour summary is read
// again from the raw points, a missing or stale checkpoint rebuilt
// (alerting's moments.go, checkpoint.go), a missing z-score is a gap in a
// dashboard; the retry finds the run persisted and writes nothing again.
// Records are never sent before the state: those of a run whose state
// write then failed would be written again by its retry, at the same time
// and maybe with other values (late data), which a store refuses.
func (e *Engine) persist(ctx context.Context, at time.Time, head []remotewrite.Series, runs []ruleRun, records []ruleRecords) (recordsErr, err error) {
	var headErr error
	first := true
	b := remotewrite.Batcher{MaxSamples: e.maxWriteSamples, MaxBytes: e.maxWriteBytes, Send: func(batch []remotewrite.Series) error {
		if first {
			first = false
			headErr = e.write.Write(ctx, batch)
			return headErr
		}
		if headErr != nil {
			return nil // not sent: the run failed
		}
		return e.write.Write(ctx, batch)
	}}
	b.AddTogether(head...)
	for _, rr := range records {
		for chunk := range slices.Chunk(rr.recs.States, recordChunk) {
			b.Add(e.store.DetectorSeries(at, rr.ref, alerting.DetectorRecords{Config: rr.recs.Config, States: chunk})...)
		}
		for chunk := range slices.Chunk(rr.recs.Hours, recordChunk) {
			b.Add(e.store.DetectorSeries(at, rr.ref, alerting.DetectorRecords{Config: rr.recs.Config, Hours: chunk})...)
		}
		if headErr != nil {
			return nil, headErr
		}
	}
	// One alert name may be the name of rules in several groups: their
	// z-scores of one series are one series (the first rule's is kept, as
	// StateSeries does within a request), which a later request must not
	// write again at the same time.
	anomalies := map[string]int{}
	for _, rr := range runs {
		if rr.rule != nil && rr.rule.IsAnomaly() {
			anomalies[rr.ref.Alert]++
		}
	}
	written := map[string]bool{}
	for _, rr := range runs {
		if rr.rule == nil || !rr.rule.IsAnomaly() {
			continue
		}
		for chunk := range slices.Chunk(rr.outcomes, recordChunk) {
			// Only the z-scores: an outcome without states is neither
			// kept nor active, so StateSeries writes its z alone (its
			// states are in head).
			scored := make([]alerting.Outcome, 0, len(chunk))
			for _, o := range chunk {
				if o.Observed == nil {
					continue
				}
				if anomalies[rr.ref.Alert] > 1 {
					k := rr.ref.Alert + "\x00" + o.Key.Fingerprint
					if written[k] {
						continue
					}
					written[k] = true
				}
				scored = append(scored, alerting.Outcome{Key: o.Key, Labels: o.Labels, Observed: o.Observed})
			}
			b.Add(e.store.StateSeries(at, []alerting.RuleOutcomes{{Rule: rr.ref.Alert, Group: rr.ref.Group, Anomaly: true, Outcomes: scored}})...)
			if headErr != nil {
				return nil, headErr
			}
		}
	}
	b.Flush()
	if headErr != nil {
		return nil, headErr
	}
	if err := b.Err(); err != nil {
		return fmt.Errorf("persist the series' records (%d samples in %d requests; the run's state and notifications are stored, later runs rebuild what is missing): %w", b.Samples, b.Requests, err), nil
	}
	return nil, nil
}
