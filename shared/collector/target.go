package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/resource"
)

// maxDroppedLogged bounds how many dropped series one error line names.
const maxDroppedLogged = 10

// timing is a metrics entry's window maths under this collector's config.
func (c *Collector) timing(m *config.Metric) cloudwatch.Timing {
	return cloudwatch.Timing{
		Period: m.Period.D(), Delay: m.Delay.D(), Length: m.Length.D(),
		MaxCatchUp: c.cfg.MaxCatchUp.D(),
		MaxAge:     c.cfg.Receiver.MaxAge(),
		Latest:     m.Timestamp == config.TimestampScheduled,
	}
}

// jobPlanInput is the part of a plan's input that depends on the job only.
func (c *Collector) jobPlanInput(job *config.Job) planInput {
	in := planInput{shards: max(c.cfg.Shards, 1)}
	for i := range job.Metrics {
		m := &job.Metrics[i]
		in.metricNames = append(in.metricNames, m.Name)
		in.stats = append(in.stats, m.Statistics)
		in.timings = append(in.timings, c.timing(m))
		names := make([]string, len(m.Statistics))
		for k, stat := range m.Statistics {
			names[k] = naming.MetricName(job.Namespace, m.Name, stat)
		}
		in.seriesNames = append(in.seriesNames, names)
	}
	return in
}

// resourceName is the name label of a job's series of no resource, as
// YACE sets it: the job name for static and custom namespace jobs.
func resourceName(job *config.Job) string {
	if job.Static != nil || job.CustomNamespace {
		return job.Name
	}
	return resource.GlobalName
}

