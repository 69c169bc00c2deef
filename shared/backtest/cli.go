package backtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/chart"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// Querier is the range query the Prometheus mode needs; *promql.Client
// implements it.
type Querier interface {
	QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]promql.Series, error)
}

var _ Querier = (*promql.Client)(nil)

// CLIOptions are the flags of
// `alert -backtest -config RULES [-rule NAME] (-csv DIR | -from RFC3339 -to RFC3339) -out DIR`.
type CLIOptions struct {
	// Config is the rules file (-config).
	Config string
	// Rule restricts the run to the rules with this alert name (-rule); empty
	// runs every rule of the file.
	Rule string
	// CSVDir (-csv) selects the CSV mode: every *.csv under it is a series.
	CSVDir string
	// From and To (-from, -to) select the Prometheus mode: ticks every
	// settings.interval in [From, To].
	From, To time.Time
	// Out (-out) is where the CSV results and PNG charts go.
	Out string
	// Querier runs the range queries of the Prometheus mode (unused in the
	// CSV mode).
	Querier Querier
}

// Validate reports every problem with the options, named as the flags.
func (o CLIOptions) Validate() error {
	var errs []error
	if o.Config == "" {
		errs = append(errs, errors.New("-config: required"))
	}
	if o.Out == "" {
		errs = append(errs, errors.New("-out: required"))
	}
	prom := !o.From.IsZero() || !o.To.IsZero()
	switch {
	case o.CSVDir != "" && prom:
		errs = append(errs, errors.New("-csv and -from/-to: give one source, not both"))
	case o.CSVDir == "" && !prom:
		errs = append(errs, errors.New("-csv DIR or -from and -to: a source is required"))
	case prom:
		if o.From.IsZero() || o.To.IsZero() {
			errs = append(errs, errors.New("-from and -to: both are required"))
		} else if !o.To.After(o.From) {
			errs = append(errs, fmt.Errorf("-to: must be after -from (got %s .. %s)", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339)))
		}
		if o.Querier == nil {
			errs = append(errs, errors.New("-from/-to: a Prometheus querier is required (SIGMAWATCH_PROMETHEUS_URL)"))
		}
	}
	return errors.Join(errs...)
}

// SeriesResult is the backtest of one rule over one series.
type SeriesResult struct {
	Rule string
	// Series names the series: the CSV file's path relative to -csv, or
	// the series' labels in the Prometheus mode.
	Series string
	// CSV and PNG are the files written.
	CSV, PNG string
	Summary
	// Events are the ticks where something happened: pending, firing,
	// repeat, resolved.
	Events []Event
	// FiringAtEnd: still firing at the last tick.
	FiringAtEnd bool
	// Threshold: a threshold rule, whose events carry no z.
	Threshold bool
}

// Event is one state change or notification of a backtest.
type Event struct {
	At    time.Time
	Kind  string // pending, firing, repeat, resolved
	Value float64
	Z     float64
	// SustainedZ is the z of the sustained average (0 when that check is
	// off), which is what fires on a lasting shift.
	SustainedZ float64
}

