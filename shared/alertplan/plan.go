package alertplan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Querier is the part of the store the plan asks: how many series each
// rule reads and how far apart their points are.
type Querier interface {
	Query(ctx context.Context, query string, at time.Time) ([]promql.Sample, error)
}

// Options are what a plan is made with.
type Options struct {
	// Interval is the schedule's rate (settings.interval; the template's
	// schedule must equal it). Zero takes the rules file's.
	Interval time.Duration
	// USDPerBillionSamples prices the store's queries; zero means
	// DefaultUSDPerBillionSamples.
	USDPerBillionSamples float64
	// USDPerBillionIngested prices the samples written to the store (the
	// detector states of auto rules); zero means
	// DefaultUSDPerBillionIngested.
	USDPerBillionIngested float64
	// Series, when positive, is the series each selector of every rule
	// reads, instead of counting them in the store.
	Series int
	// Resolution, when positive, is the data's point spacing, instead of
	// measuring it in the store; without either it is one minute.
	Resolution time.Duration
	// Query, optional, is the store: series are counted (count of each
	// selector's series within lookback_delta) and the resolution measured
	// (the mean points per series over the last hour) there.
	Query Querier
	// At is when the store is asked.
	At time.Time
}

// DefaultResolution is the data's point spacing when neither the store nor
// -resolution gives it: CloudWatch's one-minute detailed monitoring.
const DefaultResolution = time.Minute

// RulePlan is one rule's share of the plan.
type RulePlan struct {
	Group, Alert, Method string
	Shape                Shape
	// From says where the shape came from: "store", "flags" or "default".
	From string
	// Run is what one run reads (this build's evaluation; for an auto
	// rule a warm run, on average over an hour), Naive what the naive
	// evaluation reads.
	Run, Naive Reads
	// Evaluated is the share of runs that evaluate the rule (an anomaly
	// rule is skipped while its data has no new point), and Skipped what
	// the other runs read of it (Model.EvaluatedShare, Model.Skipped).
	Evaluated float64
	Skipped   Reads
	// Per month at the schedule's rate, and the store's bill for it.
	SamplesPerMonth, USDPerMonth           float64
	NaiveSamplesPerMonth, NaiveUSDPerMonth float64
	// Written is what an auto rule writes of its detector states per
	// month, and the store's ingestion bill for it.
	WrittenPerMonth, WrittenUSDPerMonth float64
	// Cold is what an auto rule's first runs read in all, over ColdRuns
	// runs (once, and again after a change of its settings).
	Cold     Reads
	ColdRuns int
}

// Plan is the cost preview of a rules file on a schedule.
type Plan struct {
	Interval              time.Duration
	USDPerBillionSamples  float64
	USDPerBillionIngested float64
	Rules                 []RulePlan
}

// RunsPerMonth is how often the schedule runs in Month.
func (p Plan) RunsPerMonth() float64 { return float64(Month) / float64(max(p.Interval, time.Second)) }

// Make plans file's rules. Problems asking the store (a rule it cannot
// count) are returned joined, each naming its rule, with the plan of the
// others.
func Make(ctx context.Context, file *rules.File, o Options) (Plan, error) {
	p := Plan{Interval: o.Interval, USDPerBillionSamples: o.USDPerBillionSamples, USDPerBillionIngested: o.USDPerBillionIngested}
	if p.Interval <= 0 {
		p.Interval = time.Duration(file.Settings.Interval)
	}
	if p.USDPerBillionSamples <= 0 {
		p.USDPerBillionSamples = DefaultUSDPerBillionSamples
	}
	if p.USDPerBillionIngested <= 0 {
		p.USDPerBillionIngested = DefaultUSDPerBillionIngested
	}
	var errs []error
	for _, r := range file.Rules() {
		shape, from, err := shapeOf(ctx, r, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s (group %s): %w", r.Alert, r.Group, err))
			continue
		}
		m := Model{Rule: r, Interval: p.Interval, Shape: shape}
		rp := RulePlan{Group: r.Group, Alert: r.Alert, Method: "threshold", Shape: shape, From: from, Run: m.Evaluated(), Naive: m.Naive()}
		if r.Anomaly != nil {
			rp.Method = string(r.Anomaly.Detector().Method)
		}
		rp.Evaluated, rp.Skipped = m.EvaluatedShare(), m.Skipped()
		rp.SamplesPerMonth = m.PerRun().Samples * p.RunsPerMonth()
		rp.NaiveSamplesPerMonth = rp.Naive.Samples * p.RunsPerMonth()
		rp.USDPerMonth = rp.SamplesPerMonth / 1e9 * p.USDPerBillionSamples
		rp.NaiveUSDPerMonth = rp.NaiveSamplesPerMonth / 1e9 * p.USDPerBillionSamples
		rp.WrittenPerMonth = m.StateWrites() * float64(Month/time.Hour)
		rp.WrittenUSDPerMonth = rp.WrittenPerMonth / 1e9 * p.USDPerBillionIngested
		rp.Cold, rp.ColdRuns = m.Cold()
		p.Rules = append(p.Rules, rp)
	}
	return p, errors.Join(errs...)
}