// runTarget collects one (region, account) of a job: plan from progress,
// record baselines, fetch (most lagging first, bounded, stopping before the
// deadline), pack whole units into requests with their progress, write.
// It returns the target's health series, which the job writes once all its
// targets are done, and whether anything was due.
func (c *Collector) runTarget(ctx context.Context, r *run, job *config.Job, acct config.Role, region string, progress jobProgress, stats *jobStats) ([]remotewrite.Series, bool, error) {
	at, sum := r.at, r.sum
	target, err := c.conn.Connect(ctx, region, acct.RoleARN, acct.ExternalID)
	if err != nil {
		return nil, false, err
	}
	if target.Region == "" {
		target.Region = region
	}
	lst, err := c.lister.list(ctx, target, job)
	stats.listCalls += lst.listCalls
	stats.tagCalls += lst.tagCalls
	stats.restCalls += lst.restCalls
	if err != nil {
		return nil, false, err
	}
	tk := targetKey{region: region, account: target.AccountID}
	log := c.log.With("job", job.Name, "region", region, "account_id", target.AccountID)
	alias := ""
	if job.WantsAccountAlias() {
		var called bool
		alias, called = c.aliases.get(ctx, log, target)
		stats.aliasCalls += boolInt(called)
	}
	in := c.jobPlanInput(job)
	in.at = at
	in.listing = lst.metrics
	in.progress = progress.target(tk)
	in.labels = newLabeler(job, region, target.AccountID, alias, lst.resources)
	plan, err := c.planWithNew(ctx, log, target, job, region, alias, &lst, &in, stats)
	if err != nil {
		return nil, false, err
	}
	in.listing = nil // the queries hold what they need

	c.logDropped(ctx, log, plan.dropped)
	if len(plan.units) == 0 {
		sum.TargetsCovered++
		log.DebugContext(ctx, "already covered")
		return nil, false, nil
	}
	ts := at.UnixMilli()
	if err := c.writeBaselines(ctx, job.Name, tk, plan.units, ts); err != nil {
		return nil, true, err
	}
	sum.Requests += boolInt(hasBaseline(plan.units))
	if plan.skipped > 0 {
		log.ErrorContext(ctx, "gap longer than max_catch_up given up", "skipped_seconds", plan.skipped.Seconds(), "max_catch_up", c.cfg.MaxCatchUp.String())
	}

	var errs []error
	series, samples, failed := 0, 0, 0
	d := &delivery{
		c: c, job: job.Name, tk: tk, ts: ts, perSeries: c.cfg.Receiver.PerSeries(),
		render: &renderer{labels: in.labels, queries: plan.queries, meta: plan.meta, seriesNames: in.seriesNames},
		covered: func(units []*unit) {
			sum.Requests++
			for _, u := range units {
				series += len(u.data)
				samples += u.samples
				u.data = nil
			}
		},
		failed: func(units []*unit, err error) {
			errs = append(errs, err)
			failed += len(units)
			for _, u := range units {
				u.data = nil
			}
		},
	}
	pk := &packer{
		maxSamples: c.maxSamples,
		group: func(u *unit) groupKey {
			t := in.timings[u.cfg]
			return groupKey{period: t.Period, delay: t.Delay, latest: t.Latest}
		},
		send: func(units []*unit) { d.send(ctx, units) },
	}
	complete := func(u *unit) {
		if u.err != nil {
			errs = append(errs, fmt.Errorf("%s not written: %w", describeUnit(u.key), u.err))
			failed++
			u.data = nil
			return
		}
		pk.add(u)
	}
	// Units with nothing to fetch still record that T covered them.
	for _, u := range plan.units {
		if u.pending == 0 {
			complete(u)
		}
	}
	var mem arena
	fopts := cloudwatch.FetchOptions{Concurrency: c.cfg.Concurrency, StopAt: r.stopAt, Now: c.now}
	fstats := cloudwatch.Fetch(ctx, target.API, plan.queries, fopts, func(i int, pts []cloudwatch.Point, err error) {
		u := plan.units[plan.meta[i].unit]
		switch {
		case err != nil:
			if u.err == nil {
				u.err = err
			}
		case (len(pts) > 0 || job.NilToZero) && u.err == nil:
			if job.NilToZero {
				if pts = fillZeros(&plan.queries[i], pts); len(pts) == 0 {
					break
				}
			}
			var samples []remotewrite.Sample
			if in.timings[u.cfg].Latest {
				// Stamped at T: the window holds one period, the newest.
				samples = mem.sampleSlice(1)
				samples[0] = remotewrite.Sample{T: ts, V: pts[len(pts)-1].V}
			} else {
				samples = mem.sampleSlice(len(pts))
				for k, p := range pts {
					samples[k] = remotewrite.Sample{T: p.T.UnixMilli(), V: p.V}
				}
			}
			u.data = append(u.data, unitData{query: int32(i), samples: samples})
			u.samples += len(samples)
		}
		if u.pending--; u.pending == 0 {
			complete(u)
		}
	})
	pk.flush()
	d.finish(ctx)
	stats.dataCalls += fstats.Calls
	stats.metricsRequested += fstats.MetricsRequested
	sum.Series += series
	sum.Samples += samples
	sum.FailedUnits += failed
	sum.NotFetched += fstats.NotStarted
	sum.DroppedSeries += len(plan.dropped)
	if fstats.NotStarted > 0 {
		log.WarnContext(ctx, "stopped starting CloudWatch calls before the deadline; the next run fetches the rest first", "not_fetched", fstats.NotStarted)
	}
	if len(errs) > 0 {
		return nil, true, joinCapped(errs)
	}
	sum.SkippedSeconds += plan.skipped.Seconds()
	log.DebugContext(ctx, "target collected", "queries", len(plan.queries), "units", len(plan.units), "series", series, "samples", samples)
	var info []remotewrite.Series
	var infoDropped []droppedSeries
	if len(lst.metrics) > 0 {
		// As YACE: a resource's info series comes with its job's metrics.
		info, infoDropped = infoSeries(job, in.labels, lst.resources, ts)
		c.logDropped(ctx, log, infoDropped)
		sum.DroppedSeries += len(infoDropped)
	}
	health := c.targetHealth(at, job.Name, tk, series, samples, plan.skipped, len(plan.dropped)+len(infoDropped))
	return append(health, info...), true, nil
}

