package collector

import (
	"context"
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// CoveredMetric is the progress series: per unit (a job's metric in one
// target, one of progress_shards hash partitions of its series), the data
// time up to which every series of the unit is covered — written, or given
// up and counted. It travels in the same request as the data it covers.
const CoveredMetric = "sigmawatch_collect_covered_until_timestamp_seconds"

// DigestMetric is the series set of each unit when its progress was last
// written: a digest of the CloudWatch metrics the unit held (seriesDigest),
// with the same labels as its CoveredMetric sample and in the same request.
// A run whose listing of a due unit has another digest knows that series
// came or went since (a resource that appeared while another process served
// runs from its cached listing); only then does it ask the store which are
// new (markFresh). One sample per unit and write, like the progress.
const DigestMetric = "sigmawatch_collect_series_digest"

// digestBits is how much of a digest is kept: a float64 holds integers up
// to 2^53 exactly.
const digestBits = 52

// legacyProgressMetric is the progress series of the releases before
// progress by data time: per (job, region, account, shard of
// legacyShard), the scheduled time of the last run whose data was stored,
// without a deployment label. A job with no progress of its own reads it
// (legacyCovered), so the first run after an upgrade continues where the
// old release stopped instead of starting over with a first run's window,
// which lost what the upgrade's missed runs would have caught up, and
// fetched again a period longer than the schedule that the old release had
// stored. Once that run has written progress the old series is not read
// again.
const legacyProgressMetric = "sigmawatch_collect_progress_timestamp_seconds"

const (
	// progressLookahead: progress is read as of T plus this, so a late retry
	// of T (Lambda keeps async events up to 6 h) sees the runs after it.
	progressLookahead = 6 * time.Hour
	// progressLookback bounds how far back stored progress is looked for;
	// older progress is treated as none.
	progressLookback = 8 * 24 * time.Hour
)

// targetKey is one (region, account) of a job.
type targetKey struct{ region, account string }

// unitKey names one progress unit within a target. shards is the job's
// progress_shards when it was written: a series' shard depends on it, so
// progress written under another count is kept apart.
type unitKey struct {
	metric        string // the CloudWatch metric name of the job's metrics entry
	shards, shard int
}

// jobProgress is what the store holds for one job: per target, per unit,
// the covered-until time.
type jobProgress map[targetKey]*targetProgress

// targetProgress is the stored progress of one target.
type targetProgress struct {
	units map[unitKey]time.Time
	// counts lists, per metric, the shard counts that have progress.
	counts map[string][]int
	// digests is, per unit, the digest of its series set written with its
	// newest progress (DigestMetric); a unit written by a release before
	// digests has none.
	digests map[unitKey]uint64
	// legacy is the old release's progress (legacyProgressMetric): per
	// shard count, per shard, the scheduled time of its last run.
	legacy map[int]map[int]time.Time
}

func (p jobProgress) target(k targetKey) *targetProgress {
	if tp := p[k]; tp != nil {
		return tp
	}
	return &targetProgress{}
}

func (p *targetProgress) add(k unitKey, t time.Time) {
	if p.units == nil {
		p.units = map[unitKey]time.Time{}
		p.counts = map[string][]int{}
	}
	if prev, ok := p.units[k]; ok {
		if t.After(prev) {
			p.units[k] = t
		}
		return
	}
	p.units[k] = t
	for _, n := range p.counts[k.metric] {
		if n == k.shards {
			return
		}
	}
	p.counts[k.metric] = append(p.counts[k.metric], k.shards)
}

// setDigest records the stored digest of unit k.
func (p *targetProgress) setDigest(k unitKey, d uint64) {
	if p.digests == nil {
		p.digests = map[unitKey]uint64{}
	}
	p.digests[k] = d
}

// digest is the digest of the unit's series set stored with its progress.
func (p *targetProgress) digest(k unitKey) (uint64, bool) {
	d, ok := p.digests[k]
	return d, ok
}

// own is the unit's own stored progress.
func (p *targetProgress) own(k unitKey) (time.Time, bool) {
	t, ok := p.units[k]
	return t, ok
}

// covered is how far a series (of metric, with hash h) is covered: the
// newest progress of any unit it belongs to under any shard count. Each
// unit's progress only ever grows and claims every series that was in it
// when written, so the newest is the truth; after progress_shards changed
// (16 → 32 → 16) the stale progress of the old count loses to the newer.
func (p *targetProgress) covered(metric string, h uint32) (time.Time, bool) {
	var best time.Time
	found := false
	for _, n := range p.counts[metric] {
		t, ok := p.units[unitKey{metric: metric, shards: n, shard: int(h % uint32(n))}]
		if ok && (!found || t.After(best)) {
			best, found = t, true
		}
	}
	return best, found
}

// legacyCovered is how far the old release covered m: the window end
// (align(T − delay, period), the same maths as timing's) of its last run
// over m's old shard, the newest under any shard count.
func (p *targetProgress) legacyCovered(m *cloudwatch.Metric, timing cloudwatch.Timing) (time.Time, bool) {
	var best time.Time
	found := false
	for shards, byShard := range p.legacy {
		at, ok := byShard[legacyShard(m, shards)]
		if !ok {
			continue
		}
		if c := timing.End(at); !found || c.After(best) {
			best, found = c, true
		}
	}
	return best, found
}

// legacyShard is the old release's shard of m: FNV-1a of its key, modulo
// the shard count.
func legacyShard(m *cloudwatch.Metric, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(m.Key()))
	return int(h.Sum32() % uint32(shards))
}

