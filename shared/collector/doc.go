// Package collector runs one scheduled collection: for each job and each of
// its (region, account) targets it lists the metrics, works out from stored
// progress which CloudWatch periods each series still needs, fetches them
// with GetMetricData and remote-writes every datapoint at its own timestamp,
// followed by the collector's own health series.
//
// # Delivery: no gaps, no duplicates
//
// The unit of delivery is (series, CloudWatch timestamp). A stock Prometheus
// rejects a resent sample and rolls back the whole request; VictoriaMetrics
// stores it twice. So the collector must never resend what is stored, and it
// must know what is stored.
//
// Progress is kept per unit: one metrics entry of a job in one target, one
// of progress_shards stable hash partitions of its series. Each unit's
// progress sample says up to which data time (not scheduled time) every
// series of the unit is covered — written, or given up and counted:
//
//	sigmawatch_collect_covered_until_timestamp_seconds{sigmawatch_deployment,job,region,account_id,metric,shards,shard} = E  @ T
//
// It travels in the same remote-write request as the unit's data, so it is
// stored if and only if the data is. A run reads progress back (last_over_time
// over eight days, evaluated six hours after T so that a late Lambda retry
// sees the runs after it, selected by the deployment label so that two
// stacks sharing a store never see each other's) and, per series, fetches
// cloudwatch.Timing.Next(T, covered): from where it is covered to the
// newest settled period end align(T − delay). Because progress is data time,
// it means the same whatever the config was when it was written:
//
//   - delay shortened: the extra minutes are fetched; lengthened: nothing is
//     due until the clock catches up (never a resend);
//   - period changed: the period bucket that the old period left half
//     covered is given up and counted, never written over;
//   - progress_shards changed (16 → 32 → 16): a series is covered as far as
//     the newest progress of any unit it belongs to under any shard count —
//     progress only ever grows, so the newest is the truth and stale
//     progress of an old count cannot win;
//   - a statistic added to a metric starts where its unit is covered; a
//     metric, job or region added has no progress and runs a first run of
//     its own: exactly [align(T−delay)−length, align(T−delay));
//   - a job renamed is a new job (its series carry the new job label).
//
// A gap longer than max_catch_up (at least one whole period) is given up:
// only the newest part is fetched, the rest is logged as an error and
// reported in sigmawatch_collect_skipped_seconds.
//
// Before anything is fetched, a unit with series but no progress of its own
// gets a baseline progress sample (where its first window starts, stamped a
// millisecond before T): a run cut short by its deadline leaves a record,
// so the time such a unit never covered is caught up or counted as skipped,
// never lost silently.
//
// Upgrading from a release before progress by data time: that release kept,
// per (job, region, account, shard), the scheduled time of its last run
// (sigmawatch_collect_progress_timestamp_seconds, no deployment label). A
// job with no progress of its own reads those once; each series then
// continues from the old run's window end (align(T_old − delay)) as if it
// were its coverage, so the runs missed during the upgrade are caught up
// and a period longer than the schedule that the old release stored is not
// fetched again. Without it the first run started over with a first run's
// window: minutes lost, skipped_seconds 0, an hourly metric's hour twice on
// VictoriaMetrics.
//
// A retry of T therefore finds its units covered and writes nothing; a run
// that failed half-way leaves the written units covered and the others not,
// and its retry (or the next run) writes exactly the rest.
//
// # What each receiver kind gets (receiver.kind)
//
// prometheus (Prometheus, all or nothing): each request carries whole units
// with their progress; a refused request stores nothing, so a unit is
// covered exactly when its data is stored. A stock Prometheus refuses a
// sample more than about an hour older than its newest one: catch-up never
// reaches further back than max(1h, out_of_order_window) less five minutes
// before T (what lies beyond is given up and counted), and -verify-config
// refuses a metric whose period + delay + interval is already older than
// that, unless it is stamped at the scheduled time. A resent sample is a 400
// (without an out-of-order window) or kept silently at its old value (with
// one) — the collector never resends.
//
// victoriametrics: all or nothing as above, any age. It stores a resent
// sample a second time, so the same rule holds: nothing is sent twice. One
// overlap remains possible and is documented in RELIABILITY.md: a request
// that VictoriaMetrics stores after the sender gave up on it (slower than
// the Lambda deadline), overtaken by a retry of the same window, is stored
// twice; -dedup.minScrapeInterval on VictoriaMetrics removes such copies.
//
// mimir (Mimir, Cortex, Amazon Managed Service for Prometheus): the store
// applies a request series by series and answers 400 for the series it
// refused (a per-tenant series limit, a sample out of order) after storing
// the rest — progress samples included. So a unit's data goes first, and its
// progress only once all of it is known to be stored. After a 4xx the
// collector reads back what of the request is stored, resends only the
// rest once, and leaves a unit whose data is still refused without progress:
// no data is marked covered that was not stored. The next run reads back
// again before resending, so a stored sample is never sent twice, and
// catch-up gives up (and counts) what stays refused beyond max_catch_up.
// An empty kind follows the remote-write URL: an AMP workspace is mimir.
// Never set mimir for VictoriaMetrics: the first attempt after an
// interrupted run resends what was stored, which VictoriaMetrics keeps twice.
//
// # Series that come and go
//
// Discovery asks ListMetrics for the metrics active in the last three hours,
// so terminated resources stop being queried. A new resource's series joins
// a unit whose progress was written without it — by this process from an
// older listing, or by another one (Lambda starts new environments after
// idle, a deploy, concurrency or recycling, each with an empty discovery
// cache) — so the unit's progress says nothing about it. Each unit's
// progress is therefore written with a digest of its series set
// (DigestMetric, same request). A run whose listing of a due unit has
// another digest (or that finds none) asks the store, per metrics entry
// and target one query per 2,000 series answered with dimension labels
// only (BENCHMARKS.md: a cold run over 100,000 changed series stays under
// the template's memory limit), which of
// the unit's series have a sample since the catch-up limit: those without
// are fetched from the catch-up limit, so a new resource loses nothing of
// its first hour and nothing stored is fetched again; the others continue
// from progress. A
// process serving runs from a cached listing that differs from the stored
// set lists again first, or it would move the unit past data of series it
// does not know. Units whose set is unchanged cost nothing more. The queries
// are counted in the api_calls series (operation PromQLQuery) and -plan. A
// static job's series come from its config: one added to a unit continues
// from the unit's progress.
//
// # Service jobs
//
// A service job (type: AWS/EC2…) is a second kind of listing, nothing else:
// its resources come from the Tagging API (cached like discovery), every
// dimension set of its metrics is listed, and each metric is tied to its
// resource the way YACE does it. A listed metric then carries its
// resource, whose ARN is its name label and whose exported tags are its
// tag_* labels; units, progress, packing and delivery are those of any
// other metric, per receiver kind. The resources' aws_<service>_info series
// (value 0 at T) travel with the target's health series: written once per
// target and run that did work, so a retry of T writes none a second time.
// A resource whose tags change gives its series new labels from then on, as
// in YACE; its progress is the metric's and goes on.
//
// # Bad series
//
// Every series' labels are checked before anything is fetched: a series a
// receiver would refuse (two dimensions that sanitise to one label), or two
// CloudWatch metrics that map to one series (requestCount and
// request_count), are dropped on every run, named in an error log and
// counted in sigmawatch_collect_dropped_series; the rest goes on.
//
// # Planner, packer, fetcher
//
// planTarget (planner.go) decides from progress alone which units are due
// and which window each series needs; it does no I/O. cloudwatch.Fetch runs
// the queries, oldest windows first, with bounded concurrency, and starts no
// call past the run's deadline minus a margin. The packer (packer.go) puts
// completed units into requests: a unit is never split and timing groups
// never share a request, so an hourly unit a receiver refuses does not take
// one-minute units with it.
//
// # Health
//
// Health series are gauges stamped at T, written once per target and job,
// after all of its units are stored; a retry that has nothing left to do
// writes none, so a receiver never sees a second, different value at T.
package collector
