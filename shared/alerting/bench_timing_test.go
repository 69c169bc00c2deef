package alerting_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/promql"
)

// timedQuerier logs each query's wall time (ALERT_BENCH_QUERIES names the
// file appendLog writes it to): where an evaluation spends its time,
// query by query.
type timedQuerier struct {
	q   alerting.Querier
	mu  sync.Mutex
	log []string
}

func (t *timedQuerier) note(query string, d time.Duration, n int) {
	if os.Getenv("ALERT_BENCH_QUERIES") == "" {
		return
	}
	if len(query) > 140 {
		query = query[:140] + "…"
	}
	t.mu.Lock()
	t.log = append(t.log, fmt.Sprintf("%8s %8d %s", d.Round(time.Millisecond), n, query))
	t.mu.Unlock()
}

func (t *timedQuerier) Query(ctx context.Context, query string, at time.Time) ([]promql.Sample, error) {
	t0 := time.Now()
	s, err := t.q.Query(ctx, query, at)
	t.note(query, time.Since(t0), len(s))
	return s, err
}

// QueryEach passes the client's sample by sample read through (the
// evaluation reads with it when the querier has it).
func (t *timedQuerier) QueryEach(ctx context.Context, query string, at time.Time, fn func(labels map[string]string, t time.Time, v float64)) error {
	t0 := time.Now()
	n := 0
	count := func(labels map[string]string, at time.Time, v float64) {
		n++
		fn(labels, at, v)
	}
	var err error
	if r, ok := t.q.(interface {
		QueryEach(context.Context, string, time.Time, func(map[string]string, time.Time, float64)) error
	}); ok {
		err = r.QueryEach(ctx, query, at, count)
	} else {
		var samples []promql.Sample
		samples, err = t.q.Query(ctx, query, at)
		for _, s := range samples {
			count(s.Labels, s.T, s.V)
		}
	}
	t.note(query, time.Since(t0), n)
	return err
}

// QuerySeriesEach passes the client's series by series read through.
func (t *timedQuerier) QuerySeriesEach(ctx context.Context, query string, at time.Time, fn func(labels map[string]string, points []promql.Point)) error {
	t0 := time.Now()
	n := 0
	count := func(labels map[string]string, points []promql.Point) {
		n += len(points)
		fn(labels, points)
	}
	var err error
	if r, ok := t.q.(interface {
		QuerySeriesEach(context.Context, string, time.Time, func(map[string]string, []promql.Point)) error
	}); ok {
		err = r.QuerySeriesEach(ctx, query, at, count)
	} else {
		var series []promql.Series
		series, err = t.q.QuerySeries(ctx, query, at)
		for _, s := range series {
			count(s.Labels, s.Points)
		}
	}
	t.note(query, time.Since(t0), n)
	return err
}

func (t *timedQuerier) QuerySeries(ctx context.Context, query string, at time.Time) ([]promql.Series, error) {
	t0 := time.Now()
	s, err := t.q.QuerySeries(ctx, query, at)
	n := 0
	for _, x := range s {
		n += len(x.Points)
	}
	t.note(query, time.Since(t0), n)
	return s, err
}

func (t *timedQuerier) flush() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := strings.Join(t.log, "\n")
	t.log = nil
	return out
}

// appendLog appends text to the file ALERT_BENCH_QUERIES names (a
// benchmark's own log is cut after a few lines).
func appendLog(b *testing.B, text string) {
	f, err := os.OpenFile(os.Getenv("ALERT_BENCH_QUERIES"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		b.Fatal(err)
	}
}