// RunCLI is `alert -backtest`: it loads the rules file, runs every rule (or
// the ones named by -rule) over history exactly as the deployed function
// evaluates it — same detector, same state machine, no look-ahead — and
// writes, per rule and series, a CSV (timestamp,value,anomaly_score, the
// score 1 at the ticks where the alert goes firing) and a PNG chart, then
// prints a report to stdout: when each series went pending, fired and
// resolved, the notifications it would have sent, and totals.
//
// CSV mode (-csv DIR): every *.csv under DIR (`timestamp,value`) is one
// series, one tick per row. Outputs mirror the input: `<out>/<relpath>` and
// `<out>/<relpath>.png` when one rule runs, `<out>/<rule>/<relpath>…` when
// several do. A chart is written for every series, fired or not: a quiet
// chart is the evidence that the rule would not have paged.
//
// Prometheus mode (-from, -to): an anomaly rule's expr is read with range
// queries of alerting.SeriesQuery at settings.interval over [from −
// look-back, to], where the look-back is the baseline (or the seasons) plus
// min_history, so the first tick has the history a deployed function would
// find. SeriesQuery reads every stored point once, at its own time, and
// drops NaN and ±Inf, so the series comes back at the data's resolution (a
// 5-minute metric gives a point every 5 minutes, not five copies of each),
// and there is one tick per point from from on — the tick the deployed
// function evaluates once that point is stored, whatever its schedule's
// phase (alerting.Evaluate anchors its windows at the newest point). The
// windows are durations, so 1-minute and 5-minute data mean the same
// time span. Data finer than the interval is read at the interval.
// Outputs: `<out>/<rule>/<fingerprint>.{csv,png}`.
//
// Threshold rules (no anomaly block) replay their condition: in the CSV
// mode only an expr that compares the series with a number (`x > 90`) can
// be replayed, anything else is skipped with a message; in the Prometheus
// mode ticks are every interval in [from, to] and the condition holds at a
// tick where alerting.ThresholdQuery (the deployed query, with its
// lookback_delta) returns the series, as in Prometheus.
func RunCLI(ctx context.Context, opts CLIOptions, stdout io.Writer) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	f, err := rules.LoadFile(opts.Config)
	if err != nil {
		return err
	}
	selected := selectRules(f.Rules(), opts.Rule)
	if len(selected) == 0 {
		if opts.Rule != "" {
			return fmt.Errorf("-rule %s: no such rule in %s", opts.Rule, opts.Config)
		}
		return fmt.Errorf("%s: no rules", opts.Config)
	}
	dirs := ruleDirs(selected)
	var (
		results []SeriesResult
		errs    []error
	)
	for i, r := range selected {
		if err := ctx.Err(); err != nil {
			return err
		}
		out := opts.Out
		if opts.CSVDir == "" || len(selected) > 1 {
			out = filepath.Join(opts.Out, dirs[i])
		}
		var (
			res []SeriesResult
			err error
		)
		if opts.CSVDir != "" {
			res, err = runCSVRule(ctx, r, f.Settings, opts.CSVDir, out, stdout)
		} else {
			res, err = runPromRule(ctx, opts.Querier, r, f.Settings, opts.From, opts.To, out)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", r.Alert, err))
		}
		results = append(results, res...)
	}
	if err := Report(stdout, results); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func selectRules(all []rules.Rule, name string) []rules.Rule {
	if name == "" {
		return all
	}
	var out []rules.Rule
	for _, r := range all {
		if r.Alert == name {
			out = append(out, r)
		}
	}
	return out
}

// ruleDirs names each rule's output folder: its alert name, or
// group.alert when two groups use the same alert name.
func ruleDirs(rs []rules.Rule) []string {
	count := map[string]int{}
	for _, r := range rs {
		count[r.Alert]++
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Alert
		if count[r.Alert] > 1 {
			out[i] = safeName(r.Group) + "." + r.Alert
		}
	}
	return out
}

// safeName keeps a group name usable as a folder name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// replay is one series of one rule ready to run.
type replay struct {
	name, fingerprint string
	points            []Point
	from              time.Time
}

// evaluate runs r (anomaly or threshold) over one series.
func evaluate(r rules.Rule, s rules.Settings, cmp *Comparison, rp replay) ([]Tick, Summary, Rule, error) {
	if r.Anomaly == nil {
		tm := alerting.TimingFor(r)
		if tm.RepeatInterval == 0 {
			tm.RepeatInterval = time.Duration(s.RepeatInterval)
		}
		ticks, sum := RunThreshold(rp.points, *cmp, r.Alert, rp.fingerprint, tm, rp.from)
		return ticks, sum, Rule{}, nil
	}
	br, err := RuleFromConfig(r, s)
	if err != nil {
		return nil, Summary{}, Rule{}, err
	}
	br.Fingerprint = rp.fingerprint
	ticks, sum, err := RunFrom(rp.points, br, rp.from)
	return ticks, sum, br, err
}

func runCSVRule(ctx context.Context, r rules.Rule, s rules.Settings, in, out string, stdout io.Writer) ([]SeriesResult, error) {
	var cmp *Comparison
	if r.Anomaly == nil {
		c, err := ParseComparison(r.Expr)
		if err != nil {
			// Not an error of the run: the rule cannot be replayed on a file.
			_, werr := fmt.Fprintf(stdout, "rule %s: skipped: a threshold rule can be replayed on CSV files only when its expr compares the series with a number (%v)\n", r.Alert, err)
			return nil, werr
		}
		cmp = &c
	} else if _, err := RuleFromConfig(r, s); err != nil {
		return nil, err
	}
	rels, err := csvFiles(in)
	if err != nil {
		return nil, err
	}
	var (
		results []SeriesResult
		errs    []error
	)
	for _, rel := range rels {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res, err := runCSVFile(r, s, cmp, in, out, rel)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		results = append(results, res)
	}
	return results, errors.Join(errs...)
}