// shapeOf is the series and resolution of r: the flags where given, the
// store's answer otherwise, the default resolution last.
func shapeOf(ctx context.Context, r rules.Rule, o Options) (Shape, string, error) {
	sels := selectorsOf(r.Expr)
	s := Shape{Series: o.Series * len(sels), Resolution: o.Resolution}
	from := "flags"
	if (s.Series <= 0 || s.Resolution <= 0) && o.Query != nil {
		from = "store"
		series, perHour, err := measure(ctx, o.Query, sels, lookbackOf(r), o.At)
		if err != nil {
			return Shape{}, "", err
		}
		if s.Series <= 0 {
			s.Series = series
		}
		if s.Resolution <= 0 && perHour > 0 {
			s.Resolution = time.Duration(float64(time.Hour) / perHour).Round(time.Second)
		}
	}
	if s.Resolution <= 0 {
		s.Resolution = DefaultResolution
		if from == "flags" {
			from = "default"
		}
	}
	return s, from, nil
}

func lookbackOf(r rules.Rule) time.Duration {
	return alerting.SpecOf(r).Lookback
}

// measure counts the series r's selectors read within lookback at at, and
// their mean points per hour over the hour before at.
func measure(ctx context.Context, q Querier, sels []string, lookback time.Duration, at time.Time) (int, float64, error) {
	series := 0
	var points, counted float64
	for _, sel := range sels {
		count := fmt.Sprintf("count(last_over_time(%s[%s]))", sel, config.Duration(lookback))
		got, err := q.Query(ctx, count, at)
		if err != nil {
			return 0, 0, fmt.Errorf("count its series: %w", err)
		}
		n := 0
		if len(got) == 1 && !math.IsNaN(got[0].V) {
			n = int(got[0].V)
		}
		series += n
		if n == 0 {
			continue
		}
		// One millisecond short: the hour left-open on Prometheus 2 as on
		// 3, so an hour of one-minute points counts 60, not 61.
		perHour := fmt.Sprintf("avg(count_over_time(%s[59m59s999ms]))", sel)
		got, err = q.Query(ctx, perHour, at)
		if err != nil {
			return 0, 0, fmt.Errorf("measure its resolution: %w", err)
		}
		if len(got) == 1 && got[0].V > 0 {
			points += got[0].V * float64(n)
			counted += float64(n)
		}
	}
	if counted == 0 {
		return series, 0, nil
	}
	return series, points / counted, nil
}

// selectorsOf lists the vector selectors of expr, as PromQL.
func selectorsOf(expr string) []string {
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []string{expr}
	}
	var out []string
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			c := *vs
			c.OriginalOffset, c.Timestamp, c.StartOrEnd = 0, nil, 0
			out = append(out, c.String())
		}
		return nil
	})
	if len(out) == 0 {
		return []string{expr}
	}
	return out
}

// Totals adds the rules up.
func (p Plan) Totals() RulePlan {
	t := RulePlan{Alert: "total"}
	for _, r := range p.Rules {
		t.Shape.Series += r.Shape.Series
		t.Run.Queries += r.Run.Queries
		t.Run.Samples += r.Run.Samples
		t.Naive.Queries += r.Naive.Queries
		t.Naive.Samples += r.Naive.Samples
		t.SamplesPerMonth += r.SamplesPerMonth
		t.USDPerMonth += r.USDPerMonth
		t.NaiveSamplesPerMonth += r.NaiveSamplesPerMonth
		t.NaiveUSDPerMonth += r.NaiveUSDPerMonth
		t.WrittenPerMonth += r.WrittenPerMonth
		t.WrittenUSDPerMonth += r.WrittenUSDPerMonth
	}
	return t
}