// planWithNew plans one target of job from its listing lst and in, and
// finds the series that appeared since their units were written: when a
// due unit's listed series set differs from the one stored with its
// progress, a listing from the process's cache is first listed again (the
// unit was written by a process that listed since), then the store is
// asked which of the unit's series are new (markFresh) and the target
// planned again. lst and in are updated to what the plan was made from.
func (c *Collector) planWithNew(ctx context.Context, log *slog.Logger, target Target, job *config.Job, region, alias string, lst *listing, in *planInput, stats *jobStats) (*targetPlan, error) {
	plan := planTarget(*in)
	// A static job's series come from its config, not from resources that
	// appear: one added to a unit continues from the unit's progress.
	if len(plan.check) == 0 || job.Static != nil {
		return plan, nil
	}
	if lst.cached {
		// Moving the unit's progress on with a listing older than the one
		// it was written with would pass over data of series it lacks.
		c.lister.expire(target)
		relisted, err := c.lister.list(ctx, target, job)
		stats.listCalls += relisted.listCalls
		stats.tagCalls += relisted.tagCalls
		stats.restCalls += relisted.restCalls
		if err != nil {
			return nil, err
		}
		*lst = relisted
		in.listing = lst.metrics
		in.labels = newLabeler(job, region, target.AccountID, alias, lst.resources)
		plan = planTarget(*in)
		if len(plan.check) == 0 {
			return plan, nil
		}
	}
	// Only the check is kept while the store answers: the plan's queries
	// are rebuilt after it.
	check := plan.check
	plan = nil
	fresh, queries, err := c.markFresh(ctx, in, check)
	stats.storeQueries += queries
	if err != nil {
		return nil, fmt.Errorf("find the new series among %d series of units whose series set changed (nothing was fetched or written): %w", len(check), err)
	}
	if fresh > 0 {
		log.InfoContext(ctx, "new series collected from the catch-up limit", "series", fresh)
	}
	return planTarget(*in), nil
}

// logDropped names dropped series in one error line.
func (c *Collector) logDropped(ctx context.Context, log *slog.Logger, dropped []droppedSeries) {
	n := len(dropped)
	if n == 0 {
		return
	}
	named := make([]string, 0, min(n, maxDroppedLogged))
	for _, d := range dropped[:min(n, maxDroppedLogged)] {
		named = append(named, fmt.Sprintf("%s (%s): %s", d.labels, d.metric, d.why))
	}
	log.ErrorContext(ctx, "series dropped: a receiver would refuse them or take two metrics for one series", "dropped_series", n, "series", named)
}

// writeBaselines records, before anything is fetched, where the coverage
// of units without progress of their own starts, and their series set
// (what a run cut short covered from the baseline). They are stamped a
// millisecond before T, so that the unit's progress at T, written with its
// data later in the run, is the newer sample.
func (c *Collector) writeBaselines(ctx context.Context, job string, tk targetKey, units []*unit, ts int64) error {
	var req []remotewrite.Series
	for _, u := range units {
		if u.hasBaseline {
			req = append(req, c.progressSeries(job, tk, u.key, u.baseline, ts-1), c.digestSeries(job, tk, u.key, u.digest, ts-1))
		}
	}
	if len(req) == 0 {
		return nil
	}
	if err := c.writer.Write(ctx, req); err != nil {
		return fmt.Errorf("record where %d new unit(s) start (nothing was fetched): %w", len(req), err)
	}
	return nil
}

func hasBaseline(units []*unit) bool {
	for _, u := range units {
		if u.hasBaseline {
			return true
		}
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxErrors bounds how many failures one returned error lists.
const maxErrors = 10

// joinCapped joins errs, naming at most maxErrors of them.
func joinCapped(errs []error) error {
	if len(errs) <= maxErrors {
		return errors.Join(errs...)
	}
	return errors.Join(append(errs[:maxErrors:maxErrors], fmt.Errorf("and %d more failures", len(errs)-maxErrors))...)
}
