package promql

import (
	"bytes"
	"context"
	"encoding/json"
	"sync/atomic"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Cost counts what the queries of a context read from the store: the
// figure a store bills queries by (Amazon Managed Service for Prometheus
// charges per billion "query samples processed", its
// stats.samples.totalQueryableSamples).
//
// A query made with a context that carries a Cost ([WithCost]) asks the
// store for its query statistics (stats=all, which Prometheus, AMP, Mimir
// and Cortex answer with the samples the query processed). client_golang's
// v1 API sends the parameter but drops the statistics when it decodes the
// answer, so the client reads them from the answer's body on the way in
// (the transport already holds it whole). A store that does not report
// them (VictoriaMetrics reports series fetched, not samples) is counted by
// the points its answer returned: a lower bound, as an aggregation over a
// range returns one point for all it read. [CostSnapshot.Unreported] says
// how many queries were counted that way.
//
// Safe for concurrent use.
type Cost struct {
	queries, samples, unreported, returned atomic.Int64
}

// CostSnapshot is a Cost's counts at one moment.
type CostSnapshot struct {
	// Queries made.
	Queries int64
	// Samples: what the store reported the queries processed, plus, for
	// the queries it did not report on (Unreported), the points returned.
	Samples int64
	// Unreported queries got no statistics from the store; Returned is
	// the points their answers held, counted in Samples instead.
	Unreported int64
	Returned   int64
}

// Estimated reports whether Samples is in part a lower bound (a query
// without the store's statistics).
func (s CostSnapshot) Estimated() bool { return s.Unreported > 0 }

// Snapshot returns the counts so far.
func (c *Cost) Snapshot() CostSnapshot {
	return CostSnapshot{Queries: c.queries.Load(), Samples: c.samples.Load(), Unreported: c.unreported.Load(), Returned: c.returned.Load()}
}

type costsKey struct{}

// WithCost returns ctx whose queries are counted in c, and in every Cost
// ctx already carries: a run's total and a rule's share count the same
// queries.
func WithCost(ctx context.Context, c *Cost) context.Context {
	parent, _ := ctx.Value(costsKey{}).([]*Cost)
	costs := make([]*Cost, 0, len(parent)+1)
	costs = append(append(costs, parent...), c)
	return context.WithValue(ctx, costsKey{}, costs)
}

func costsOf(ctx context.Context) []*Cost {
	costs, _ := ctx.Value(costsKey{}).([]*Cost)
	return costs
}

// queryStats is where the transport leaves one answer's statistics.
type queryStats struct {
	samples  int64
	reported bool
}

type statsKey struct{}

// costed prepares a query made with ctx: when ctx carries a Cost, the
// query asks for statistics and the returned done records them (or, when
// the store gave none, the points of v) in every Cost of ctx. A query that
// failed counts as a query: what a refused query read is not known.
func costed(ctx context.Context) (context.Context, []v1.Option, func(v model.Value, err error)) {
	costs := costsOf(ctx)
	if len(costs) == 0 {
		return ctx, nil, func(model.Value, error) {}
	}
	st := &queryStats{}
	ctx = context.WithValue(ctx, statsKey{}, st)
	return ctx, []v1.Option{v1.WithStats(v1.AllStatsValue)}, func(v model.Value, err error) {
		if err != nil {
			for _, c := range costs {
				c.queries.Add(1)
			}
			return
		}
		n, returned := st.samples, int64(0)
		if !st.reported {
			returned = points(v)
			if each := eachOf(ctx); each != nil {
				returned += each.n // the samples QueryEach was given as they were decoded
			}
			n = returned
		}
		for _, c := range costs {
			c.queries.Add(1)
			c.samples.Add(n)
			if !st.reported {
				c.unreported.Add(1)
				c.returned.Add(returned)
			}
		}
	}
}

// recordStats reads the statistics of a query's answer body for the query
// of ctx, if it asked for them.
func recordStats(ctx context.Context, body []byte) {
	st, ok := ctx.Value(statsKey{}).(*queryStats)
	if !ok {
		return
	}
	st.samples, st.reported = answerSamples(body)
}

// answerSamples is stats.samples.totalQueryableSamples of a query's JSON
// answer. Prometheus writes "stats" last in "data", after the result, so
// the last "stats" key of the body is it; anything after it (warnings,
// infos) is a string array, whose quotes are escaped. A body whose last
// "stats" is not that object (a store without statistics, whose series may
// still carry a label named stats) reports nothing.
func answerSamples(body []byte) (int64, bool) {
	i := bytes.LastIndex(body, []byte(`"stats"`))
	if i < 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(body[i+len(`"stats"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return 0, false
	}
	var stats struct {
		Samples *struct {
			Total *int64 `json:"totalQueryableSamples"`
		} `json:"samples"`
	}
	if err := json.NewDecoder(bytes.NewReader(rest[1:])).Decode(&stats); err != nil || stats.Samples == nil || stats.Samples.Total == nil {
		return 0, false
	}
	return *stats.Samples.Total, true
}

// points counts the values of an answer.
func points(v model.Value) int64 {
	switch v := v.(type) {
	case model.Vector:
		return int64(len(v))
	case *model.Scalar:
		return 1
	case model.Matrix:
		var n int64
		for _, s := range v {
			n += int64(len(s.Values) + len(s.Histograms))
		}
		return n
	default:
		return 0
	}
}