// Print writes the plan as a table with a total line and what it assumed.
func (p Plan) Print(w io.Writer) error {
	var rows strings.Builder
	fmt.Fprintf(&rows, "group\trule\tmethod\tseries\tresolution\truns evaluated\tqueries/run\tsamples/run\tsamples/month\tUSD/month\twritten/month\twrite USD/month\tnaive samples/run\tnaive USD/month\t\n")
	line := func(r RulePlan, res string) {
		evaluated := ""
		if r.Evaluated > 0 {
			evaluated = fmt.Sprintf("%.0f%%", 100*r.Evaluated)
		}
		fmt.Fprintf(&rows, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%.0f\t%.3g\t%.2f\t%.3g\t%.2f\t%.0f\t%.2f\t\n", r.Group, r.Alert, r.Method, r.Shape.Series, res, evaluated,
			r.Run.Queries, r.Run.Samples, r.SamplesPerMonth, r.USDPerMonth, r.WrittenPerMonth, r.WrittenUSDPerMonth, r.Naive.Samples, r.NaiveUSDPerMonth)
	}
	auto, window, robust := false, false, false
	for _, r := range p.Rules {
		switch r.Method {
		case string(anomaly.MethodAuto):
			auto = true
			r.Method += "*"
		case string(anomaly.MethodWindow), string(anomaly.MethodSeasonal):
			window = true
			r.Method += "†"
		case string(anomaly.MethodRobust):
			robust = true
			r.Method += "‡"
		}
		line(r, config.Duration(r.Shape.Resolution).String()+" ("+r.From+")")
	}
	line(p.Totals(), "")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if _, err := io.WriteString(tw, rows.String()); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	own := p.OwnSamplesPerRun()
	_, err := fmt.Fprintf(w, "schedule every %s (%.0f runs a month); samples are what the store's query engine reads (Prometheus's stats=all totalQueryableSamples), "+
		"priced at $%.2f per billion (Amazon Managed Service for Prometheus; -usd-per-billion-samples to change); naive: every baseline re-read in full at every run. "+
		"Each run (each part) also reads its own last runs, lease and outbox: about %.0f samples a run once a day of runs is stored ($%.2f a month), more while alerts fire. "+
		"The run's summary log line and sigmawatch_alert_query_samples give the measured figure. "+
		"Runs evaluated: an anomaly rule is evaluated only at runs where its data has a new point (one run in five over 5-minute data every minute); "+
		"samples/run is an evaluated run's, samples/month counts the other runs at their probe's read.\n",
		config.Duration(p.Interval), p.RunsPerMonth(), p.USDPerBillionSamples, own, own*p.RunsPerMonth()/1e9*p.USDPerBillionSamples)
	if err != nil {
		return err
	}
	if window {
		_, err = fmt.Fprintf(w, "† window rules read their baselines from hour summaries and checkpoints of their whole hours the function keeps in the store (issue 14): samples/run is a warm run's, "+
			"on average over an hour of runs (count, mean and σ of the baseline's two partial edge hours, the checkpoints of the last 80 minutes, the hour that closed read once, "+
			"the hour summaries read once an hour to prepare the next checkpoint); "+
			"written is one summary per series and hour and its checkpoints. Seasonal rules skip the history check when a season window lies within it. "+
			"Window rules' first runs read the full way while their hours are summarised:\n")
		if err != nil {
			return err
		}
		if err := p.printCold(w, anomaly.MethodWindow, "the full path and the hours summarised"); err != nil {
			return err
		}
	}
	if robust {
		_, err = fmt.Fprintf(w, "‡ robust rules hold their baseline (median and MAD of every point of its window) for the hour and keep it in the store (issue 14): "+
			"samples/run is a warm run's (the checkpoints, and its share of the next hour's baselines, every series' window read once an hour); "+
			"written is one checkpoint per series and hour. First runs compute the hour's baselines:\n")
		if err != nil {
			return err
		}
		if err := p.printCold(w, anomaly.MethodRobust, "every series' window"); err != nil {
			return err
		}
	}
	if !auto {
		return nil
	}
	_, err = fmt.Fprintf(w, "* auto rules are evaluated incrementally from detector states the function keeps in the store (issue 14): samples/run is a warm run's, "+
		"on average over an hour of runs (the probe, the checkpoints of the last 80 minutes, the points since the hour's checkpoint, and the hour summaries "+
		"read once an hour); written is the states written back (checkpoints and hour summaries), which the store bills as ingestion: "+
		"$%.2f per billion samples (AMP's first tier; -usd-per-billion-ingested to change). First runs, once and again after a change of the rule's settings:\n",
		p.USDPerBillionIngested)
	if err != nil {
		return err
	}
	return p.printCold(w, anomaly.MethodAuto, "the full replay")
}

// printCold prints the first runs of the rules of method.
func (p Plan) printCold(w io.Writer, method anomaly.Method, what string) error {
	for _, r := range p.Rules {
		if r.ColdRuns == 0 || r.Method != string(method) {
			continue
		}
		if _, err := fmt.Fprintf(w, "  first runs of %s/%s: %s, %.0f samples over %d run(s) ($%.4f once)\n",
			r.Group, r.Alert, what, r.Cold.Samples, r.ColdRuns, r.Cold.Samples/1e9*p.USDPerBillionSamples); err != nil {
			return err
		}
	}
	return nil
}

// What a run reads of its own bookkeeping per run stored within the day it
// looks back (alertengine): its three whole reads of the lease each read
// the expiry of every claim of the day (one sample a run) and the raw
// samples of the last alerting.LeaseRecent (four a run), and it reads the
// last persisted run (one). Measured on Prometheus, a run's samples beyond
// its rules' grow by OwnSamplesPerRecentRun per earlier run within
// LeaseRecent.
const (
	ownSamplesPerStoredRun = 3*1 + 1
	// OwnSamplesPerRecentRun is that growth per earlier run within
	// alerting.LeaseRecent.
	OwnSamplesPerRecentRun = 3*4 + 1
)

// ownLookback is how far back a run reads its own runs (alertengine's
// lateRetryWindow and minStateLookback).
const ownLookback = 24 * time.Hour

// OwnSamplesPerRun is what a run reads of its own bookkeeping once a day of
// runs is stored.
func (p Plan) OwnSamplesPerRun() float64 {
	interval := float64(max(p.Interval, time.Second))
	return ownSamplesPerStoredRun*float64(ownLookback-alerting.LeaseRecent)/interval + OwnSamplesPerRecentRun*float64(alerting.LeaseRecent)/interval
}
