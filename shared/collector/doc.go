// Package collector runs one scheduled collection: for each job and each of
// its (region, account) targets it discovers the metrics, works out from
// stored progress which CloudWatch periods are still missing, fetches them
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
// Every series belongs to one of a job's progress shards (a stable hash of
// its metric identity, `progress_shards` per job). Each remote-write request
// carries whole shards and, in the same request, one progress sample per
// shard:
//
//	sigmawatch_collect_progress_timestamp_seconds{job,region,account_id,shards,shard} = T  @ T
//
// A request is applied atomically by the receiver, so a shard's progress is
// stored if and only if its data is. At the start of a run the collector reads
// the progress back (last_over_time over eight days, evaluated six hours after
// T so that a late Lambda retry sees the runs that came after it) and, for each
// metric, fetches [align(P−delay), align(T−delay)) where P is the scheduled time
// of the last run that covered the shard; a first run covers its own window
// [align(T−delay)−length, align(T−delay)). A gap longer than max_catch_up is
// given up: only the newest max_catch_up is fetched, and the rest is logged as
// an error and reported in sigmawatch_collect_skipped_seconds.
//
// When progress_shards changes, series move to other shards; a shard
// without progress under the new count continues from the newest progress
// written under the old one (the shards label tells them apart), so a
// config change neither re-sends nor re-collects a first-run window.
//
// A retry of T therefore finds its shards covered and writes nothing; a run
// that failed half-way leaves the written shards covered and the others not,
// and its retry (or the next run) writes exactly the rest.
//
// Health series are gauges stamped at T, written once per target and job,
// after all of its shards are stored; a retry that has nothing left to do
// writes none, so a receiver never sees a second, different value at T.
package collector