// csvFiles is listCSV for the CLI, where a folder without CSVs is a mistake.
func csvFiles(in string) ([]string, error) {
	rels, err := listCSV(in)
	if err != nil {
		return nil, err
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("%s: no .csv files", in)
	}
	return rels, nil
}

func runCSVFile(r rules.Rule, s rules.Settings, cmp *Comparison, in, out, rel string) (SeriesResult, error) {
	name := filepath.ToSlash(rel)
	f, err := os.Open(filepath.Join(in, rel))
	if err != nil {
		return SeriesResult{}, fmt.Errorf("%s: %w", name, err)
	}
	recs, err := ReadCSV(f)
	_ = f.Close() // read-only: a close error cannot lose data
	if err != nil {
		return SeriesResult{}, fmt.Errorf("%s: %w", name, err)
	}
	rp := replay{name: name, fingerprint: name, points: Points(recs)}
	return finish(r, s, cmp, rp, recs, filepath.Join(out, rel))
}

// finish evaluates one series and writes its CSV and PNG at base (the CSV)
// and base+".png".
func finish(r rules.Rule, s rules.Settings, cmp *Comparison, rp replay, recs []Record, base string) (SeriesResult, error) {
	ticks, sum, br, err := evaluate(r, s, cmp, rp)
	if err != nil {
		return SeriesResult{}, fmt.Errorf("%s: %w", rp.name, err)
	}
	return write(r, cmp, rp.name, ticks, sum, br, recs, base)
}

