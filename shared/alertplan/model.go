// Package alertplan is the alert function's cost preview (alert -plan): for
// the rules file and the schedule, the queries and the query samples each
// rule's evaluation reads per run and per month, the store's monthly query
// bill at a price per billion samples, and the same figures for the naive
// evaluation that re-reads every baseline in full at every run.
//
// The figures come from a model of the queries alerting.Evaluate runs
// (model.go), kept here, beside the constants of the evaluation it reads
// (alerting.MaxRobustPoints, RobustSampleBudget, the detector's History),
// and checked against the samples a real Prometheus reports for a run of
// the engine (TestModelMatchesMeasured). A store bills what its own query
// engine reads: the figures are what Prometheus's stats=all reports, which
// AMP bills.
package alertplan

import (
	"time"

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

// Evaluated is what this build's evaluation reads per run (alerting.Evaluate).
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
//   - robust: the median, the MAD and the count, three reads of the
//     baseline;
//   - auto: the detector replays History (five weeks) of every series;
//   - the history check counts the points of (reach − min_history) that
//     lie min_history back.
func (m Model) Evaluated() Reads {
	r := m.Rule
	k := float64(m.Shape.Series)
	if r.Anomaly == nil {
		return Reads{Queries: 1, Samples: k * m.points(m.lookback())}
	}
	p := r.Anomaly.Detector()
	// The newest-point probe reads one point per step.
	reads := Reads{Queries: 1, Samples: k * float64(m.lookback()/max(m.Interval, time.Second))}
	add := func(queries int, d time.Duration) {
		reads.Queries += queries
		reads.Samples += float64(queries) * k * m.points(d)
	}
	if p.Method == anomaly.MethodAuto {
		add(1, detector.FromParams(p).History())
		return reads
	}
	if p.Smoothing > 0 {
		add(3, p.Smoothing)
	} else {
		add(1, m.lookback())
	}
	if p.SustainedOn() {
		add(1, p.Sustained)
	}
	switch p.Method {
	case anomaly.MethodRobust:
		// The median, the MAD and the count: three queries, each reading
		// the baseline once. The MAD's deviations are taken from a median
		// pinned by @, which Prometheus evaluates once and does not count
		// again (measured: three reads, not four).
		add(3, p.Baseline)
	case anomaly.MethodSeasonal:
		for range p.Seasons {
			add(3, p.SeasonWindow)
		}
	default:
		add(3, p.Baseline)
	}
	add(1, p.Reach()-p.MinHistory)
	return reads
}

// Naive is what the same rule reads when every baseline is re-read in full
// at every run, as the issue puts it: four scans of a window baseline per
// tick. It is what Evaluated is for every method in this build; the
// incremental evaluation of issue 14 (baselines kept as summaries in the
// store, each run reading the points since its checkpoint) changes
// Evaluated's auto branch, and the plan prints both, side by side.
func (m Model) Naive() Reads { return m.Evaluated() }
