package backtest

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
)

// Comparison is the condition of a threshold rule whose expr compares
// something with a number (`cpu > 90`, `0.5 >= ratio`), normalised so the
// series is on the left.
type Comparison struct {
	// Op is one of > >= < <= == !=, or OpPresent.
	Op    string
	Value float64
}

// OpPresent is the condition of a threshold rule read from Prometheus,
// which applies the comparison itself: the condition holds wherever the
// query returns the series, and a step without it does not hold (it is not
// missing data), as in Prometheus.
const OpPresent = "present"

// ParseComparison reads the top-level comparison of a threshold rule's expr.
// A CSV file holds the series itself, so only a comparison of the series
// with a literal number can be replayed on it; anything else (a comparison
// of two series, `bool`, a plain selector) is an error.
func ParseComparison(expr string) (Comparison, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return Comparison{}, fmt.Errorf("parse %q: %w", expr, err)
	}
	e = unparen(e)
	b, ok := e.(*parser.BinaryExpr)
	if !ok || !b.Op.IsComparisonOperator() || b.ReturnBool {
		return Comparison{}, fmt.Errorf("expr %q: %w", expr, errNotComparison)
	}
	if n, ok := unparen(b.RHS).(*parser.NumberLiteral); ok {
		return Comparison{Op: b.Op.String(), Value: n.Val}, nil
	}
	if n, ok := unparen(b.LHS).(*parser.NumberLiteral); ok {
		// 90 < cpu is cpu > 90.
		flip := map[string]string{">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}
		return Comparison{Op: flip[b.Op.String()], Value: n.Val}, nil
	}
	return Comparison{}, fmt.Errorf("expr %q: %w", expr, errNotComparison)
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// Holds reports whether v satisfies the comparison; NaN never does.
func (c Comparison) Holds(v float64) bool {
	switch c.Op {
	case ">":
		return v > c.Value
	case ">=":
		return v >= c.Value
	case "<":
		return v < c.Value
	case "<=":
		return v <= c.Value
	case "==":
		return v == c.Value
	case "!=":
		return !math.IsNaN(v) && v != c.Value
	case OpPresent:
		return finite(v)
	}
	return false
}

// RunThreshold replays a threshold rule over points, one tick per point at
// or after from, through the same state machine as anomaly rules: the
// condition holds where the value satisfies c; a non-finite value is
// missing data.
func RunThreshold(points []Point, c Comparison, name, fingerprint string, tm alerting.Timing, from time.Time) ([]Tick, Summary) {
	key := alerting.Key{Rule: name, Fingerprint: fingerprint}
	var (
		st    alerting.AlertState
		sum   Summary
		ticks = make([]Tick, 0, len(points))
	)
	for _, p := range points {
		if p.Time.Before(from) {
			continue
		}
		t := Tick{Time: p.Time, Result: anomaly.Result{Status: anomaly.StatusOK, Value: p.Value, Center: c.Value}}
		obs := alerting.Observation{Value: p.Value}
		if finite(p.Value) || c.Op == OpPresent {
			obs.Holds = c.Holds(p.Value)
		} else {
			t.Missing = true
			t.Result.Status = anomaly.StatusInsufficientData
			obs.Missing = true
		}
		prev := st.State
		st, t.Notification = alerting.Step(key, st, obs, p.Time, tm)
		t.State = st.State
		t.Fired = t.Notification.Kind == alerting.KindFiring
		sum.add(t, prev)
		ticks = append(ticks, t)
	}
	return ticks, sum
}