// write writes one evaluated series' CSV and PNG at base (the CSV) and
// base+".png".
func write(r rules.Rule, cmp *Comparison, name string, ticks []Tick, sum Summary, br Rule, recs []Record, base string) (SeriesResult, error) {
	res := SeriesResult{Rule: r.Alert, Series: name, Summary: sum, Events: events(ticks), Threshold: r.Anomaly == nil}
	res.FiringAtEnd = len(ticks) > 0 && ticks[len(ticks)-1].State == alerting.StateFiring
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	// Warm-up records (Prometheus mode) are history, not ticks: not written.
	if err := writeFile(base, func(w io.Writer) error { return WriteCSV(w, recs[len(recs)-len(ticks):], ticks) }); err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	res.CSV = base
	c := Chart(r.Alert+" — "+name, recs, ticks, br, cmp)
	if len(c.Points) == 0 {
		return res, nil
	}
	if err := writeFile(base+".png", func(w io.Writer) error { return chart.Render(w, c) }); err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	res.PNG = base + ".png"
	return res, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	w, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// Chart is the picture of one backtested series: the records' values, the
// band centre ± threshold × spread of every tick that had a baseline, the
// ticks over the fire threshold (or whose sustained average is over its
// own threshold), and the firing intervals. For a threshold
// rule (cmp set) the band is the threshold line.
func Chart(title string, recs []Record, ticks []Tick, r Rule, cmp *Comparison) chart.Chart {
	c := chart.Chart{Title: title}
	if cmp != nil {
		c.BandLabel = "threshold " + cmp.Op + " " + strconv.FormatFloat(cmp.Value, 'g', -1, 64)
	}
	// The ticks are the last len(ticks) records: earlier ones were warm-up.
	recs = recs[len(recs)-len(ticks):]
	var firingSince time.Time
	for i, t := range ticks {
		v := recs[i].Point.Value
		c.Points = append(c.Points, chart.Point{T: t.Time, V: v})
		band := chart.BandPoint{T: t.Time, Center: nan, Lower: nan, Upper: nan}
		switch {
		case cmp != nil:
			if cmp.Op != OpPresent {
				band = chart.BandPoint{T: t.Time, Center: cmp.Value, Lower: cmp.Value, Upper: cmp.Value}
			}
			if cmp.Holds(v) {
				c.Anomalous = append(c.Anomalous, chart.Point{T: t.Time, V: v})
			}
		case t.Result.OK():
			w := r.Params.Threshold * t.Result.Spread
			band = chart.BandPoint{T: t.Time, Center: t.Result.Center, Lower: t.Result.Center - w, Upper: t.Result.Center + w}
			if r.Params.Anomalous(t.Result.Z, false) || r.Params.SustainedAnomalous(t.SustainedZ, false) {
				c.Anomalous = append(c.Anomalous, chart.Point{T: t.Time, V: v})
			}
		}
		c.Band = append(c.Band, band)
		switch t.Notification.Kind {
		case alerting.KindFiring:
			firingSince = t.Time
		case alerting.KindResolved:
			c.Firing = append(c.Firing, chart.Interval{Start: firingSince, End: t.Time})
			firingSince = time.Time{}
		}
	}
	if !firingSince.IsZero() {
		c.Firing = append(c.Firing, chart.Interval{Start: firingSince, End: ticks[len(ticks)-1].Time})
	}
	return c
}

func events(ticks []Tick) []Event {
	var out []Event
	prev := alerting.StateInactive
	for _, t := range ticks {
		ev := Event{At: t.Time, Value: t.Result.Value, Z: t.Result.Z, SustainedZ: t.SustainedZ}
		if t.State == alerting.StatePending && prev != alerting.StatePending {
			ev.Kind = "pending"
			out = append(out, ev)
		}
		if t.Notification.Kind != alerting.KindNone {
			ev.Kind = string(t.Notification.Kind)
			out = append(out, ev)
		}
		prev = t.State
	}
	return out
}

// maxQueryPoints keeps each range query under Prometheus's limit of 11,000
// points per series.
const maxQueryPoints = 10_000

// Replayed is one series of a rule replayed over Prometheus history.
type Replayed struct {
	Labels      map[string]string
	Fingerprint string
	// Points are the series' points from the look-back on (an anomaly rule)
	// or the tick grid (a threshold rule); Ticks the ticks at or after from.
	Points  []Point
	Ticks   []Tick
	Summary Summary
	// Rule is the anomaly rule replayed (zero for a threshold rule).
	Rule Rule
}

// ReplayPrometheus is the Prometheus mode of RunCLI without the files: r replayed
// over [from, to] against q, one result per series (in fingerprint order).
// See RunCLI for how the series are read.
func ReplayPrometheus(ctx context.Context, q Querier, r rules.Rule, s rules.Settings, from, to time.Time) ([]Replayed, error) {
	step := time.Duration(s.Interval)
	var (
		lookBack time.Duration
		query    string
		err      error
		cmp      *Comparison
	)
	if r.Anomaly != nil {
		br, err := RuleFromConfig(r, s)
		if err != nil {
			return nil, err
		}
		lookBack = br.lookBack()
		// Each stored point once, at its own time (the data's resolution),
		// finite only: what the deployed evaluation's windows read.
		query, err = alerting.SeriesQuery(r.Expr, step)
		if err != nil {
			return nil, err
		}
	} else {
		// What the deployed function asks at every tick; Prometheus applies
		// the condition, so a returned series holds.
		query, err = alerting.ThresholdQuery(r.Expr, alerting.SpecOf(r).Lookback)
		if err != nil {
			return nil, err
		}
		cmp = &Comparison{Op: OpPresent, Value: nan}
	}
	// Whole steps from the epoch, so the query's grid lands on the steps of
	// the deployed evaluation's subqueries (Prometheus aligns those to
	// multiples of the step).
	start := from.Add(-lookBack).Truncate(step)
	if cmp != nil {
		start = from // ticks every interval from -from, as the schedule runs
	}
	series, err := queryChunked(ctx, q, query, start, to, step)
	if err != nil {
		return nil, err
	}
	var (
		out  []Replayed
		errs []error
	)
	for _, fp := range slices.Sorted(maps.Keys(series)) {
		sr := series[fp]
		rp := Replayed{Labels: sr.labels, Fingerprint: fp}
		if cmp != nil {
			rp.Points = grid(sr.points, from, to, step)
		} else {
			rp.Points = points(sr.points)
		}
		rp.Ticks, rp.Summary, rp.Rule, err = evaluate(r, s, cmp, replay{name: labelString(sr.labels), fingerprint: fp, points: rp.Points, from: from})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", labelString(sr.labels), err))
			continue
		}
		out = append(out, rp)
	}
	return out, errors.Join(errs...)
}