// seriesHash places a metric in its progress shard (hash mod shards),
// stably across runs and processes.
func seriesHash(m *cloudwatch.Metric) uint32 {
	h := fnv.New32a()
	writeIdentity(h, m)
	return h.Sum32()
}

// writeIdentity writes what identifies a CloudWatch metric (namespace,
// name, dimensions in their listed order) to h, the one byte layout both
// the progress shard and the series-set digest hash.
func writeIdentity(h hash.Hash, m *cloudwatch.Metric) {
	_, _ = h.Write([]byte(m.Namespace))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(m.Name))
	for _, d := range m.Dimensions {
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(d.Name))
		_, _ = h.Write([]byte{'='})
		_, _ = h.Write([]byte(d.Value))
	}
}

// metricDigest is a metric's share of its unit's digest: the sum of its
// members' 64-bit FNV-1a hashes, so that the order of the listing does not
// matter, cut to digestBits when stored.
func metricDigest(m *cloudwatch.Metric) uint64 {
	h := fnv.New64a()
	writeIdentity(h, m)
	return h.Sum64()
}

// readProgress returns the stored progress of job in this deployment, with
// each unit's series digest: one query for both (their names differ, the
// rest of their labels are the same), and the queries it made.
func (c *Collector) readProgress(ctx context.Context, at time.Time, job string) (jobProgress, int, error) {
	out := jobProgress{}
	if c.progress == nil {
		return out, 0, nil
	}
	q := fmt.Sprintf(`last_over_time({__name__=~"%s|%s",%s=%q,job=%q}[%ds])`, CoveredMetric, DigestMetric, config.DeploymentLabel, c.deployment, job,
		int64((progressLookahead+progressLookback)/time.Second))
	samples, err := c.progress.Query(ctx, q, at.Add(progressLookahead))
	if err != nil {
		return nil, 1, fmt.Errorf("read stored progress (nothing was fetched or written): %w", err)
	}
	for _, s := range samples {
		shards, err1 := strconv.Atoi(s.Labels["shards"])
		shard, err2 := strconv.Atoi(s.Labels["shard"])
		if err1 != nil || err2 != nil || shards < 1 || shard < 0 || shard >= shards || math.IsNaN(s.V) || math.IsInf(s.V, 0) {
			continue // not ours to interpret; never written by this code
		}
		k := targetKey{region: s.Labels["region"], account: s.Labels["account_id"]}
		tp := out[k]
		if tp == nil {
			tp = &targetProgress{}
			out[k] = tp
		}
		uk := unitKey{metric: s.Labels["metric"], shards: shards, shard: shard}
		if s.Labels["__name__"] == DigestMetric {
			if s.V >= 0 && s.V < 1<<digestBits {
				tp.setDigest(uk, uint64(s.V))
			}
			continue
		}
		t := time.UnixMilli(int64(math.Round(s.V * 1000))).UTC()
		tp.add(uk, t)
	}
	if len(out) > 0 {
		return out, 1, nil
	}
	return out, 2, c.readLegacyProgress(ctx, at, job, out)
}

