package alerting

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// The detector's persisted state (method auto, see incremental.go). Each
// record is a burst: the numbers of one record written to one series at
// consecutive milliseconds ending one millisecond before the run's
// scheduled time, the first of them the count of the others. A burst keeps
// the store's series count at one per monitored series and kind, whatever
// the record's width, and a stock Prometheus takes it (every sample is
// newer than the series' last one and stamped before the scheduled time).
const (
	// DetectorStateMetric holds checkpoints: a compact detector state (see
	// detector.Compact) and the decision at its latest point.
	DetectorStateMetric = "sigmawatch_detector_state"
	// DetectorHoursMetric holds hour summaries (detector.AppendHour), one
	// or many per burst.
	DetectorHoursMetric = "sigmawatch_detector_hours"
	// SeriesLabel is the monitored series' fingerprint (Fingerprint) on
	// detector records, ConfigLabel the fingerprint of what the state was
	// built under (the detector's settings, the expression, the step).
	SeriesLabel = "sigmawatch_series"
	ConfigLabel = "sigmawatch_config"
	// burstSpan bounds a burst's length (in milliseconds, so 30,000
	// numbers) and is how far before the scheduled time records are read:
	// a run never reads its own bursts, as it never reads its own state.
	burstSpan = 30 * time.Second
)

// maxBurst is the longest record a burst carries, its count included.
const maxBurst = int(burstSpan / time.Millisecond)

// Record is one persisted record of one series of an auto rule.
type Record struct {
	// Series is the monitored series' fingerprint.
	Series string
	Values []float64
}

// DetectorRecords are what one evaluation of an auto rule persists.
type DetectorRecords struct {
	// Config is the fingerprint the records were built under.
	Config string
	// States are checkpoints, Hours hour summaries.
	States, Hours []Record
}

// Len is the number of samples the records take.
func (d DetectorRecords) Len() int {
	n := 0
	for _, rs := range [][]Record{d.States, d.Hours} {
		for _, r := range rs {
			n += len(r.Values) + 1
		}
	}
	return n
}

// DetectorSeries builds the bursts of rule's records for the write request
// of the run at at. A record longer than a burst can carry is left out
// (the series then starts cold at the next run, which the evaluation logs).
func (s *Store) DetectorSeries(at time.Time, rule RuleRef, recs DetectorRecords) []remotewrite.Series {
	var out []remotewrite.Series
	end := at.UnixMilli()
	for _, kind := range []struct {
		metric string
		recs   []Record
	}{{DetectorStateMetric, recs.States}, {DetectorHoursMetric, recs.Hours}} {
		for _, r := range kind.recs {
			n := len(r.Values) + 1
			if n > maxBurst {
				continue
			}
			samples := make([]remotewrite.Sample, 0, n)
			start := end - int64(n)
			samples = append(samples, remotewrite.Sample{T: start, V: float64(len(r.Values))})
			for i, v := range r.Values {
				samples = append(samples, remotewrite.Sample{T: start + 1 + int64(i), V: v})
			}
			out = append(out, remotewrite.Series{Labels: []remotewrite.Label{
				{Name: model.MetricNameLabel, Value: kind.metric},
				{Name: model.AlertNameLabel, Value: rule.Alert},
				{Name: ConfigLabel, Value: recs.Config},
				{Name: config.DeploymentLabel, Value: s.deployment},
				{Name: GroupLabel, Value: rule.Group},
				{Name: SeriesLabel, Value: r.Series},
			}, Samples: samples})
		}
	}
	return out
}

// bursts reads the bursts of metric for rule under config that end within
// window before at−burstSpan, per series fingerprint, oldest first. When
// series is not empty, only those series are read; otherwise the read is
// split in stateShards queries by the fingerprint's first hex digit, so
// that the response of a rule of 10,000 series (about two hundred samples
// each) is never decoded at once: the function's memory is bounded by a
// shard's.
func (s *Store) bursts(ctx context.Context, metric string, rule RuleRef, cfg string, series []string, at time.Time, window time.Duration) (map[string][][]float64, error) {
	if len(series) > 0 {
		return s.burstsMatching(ctx, metric, rule, cfg, SeriesLabel+"=~"+strconv.Quote(fingerprintsRegexp(series)), at, window)
	}
	out := map[string][][]float64{}
	err := s.eachBursts(ctx, metric, rule, cfg, at, window, func(fp string, bs [][]float64) { out[fp] = bs })
	return out, err
}

// eachBursts is bursts of every series, given to f series by series, a
// shard at a time: the caller that folds them holds one shard's at most.
func (s *Store) eachBursts(ctx context.Context, metric string, rule RuleRef, cfg string, at time.Time, window time.Duration, f func(fp string, bursts [][]float64)) error {
	for _, shard := range stateShards {
		got, err := s.burstsMatching(ctx, metric, rule, cfg, SeriesLabel+"=~"+strconv.Quote(shard), at, window)
		if err != nil {
			return err
		}
		for fp, bs := range got {
			f(fp, bs)
		}
	}
	return nil
}

// StateShards is how many queries a read of a rule's records of every
// series takes (alert -plan's model counts them).
const StateShards = 16

// stateShards are the regular expressions of the fingerprints' first hex
// digit (Fingerprint is hex).
var stateShards = func() []string {
	var out []string
	for _, c := range "0123456789abcdef" {
		out = append(out, string(c)+".*")
	}
	return out
}()

func fingerprintsRegexp(series []string) string {
	quoted := make([]string, len(series))
	for i, fp := range series {
		quoted[i] = regexp.QuoteMeta(fp)
	}
	return strings.Join(quoted, "|")
}

// burstsMatching is bursts for the series the matcher selects.
func (s *Store) burstsMatching(ctx context.Context, metric string, rule RuleRef, cfg, matcher string, at time.Time, window time.Duration) (map[string][][]float64, error) {
	ms := []string{
		model.AlertNameLabel + "=" + strconv.Quote(rule.Alert),
		GroupLabel + "=" + strconv.Quote(rule.Group),
		ConfigLabel + "=" + strconv.Quote(cfg),
		matcher,
	}
	query := fmt.Sprintf("%s[%s]", s.selector(metric, ms...), dur(window))
	// Series by series as they are decoded: a shard's hour summaries
	// (thousands of series, a day or more of records each) are never
	// held decoded all at once.
	out := map[string][][]float64{}
	var times []int64
	err := querySeriesEach(ctx, s.q, query, at.Add(-burstSpan), func(labels map[string]string, points []promql.Point) {
		fp := labels[SeriesLabel]
		if fp == "" {
			return
		}
		times = times[:0]
		values := make([]float64, 0, len(points))
		for _, p := range points {
			t := p.T.UnixMilli()
			if n := len(times); n > 0 && times[n-1] == t {
				continue // a receiver that keeps a resent sample twice
			}
			times = append(times, t)
			values = append(values, p.V)
		}
		out[fp] = append(out[fp], splitBursts(times, values)...)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", metric, err)
	}
	return out, nil
}

// splitBursts cuts samples in time order into bursts: runs of consecutive
// milliseconds whose first value counts the others. A run that does not
// (a burst a receiver stored in part) is dropped.
func splitBursts(times []int64, values []float64) [][]float64 {
	var out [][]float64
	for i := 0; i < len(times); {
		j := i + 1
		for j < len(times) && times[j] == times[j-1]+1 {
			j++
		}
		if n := values[i]; n == math.Trunc(n) && int(n) == j-i-1 {
			out = append(out, values[i+1:j])
		}
		i = j
	}
	return out
}