func runPromRule(ctx context.Context, q Querier, r rules.Rule, s rules.Settings, from, to time.Time, out string) ([]SeriesResult, error) {
	replayed, err := ReplayPrometheus(ctx, q, r, s, from, to)
	var (
		results []SeriesResult
		errs    = []error{err}
		cmp     *Comparison
	)
	if r.Anomaly == nil {
		cmp = &Comparison{Op: OpPresent, Value: nan}
	}
	for _, rp := range replayed {
		recs := make([]Record, len(rp.Points))
		for i, p := range rp.Points {
			recs[i] = Record{Point: p, Timestamp: p.Time.UTC().Format(time.RFC3339), Value: strconv.FormatFloat(p.Value, 'g', -1, 64)}
			if !finite(p.Value) {
				recs[i].Value = ""
			}
		}
		res, err := write(r, cmp, labelString(rp.Labels), rp.Ticks, rp.Summary, rp.Rule, recs, filepath.Join(out, rp.Fingerprint+".csv"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		results = append(results, res)
	}
	return results, errors.Join(errs...)
}

type fetched struct {
	labels map[string]string
	points map[int64]float64 // unix ms → value
}

// queryChunked runs the range query in pieces of at most maxQueryPoints
// steps and merges the pieces per series.
func queryChunked(ctx context.Context, q Querier, expr string, start, end time.Time, step time.Duration) (map[string]*fetched, error) {
	out := map[string]*fetched{}
	span := time.Duration(maxQueryPoints-1) * step
	for s := start; !s.After(end); s = s.Add(span + step) {
		e := s.Add(span)
		if e.After(end) {
			e = end
		}
		res, err := q.QueryRange(ctx, expr, s, e, step)
		if err != nil {
			return nil, fmt.Errorf("query range %q [%s, %s]: %w", expr, s.Format(time.RFC3339), e.Format(time.RFC3339), err)
		}
		for _, sr := range res {
			labels := alerting.SeriesLabels(sr.Labels)
			fp := alerting.Fingerprint(labels)
			f := out[fp]
			if f == nil {
				f = &fetched{labels: labels, points: map[int64]float64{}}
				out[fp] = f
			}
			for _, p := range sr.Points {
				f.points[p.T.UnixMilli()] = p.V
			}
		}
	}
	return out, nil
}

// grid lays a threshold rule's series on the tick grid: a point per step
// from from to to, NaN (the condition does not hold) where the query
// returned nothing.
func grid(pts map[int64]float64, from, to time.Time, step time.Duration) []Point {
	var out []Point
	for t := from; !t.After(to); t = t.Add(step) {
		v, ok := pts[t.UnixMilli()]
		if !ok {
			v = nan
		}
		out = append(out, Point{Time: t, Value: v})
	}
	return out
}

// points is an anomaly rule's series as stored: its points in time order,
// one tick each, at the data's own resolution.
func points(pts map[int64]float64) []Point {
	out := make([]Point, 0, len(pts))
	for _, ms := range slices.Sorted(maps.Keys(pts)) {
		out = append(out, Point{Time: time.UnixMilli(ms).UTC(), Value: pts[ms]})
	}
	return out
}

func labelString(labels map[string]string) string {
	if len(labels) == 0 {
		return "{}"
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Report prints what the backtest would have done: per rule and series the
// pending, firing, repeat and resolved ticks, the notifications and the
// totals.
func Report(w io.Writer, results []SeriesResult) error {
	var b strings.Builder
	var total Summary
	rulesSeen := map[string]bool{}
	firedSeries := 0
	for _, r := range results {
		rulesSeen[r.Rule] = true
		total.Ticks += r.Ticks
		total.Insufficient += r.Insufficient
		total.Missing += r.Missing
		total.Pendings += r.Pendings
		total.Firings += r.Firings
		total.Resolves += r.Resolves
		total.Repeats += r.Repeats
		total.Notifications += r.Notifications
		if r.Firings > 0 {
			firedSeries++
		}
		fmt.Fprintf(&b, "%s %s: %d ticks (%d insufficient data, %d missing), %d pending, %d firing, %d repeat, %d resolved: %d notifications\n",
			r.Rule, r.Series, r.Ticks, r.Insufficient, r.Missing, r.Pendings, r.Firings, r.Repeats, r.Resolves, r.Notifications)
		for _, e := range r.Events {
			fmt.Fprintf(&b, "  %s  %-8s value=%s", e.At.UTC().Format(time.RFC3339), e.Kind, strconv.FormatFloat(e.Value, 'g', 6, 64))
			if !r.Threshold {
				fmt.Fprintf(&b, " z=%s", strconv.FormatFloat(e.Z, 'f', 2, 64))
			}
			if e.SustainedZ != 0 {
				fmt.Fprintf(&b, " sustained_z=%s", strconv.FormatFloat(e.SustainedZ, 'f', 2, 64))
			}
			b.WriteByte('\n')
		}
		if r.FiringAtEnd {
			b.WriteString("  still firing at the last tick\n")
		}
		if r.PNG != "" {
			fmt.Fprintf(&b, "  chart: %s\n", r.PNG)
		}
	}
	fmt.Fprintf(&b, "total: %d rules, %d series (%d fired), %d ticks, %d pending, %d firing, %d repeat, %d resolved: %d notifications\n",
		len(rulesSeen), len(results), firedSeries, total.Ticks, total.Pendings, total.Firings, total.Repeats, total.Resolves, total.Notifications)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

var nan = math.NaN()