// readLegacyProgress adds the old release's progress of job to out (see
// legacyProgressMetric). Those series carry no deployment label.
func (c *Collector) readLegacyProgress(ctx context.Context, at time.Time, job string, out jobProgress) error {
	q := fmt.Sprintf(`last_over_time(%s{%s="",job=%q}[%ds])`, legacyProgressMetric, config.DeploymentLabel, job,
		int64((progressLookahead+progressLookback)/time.Second))
	samples, err := c.progress.Query(ctx, q, at.Add(progressLookahead))
	if err != nil {
		return fmt.Errorf("read the previous release's progress (nothing was fetched or written): %w", err)
	}
	for _, s := range samples {
		shards, err1 := strconv.Atoi(s.Labels["shards"])
		shard, err2 := strconv.Atoi(s.Labels["shard"])
		if err1 != nil || err2 != nil || shards < 1 || shard < 0 || shard >= shards || math.IsNaN(s.V) || math.IsInf(s.V, 0) {
			continue
		}
		k := targetKey{region: s.Labels["region"], account: s.Labels["account_id"]}
		tp := out[k]
		if tp == nil {
			tp = &targetProgress{}
			out[k] = tp
		}
		if tp.legacy == nil {
			tp.legacy = map[int]map[int]time.Time{}
		}
		if tp.legacy[shards] == nil {
			tp.legacy[shards] = map[int]time.Time{}
		}
		t := time.UnixMilli(int64(math.Round(s.V * 1000))).UTC()
		if prev, ok := tp.legacy[shards][shard]; !ok || t.After(prev) {
			tp.legacy[shards][shard] = t
		}
	}
	return nil
}

// progressSeries is the progress sample of one unit: covered until
// coveredUntil, stamped at ts (milliseconds).
func (c *Collector) progressSeries(job string, tk targetKey, k unitKey, coveredUntil time.Time, ts int64) remotewrite.Series {
	return gauge(CoveredMetric, ts, float64(coveredUntil.UnixMilli())/1000,
		config.DeploymentLabel, c.deployment, "job", job, "region", tk.region, "account_id", tk.account,
		"metric", k.metric, "shards", strconv.Itoa(k.shards), "shard", strconv.Itoa(k.shard))
}

// digestSeries is the digest sample of one unit's series set (DigestMetric),
// stamped at ts (milliseconds).
func (c *Collector) digestSeries(job string, tk targetKey, k unitKey, digest uint64, ts int64) remotewrite.Series {
	return gauge(DigestMetric, ts, float64(digest&(1<<digestBits-1)),
		config.DeploymentLabel, c.deployment, "job", job, "region", tk.region, "account_id", tk.account,
		"metric", k.metric, "shards", strconv.Itoa(k.shards), "shard", strconv.Itoa(k.shard))
}

// gauge is one sample of one of our own series; kv are label pairs.
func gauge(name string, ts int64, v float64, kv ...string) remotewrite.Series {
	labels := make([]remotewrite.Label, 0, 1+len(kv)/2)
	labels = append(labels, remotewrite.Label{Name: "__name__", Value: name})
	for i := 0; i+1 < len(kv); i += 2 {
		labels = append(labels, remotewrite.Label{Name: kv[i], Value: kv[i+1]})
	}
	return remotewrite.Series{Labels: labels, Samples: []remotewrite.Sample{{T: ts, V: v}}}
}

// describeUnit names a unit in logs and errors.
func describeUnit(k unitKey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s shard %d/%d", k.metric, k.shard, k.shards)
	return b.String()
}
