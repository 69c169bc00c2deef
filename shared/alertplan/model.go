// Package alertplan is the alert function's cost preview (alert -plan): for
// the rules file and the schedule, the queries and the query samples each
// rule's evaluation reads per run and per month, the store's monthly query
// bill at a price per billion samples, and the same figures for the naive
// evaluation that re-reads every baseline in full at every run.
//
// The figures come from a model of the queries alerting.Evaluate runs
// (model.go), kept here, beside the constants of the evaluation it reads
// (alerting.RobustChunk, the detector's History,
// for auto rules, evaluated incrementally, alerting.SizeAuto, and for
// window rules, read from hour summaries, alerting.SplitWindow), and
// checked against the samples a real Prometheus reports for a run of the
// engine (TestModelMatchesMeasured, which also measures an hour of warm
// window and seasonal runs; the warm auto runs and the states they write
// in alertengine's TestAutoIncrementalCost). A store bills what its
// own query engine reads: the figures are what Prometheus's stats=all
// reports, which AMP bills; the states an auto rule writes back are billed
// as ingestion.
package alertplan

import (
	"math"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/detector"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Month is the month the plan bills: 30 days, as collect's plan.
const Month = 30 * 24 * time.Hour

// DefaultUSDPerBillionSamples is Amazon Managed Service for Prometheus's
// query price: $0.10 per billion query samples processed (the
// "totalQueryableSamples" of a query's stats), its published price in
// us-east-1 in 2025. Other stores bill otherwise (Grafana Cloud by active
// series, a self-run Prometheus or VictoriaMetrics by the machine):
// override it with -usd-per-billion-samples.
const DefaultUSDPerBillionSamples = 0.10

// DefaultUSDPerBillionIngested is Amazon Managed Service for Prometheus's
// ingestion price: $0.90 per 10 million samples ingested (its first tier,
// the first 2 billion samples of a month; $0.35 and then $0.16 per 10
// million beyond), us-east-1 in 2025. It prices the detector states an
// auto rule writes back to the store (StateWrites); override it with
// -usd-per-billion-ingested.
const DefaultUSDPerBillionIngested = 90.0

// Shape is what the model needs to know of a rule's data: how many series
// its expression returns and how far apart their points are.
type Shape struct {
	// Series is how many series the rule's selectors read, all selectors
	// together (a ratio of two metrics over 100 instances reads 200).
	Series int
	// Resolution is the spacing of the stored points (CloudWatch's period
	// as collected: 1m or 5m, mostly).
	Resolution time.Duration
}

// Reads is what one evaluation of a rule reads, per run.
type Reads struct {
	Queries int
	// Samples is what the query engine reads for them (Prometheus's
	// totalQueryableSamples).
	Samples float64
}

// Model is the evaluation of one rule as alerting.Evaluate runs it: the
// queries and, per series, the points each one reads.
type Model struct {
	Rule rules.Rule
	// Interval is the schedule's (the subquery step of an expression that
	// is not a plain selector, and of the newest-point probe).
	Interval time.Duration
	Shape    Shape
}

// points is how many points of one series a range of length d holds.
func (m Model) points(d time.Duration) float64 {
	if d <= 0 || m.Shape.Resolution <= 0 {
		return 0
	}
	return float64(d) / float64(m.Shape.Resolution)
}

// lookback is the rule's lookback_delta, defaulted as alerting.SpecOf does.
func (m Model) lookback() time.Duration {
	if d := time.Duration(m.Rule.LookbackDelta); d > 0 {
		return d
	}
	return time.Duration(rules.DefaultLookbackDelta)
}

// Evaluated is what this build's evaluation reads per run (alerting.Evaluate,
// and for auto, window and seasonal rules alerting.Evaluator once what it
// keeps in the store is there: Warm).
//
//   - A threshold rule is one instant query, each selector read as
//     last_over_time(selector[lookback_delta]).
//   - An anomaly rule first finds its newest data: a subquery of the
//     expression's timestamps over lookback_delta at the schedule interval
//     (one point per step per series). Then the current value (the
//     smoothing window's mean, and its latest point and median; or, without
//     smoothing, the latest point within lookback_delta), the sustained
//     average, the baseline and the history check, each a range aggregate
//     that reads every point of its range once:
//   - window: mean, σ and count over the baseline, three reads of it;
//   - seasonal: the same over each season's window;
//   - robust: the baseline's points, one read of it;
//   - auto: the warm incremental run (Warm);
//   - window, seasonal: the engine's run from hour summaries (Warm, see
//     windowWarm and seasonalWarm); robust: from its hourly checkpoints
//     (robustWarm);
//   - the history check counts the points of (reach − min_history) that
//     lie min_history back.
func (m Model) Evaluated() Reads {
	if m.auto() || m.method() == anomaly.MethodWindow || m.method() == anomaly.MethodSeasonal || m.method() == anomaly.MethodRobust {
		return m.Warm()
	}
	return m.Naive()
}

// method is the rule's anomaly method; "" for a threshold rule.
func (m Model) method() anomaly.Method {
	if m.Rule.Anomaly == nil {
		return ""
	}
	return m.Rule.Anomaly.Detector().Method
}

func (m Model) auto() bool {
	return m.Rule.Anomaly != nil && m.Rule.Anomaly.Detector().Method == anomaly.MethodAuto
}

// Naive is what the rule reads when every baseline is re-read in full at
// every run, as the issue puts it: four scans of a window baseline per
// tick. It is what threshold and robust rules read at every run in this
// build, and what window and seasonal rules read without the engine's
// Evaluator (alerting.Evaluate: -dry-run, the backtest's comparison); for
// an auto rule it is the full replay of History, which is also what its
// first runs read (Cold).
func (m Model) Naive() Reads {
	r := m.Rule
	k := float64(m.Shape.Series)
	if r.Anomaly == nil {
		return Reads{Queries: 1, Samples: k * m.points(m.lookback())}
	}
	p := r.Anomaly.Detector()
	add := func(reads *Reads, queries int, d time.Duration) {
		reads.Queries += queries
		reads.Samples += float64(queries) * k * m.points(d)
	}
	if p.Method == anomaly.MethodAuto {
		reads := m.probe()
		add(&reads, 1, detector.FromParams(p).History())
		return reads
	}
	reads := m.current(p)
	switch p.Method {
	case anomaly.MethodRobust:
		// Every point of the baseline's window, read once (a series
		// first, then chunks of series), the median and MAD computed by
		// the function (alerting's robust.go).
		add(&reads, 1, p.Baseline)
		reads.Queries += robustChunks(m.Shape.Series, m.points(p.Baseline)) - 1
	case anomaly.MethodSeasonal:
		for range p.Seasons {
			add(&reads, 3, p.SeasonWindow)
		}
	default:
		add(&reads, 3, p.Baseline)
	}
	add(&reads, 1, p.Reach()-p.MinHistory)
	return reads
}

// robustChunks is how many queries a robust rule's read of its baseline's
// points takes: one series, then as many as alerting.RobustChunk holds.
func robustChunks(series int, perSeries float64) int {
	if series <= 1 {
		return series
	}
	per := max(int(perSeries), 1)
	chunk := max(alerting.RobustChunk/per, 1)
	return 1 + (series-1+chunk-1)/chunk
}

// probe is the newest-point probe of an anomaly rule: one point per step
// of lookback_delta per series.
func (m Model) probe() Reads {
	return Reads{Queries: 1, Samples: float64(m.Shape.Series) * float64(m.lookback()/max(m.Interval, time.Second))}
}

// EvaluatedShare is the share of runs that evaluate the rule. An anomaly
// rule is evaluated only at the runs where its data has a new point
// (alerting.EvaluateAtCadence): over data at its resolution and a schedule
// every interval, interval/resolution of runs (all of them when the data
// is as fine as the schedule or finer). The other runs read only its probe
// (Skipped). A threshold rule is evaluated at every run.
func (m Model) EvaluatedShare() float64 {
	if m.Rule.Anomaly == nil || m.Shape.Resolution <= m.Interval {
		return 1
	}
	return float64(m.Interval) / float64(m.Shape.Resolution)
}

// Skipped is what a run reads of an anomaly rule it skips, its data
// unchanged: the probe, asked per series (the same samples).
func (m Model) Skipped() Reads {
	if m.Rule.Anomaly == nil {
		return m.Evaluated()
	}
	return m.probe()
}

// PerRun is what a run reads of the rule on average at the data's
// cadence: EvaluatedShare of runs evaluate it, the others skip it. Queries
// are an evaluated run's. Not modelled: a run that would send a message
// evaluates the rule although its data did not change (the firing after
// `for`, repeats, resolutions: rare at the default repeat_interval), and
// reads its probe twice then.
func (m Model) PerRun() Reads {
	f := m.EvaluatedShare()
	e, s := m.Evaluated(), m.Skipped()
	return Reads{Queries: e.Queries, Samples: f*e.Samples + (1-f)*s.Samples}
}

// Cold is what an auto rule's first runs read in all, and over how many
// runs: the full replay of History of every series (Naive), which the
// evaluation spreads over runs of at most its history budget
// (alerting.DefaultHistoryBudget). Zero for other methods.
func (m Model) Cold() (total Reads, runs int) {
	switch m.method() {
	case anomaly.MethodWindow:
		return m.windowCold()
	case anomaly.MethodRobust:
		return m.robustCold()
	}
	if !m.auto() {
		return Reads{}, 0
	}
	sz := m.sizing()
	total = m.Naive()
	history := float64(m.Shape.Series) * m.points(sz.History)
	return total, max(1, int(math.Ceil(history/float64(sz.HistoryBudget))))
}

func (m Model) sizing() alerting.AutoSizing {
	return alerting.SizeAuto(detector.FromParams(m.Rule.Anomaly.Detector()), m.Shape.Resolution)
}

// Warm is what a run of an auto rule reads once every series has its state
// in the store (alerting.Evaluator), on average over the runs of an hour:
// the read depends on where in the hour a run falls. Per series:
//
//   - the newest-point probe, as every anomaly rule;
//   - the checkpoints of the last alerting.RecentStateWindow (80 minutes,
//     in 16 queries): one is written per hour when the series' data enters
//     the hour (prepared for the next, when its hour summaries fit the
//     run's history budget; otherwise unprepared, and a prepared one follows
//     at a later run), so a run reads 80/60 hours' worth of them on
//     average: two in the first 20 minutes of an hour, one after;
//   - the points since the checkpoint, which is at the hour's first point:
//     m·interval of points at the m-th run of an hour (at least
//     lookback_delta), a whole hour at the hour's first run, which still
//     reads the previous hour's checkpoint;
//   - once an hour, the hour summaries of the detector's look-back (four
//     weeks and two hours, a burst of 8 samples per hour), spread here
//     over the hour's runs.
//
// Queries are those of a run that prepares no hour: the probe, the 16
// checkpoint reads and the points'; the hour's preparation adds one query
// per 46-odd series, once an hour.
func (m Model) Warm() Reads {
	switch m.method() {
	case anomaly.MethodWindow:
		return m.windowWarm()
	case anomaly.MethodSeasonal:
		return m.seasonalWarm()
	case anomaly.MethodRobust:
		return m.robustWarm()
	}
	if !m.auto() {
		return m.Naive()
	}
	sz := m.sizing()
	k := float64(m.Shape.Series)
	reads := m.probe()
	reads.Queries += sz.StateQueries + 1
	perHour := float64(time.Hour) / float64(max(m.Interval, time.Second))
	// Checkpoints written per hour, and read back within the window.
	reads.Samples += k * m.checkpointSamplesPerHour(sz) * float64(sz.StateWindow) / float64(time.Hour)
	// The points since the checkpoint, averaged over the hour's runs.
	runs := max(1, int(perHour))
	var points float64
	for j := range runs {
		since := time.Hour
		if j > 0 {
			since = max(time.Duration(j)*m.Interval, m.lookback())
		}
		points += m.points(since)
	}
	reads.Samples += k * points / float64(runs)
	// The hour summaries, once an hour.
	reads.Samples += k * m.hoursRead(sz) / perHour
	return reads
}

// hoursRead is what one preparation reads of a series' hour summaries.
func (m Model) hoursRead(sz alerting.AutoSizing) float64 {
	return float64(sz.HoursWindow/time.Hour) * float64(sz.Hour)
}

// checkpointSamplesPerHour is what a series writes of checkpoints per
// hour, on average over the rule's series: a prepared one for the series
// the run that turns the hour prepares within the history budget; the
// others an unprepared one then, and a prepared one at a later run.
func (m Model) checkpointSamplesPerHour(sz alerting.AutoSizing) float64 {
	k := float64(m.Shape.Series)
	if k <= 0 {
		return 0
	}
	prepared := math.Floor(float64(sz.HistoryBudget) / max(m.hoursRead(sz), 1))
	waiting := max(0, k-prepared) / k
	return float64(sz.Prepared) + waiting*float64(sz.Checkpoint)
}

// StateWrites is the samples an auto rule writes of its detector state per
// hour, all its series together (checkpoints and hour summaries), which
// the store bills as ingestion; zero for other methods.
func (m Model) StateWrites() float64 {
	switch m.method() {
	case anomaly.MethodWindow:
		// One hour's summary per series and hour.
		return float64(m.Shape.Series * alerting.HourRecordSamples)
	case anomaly.MethodRobust:
		// One checkpoint per series and hour, a burst of its own.
		return float64(m.Shape.Series * (alerting.RobustWidth + 1))
	}
	if !m.auto() {
		return 0
	}
	sz := m.sizing()
	return float64(m.Shape.Series) * (m.checkpointSamplesPerHour(sz) + float64(sz.Hour))
}

// windowWarm is what a run of a window rule reads once its series' hour
// summaries are in the store (alerting.Evaluator, moments.go), on average
// over the runs of an hour (each at a schedule step, its data on its
// resolution's grid). Per series, besides what every run reads (the
// probe, the current value, the sustained average):
//
//   - the raw points of the baseline's two edges, (lo, first] and
//     (settled, hi] (alerting.SplitWindow): about an hour, and the part
//     of lookback_delta beyond exclude_recent;
//   - the hour summaries of the whole hours between, a record of
//     alerting.HourRecordSamples per hour;
//   - once an hour, the hour that closed: count, mean and σ over it,
//     three reads of two hours' points (a subquery over whole hours, whose
//     left end Prometheus 2 evaluates too), spread here over the hour's
//     runs.
//
// A series with history has it answered by those counts: the history
// check reads nothing more. Queries are those of a run that closes no
// hour and reads both edges: the probe, the current value's, the
// sustained average's, the two edges' and the 16 reads of summaries (by
// the fingerprint's first digit). A run whose baseline has no settled
// whole hour reads the full way (Naive).
func (m Model) windowWarm() Reads {
	p := m.Rule.Anomaly.Detector()
	k := float64(m.Shape.Series)
	reads := m.current(p)
	runs := max(1, int(time.Hour/max(m.Interval, time.Second)))
	var samples float64
	for j := range runs {
		at := time.Unix(0, 0).UTC().Add(time.Duration(j) * m.Interval)
		if m.Shape.Resolution > 0 {
			at = at.Truncate(m.Shape.Resolution)
		}
		s := alerting.SplitWindow(p, m.lookback(), at)
		if !s.OK {
			return m.Naive()
		}
		samples += m.points(s.First.Sub(s.Lo)) + m.points(s.Hi.Sub(s.Settled))
		samples += float64(s.Settled.Sub(s.First)/time.Hour) * alerting.HourRecordSamples
	}
	reads.Queries += 2 + alerting.StateShards
	reads.Samples += k * (samples/float64(runs) + 3*m.points(2*time.Hour)/float64(runs))
	return reads
}

// windowCold is what a window rule's first runs read in all, and over how
// many runs: the full path (Naive) at each run until the summaries of
// every whole hour of the baseline are read, three reads of each hour's
// points, within alerting.DefaultHistoryBudget a run.
func (m Model) windowCold() (Reads, int) {
	p := m.Rule.Anomaly.Detector()
	hours := p.Baseline.Truncate(time.Hour)
	backfill := 3 * float64(m.Shape.Series) * m.points(hours)
	runs := max(1, int(math.Ceil(backfill/float64(alerting.DefaultHistoryBudget))))
	naive := m.Naive()
	return Reads{Queries: runs*naive.Queries + 3*runs, Samples: float64(runs)*naive.Samples + backfill}, runs
}

// robustWarm is what a run of a robust rule reads once its checkpoints
// are in the store (alerting's robust.go), on average over its evaluated
// runs of an hour. Besides what every run reads (the probe, the current
// value, the sustained average):
//
//   - the checkpoints written since the baseline's end, in
//     alerting.StateShards queries: one burst (alerting.RobustWidth + 1
//     samples) per series and hour, from RobustLag to RobustLag +
//     RobustRefresh of them by the run's place in the hour (the mean
//     here);
//   - once per series and hour, the next hour's baseline: every point of
//     its window, in chunks (a series, then alerting.RobustChunk samples
//     at a time), spread over the hour's evaluated runs.
//
// The checkpoints answer the history check of a series with history.
func (m Model) robustWarm() Reads {
	p := m.Rule.Anomaly.Detector()
	k := float64(m.Shape.Series)
	reads := m.current(p)
	reads.Queries += alerting.StateShards
	held := float64(anomaly.RobustLag+anomaly.RobustRefresh/2) / float64(time.Hour)
	reads.Samples += k * held * (alerting.RobustWidth + 1)
	perHour := max(1, float64(time.Hour)/float64(max(m.Interval, time.Second))*m.EvaluatedShare())
	reads.Samples += k * m.points(p.Baseline) / perHour
	reads.Queries += int(math.Ceil(float64(robustChunks(m.Shape.Series, m.points(p.Baseline))) / perHour))
	return reads
}

// robustCold is what a robust rule's first runs read in all, and over how
// many runs: the hour's baseline of every series (every point of its
// window), within alerting.DefaultHistoryBudget a run, each run also
// reading what a run reads besides (the current value, the history check).
func (m Model) robustCold() (Reads, int) {
	p := m.Rule.Anomaly.Detector()
	points := float64(m.Shape.Series) * m.points(p.Baseline)
	runs := max(1, int(math.Ceil(points/float64(alerting.DefaultHistoryBudget))))
	naive := m.Naive()
	return Reads{Queries: runs * naive.Queries, Samples: float64(runs)*(naive.Samples-points) + points}, runs
}

// seasonalWarm is what a run of a seasonal rule reads with the engine's
// Evaluator: the full path without the history check when a season's
// window lies wholly within the check's range (one at least min_history
// back), which answers it for every series with a point there.
func (m Model) seasonalWarm() Reads {
	p := m.Rule.Anomaly.Detector()
	naive := m.Naive()
	for s := 1; s <= p.Seasons; s++ {
		if time.Duration(s)*p.Season-p.SeasonWindow/2 >= p.MinHistory {
			naive.Queries--
			naive.Samples -= float64(m.Shape.Series) * m.points(max(p.Reach()-p.MinHistory, time.Millisecond))
			return naive
		}
	}
	return naive
}

// current is what every run of a rule that is not auto reads besides its
// baseline: the probe, the current value (three reads of the smoothing
// window, or the latest point within lookback_delta) and the sustained
// average.
func (m Model) current(p anomaly.Params) Reads {
	k := float64(m.Shape.Series)
	reads := m.probe()
	add := func(queries int, d time.Duration) {
		reads.Queries += queries
		reads.Samples += float64(queries) * k * m.points(d)
	}
	if p.Smoothing > 0 {
		add(3, p.Smoothing)
	} else {
		add(1, m.lookback())
	}
	if p.SustainedOn() {
		add(1, p.Sustained)
	}
	return reads
}
