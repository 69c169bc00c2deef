package alerting

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/detector"
	"github.com/sigmawatch/sigmawatch/shared/promql"
)

// evaluateAuto evaluates an anomaly rule of method auto at ev.DataAt: the
// online detector (package detector) replayed over each series' stored
// points within its History before DataAt, the decision that of the
// series' newest point. It reads the points the backtest's Prometheus mode
// reads (SeriesQuery at step: each stored sample once, finite only, on the
// step grid) and builds its detector with the same detector.FromParams, so
// a deployed decision is the backtest's tick at that point, exactly, for a
// series whose stored history fits in History.
//
// This replays History (five weeks) of points at every tick: O(series ×
// points in five weeks), a few seconds of CPU per thousand 5-minute
// series. The deployed function evaluates incrementally instead
// (Evaluator with a Store, incremental.go); this full replay is what it is
// proven equal to, and what -dry-run runs (its writes cannot be read back).
func (e *evaluator) auto(ctx context.Context, b builder, p anomaly.Params, lookback time.Duration) {
	d, err := detector.New(detector.FromParams(p))
	if err != nil {
		e.err = fmt.Errorf("anomaly: %w", err)
		return
	}
	history := d.Config().History()
	query := b.rangeOf(history, 0, b.step)
	e.ev.Queries = append(e.ev.Queries, query)
	series, err := e.q.QuerySeries(ctx, query, e.at)
	if err != nil {
		e.err = fmt.Errorf("query %q: %w", query, err)
		return
	}
	seen := map[string]bool{}
	for _, s := range series {
		labels := SeriesLabels(s.Labels)
		fp := Fingerprint(labels)
		if seen[fp] || len(s.Points) == 0 {
			continue
		}
		seen[fp] = true
		pts := slices.Clone(s.Points)
		slices.SortFunc(pts, func(a, b promql.Point) int { return a.T.Compare(b.T) })
		var (
			st  detector.State
			dec detector.Decision
		)
		for _, pt := range pts {
			dec = d.Observe(&st, detector.Point{Time: pt.T, Value: pt.V})
		}
		o := Observed{Labels: labels, Fingerprint: fp, Result: dec.Result}
		newest := pts[len(pts)-1].T
		if dec.Missing || dec.Excluded || !newest.After(e.at.Add(-lookback)) {
			o.Missing = true
			o.Result = anomaly.Result{Status: anomaly.StatusInsufficientData, Value: dec.Value}
		} else {
			o.Auto = &dec
		}
		e.ev.Series = append(e.ev.Series, o)
	}
}
