// Package promql runs PromQL instant and range queries against the
// Prometheus HTTP API (Prometheus, AMP, Mimir, VictoriaMetrics) through
// client_golang's api/prometheus/v1, and returns plain Go types: no
// client_golang or common/model type appears in its API.
//
// Values are float samples; NaN and ±Inf come back as such (Prometheus sends
// them as the strings "NaN", "+Inf", "-Inf"). Native histogram samples are
// not supported by sigmawatch's rules and are skipped (logged at debug).
// Times are returned in UTC.
package promql

import (
	"github.com/sigmawatch/sigmawatch/shared/endpoint"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Sample is one element of an instant vector, or a scalar (no labels).
type Sample struct {
	Labels map[string]string
	T      time.Time
	V      float64
}

// Point is one value of a series.
type Point struct {
	T time.Time
	V float64
}

// Series is one series of a range query (or of an instant query of a range
// selector), its points in time order.
type Series struct {
	Labels map[string]string
	Points []Point
}

// queryAPI is the part of v1.API this package uses.
type queryAPI interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// Client queries one Prometheus-compatible API. Safe for concurrent use.
type Client struct {
	api    queryAPI
	host   string
	logger *slog.Logger
}

// Option configures a [Client].
type Option func(*Client) error

// WithLogger sets the logger for the server's warnings (debug level).
// Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.logger = l
		return nil
	}
}

// NewClient returns a client for the API under baseURL (for example
// http://127.0.0.1:9090 or an AMP workspace URL ending in /workspaces/ws-…),
// sending requests through rt (the promauth chain; nil means
// http.DefaultTransport).
func NewClient(baseURL string, rt http.RoundTripper, opts ...Option) (*Client, error) {
	u, err := endpoint.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("prometheus url: %w", err)
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	rt = retryTransport{rt: rt, sleep: sleepContext}
	ac, err := api.NewClient(api.Config{Address: u.String(), RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", u.Host, err)
	}
	c := &Client{api: v1.NewAPI(answerClient{Client: ac, hc: &http.Client{Transport: rt}}), host: u.Host, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("prometheus client for %s: %w", u.Host, err)
		}
	}
	c.logger = c.logger.With("component", "promql", "host", c.host)
	return c, nil
}

// Query runs an instant query at the given time (a zero time lets the server
// use its own clock — callers should pass the scheduled time). A vector
// gives one Sample per series, a scalar one Sample without labels. A range
// selector's matrix is refused: use [Client.QuerySeries].
func (c *Client) Query(ctx context.Context, query string, at time.Time) ([]Sample, error) {
	v, err := c.query(ctx, query, at)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case model.Vector:
		out := make([]Sample, 0, len(v))
		skipped := 0
		for i, s := range v {
			v[i] = nil // released as it is converted: the answer is not held twice
			if s.Histogram != nil {
				skipped++
				continue
			}
			out = append(out, Sample{Labels: labels(s.Metric), T: s.Timestamp.Time().UTC(), V: float64(s.Value)})
		}
		c.logSkipped(ctx, query, skipped)
		return out, nil
	case *model.Scalar:
		return []Sample{{Labels: map[string]string{}, T: v.Timestamp.Time().UTC(), V: float64(v.Value)}}, nil
	case model.Matrix:
		return nil, c.resultErr(query, "a range vector: use QuerySeries")
	default:
		return nil, c.resultErr(query, fmt.Sprintf("unsupported result type %s", typeName(v)))
	}
}

// QueryEach runs an instant query as Query does and gives fn its samples
// one at a time, as they are decoded, instead of a slice of them: fn's
// labels map is reused from one sample to the next (copy what is kept). A
// read of 100,000 series then never holds them decoded all at once, nor a
// copy of their label sets (each.go). A range vector is refused, as by
// Query. When it returns an error, fn may have had some of the samples.
func (c *Client) QueryEach(ctx context.Context, query string, at time.Time, fn func(labels map[string]string, t time.Time, v float64)) error {
	st := &eachState{fn: fn, labels: map[string]string{}}
	v, done, err := c.queryEach(ctx, query, at, st)
	if done {
		return err
	}
	// Not streamed (each.go): the v1 API decoded it.
	switch v := v.(type) {
	case model.Vector:
		skipped := 0
		for i, s := range v {
			v[i] = nil // released: only the part not yet read is held
			if s.Histogram != nil {
				skipped++
				continue
			}
			clear(st.labels)
			for k, val := range s.Metric {
				st.labels[string(k)] = string(val)
			}
			fn(st.labels, s.Timestamp.Time().UTC(), float64(s.Value))
		}
		c.logSkipped(ctx, query, skipped)
		return nil
	case *model.Scalar:
		fn(map[string]string{}, v.Timestamp.Time().UTC(), float64(v.Value))
		return nil
	case model.Matrix:
		return c.resultErr(query, "a range vector: use QuerySeries")
	default:
		return c.resultErr(query, fmt.Sprintf("unsupported result type %s", typeName(v)))
	}
}

// queryEach runs an instant query for QueryEach or QuerySeriesEach, its
// samples going to st as they are decoded. done: the answer was given to
// st whole, or failed (err); otherwise v is what the v1 API decoded
// instead, for the caller to give out.
func (c *Client) queryEach(ctx context.Context, query string, at time.Time, st *eachState) (v model.Value, done bool, err error) {
	v, err = c.query(context.WithValue(ctx, eachKey{}, st), query, at)
	switch {
	case st.err != nil:
		return nil, true, c.resultErr(query, "answer cut short: "+st.err.Error())
	case err != nil:
		return nil, true, err
	case st.streamed:
		c.logSkipped(ctx, query, int(st.skipped))
		return nil, true, nil
	}
	return v, false, nil
}

// QuerySeries runs an instant query whose result is a range vector (a range
// selector such as `metric[1h]`) and returns its raw points. An instant
// vector gives one point per series.
func (c *Client) QuerySeries(ctx context.Context, query string, at time.Time) ([]Series, error) {
	v, err := c.query(ctx, query, at)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case model.Matrix:
		return c.matrix(ctx, query, v), nil
	case model.Vector:
		out := make([]Series, 0, len(v))
		skipped := 0
		for _, s := range v {
			if s.Histogram != nil {
				skipped++
				continue
			}
			out = append(out, Series{Labels: labels(s.Metric), Points: []Point{{T: s.Timestamp.Time().UTC(), V: float64(s.Value)}}})
		}
		c.logSkipped(ctx, query, skipped)
		return out, nil
	default:
		return nil, c.resultErr(query, fmt.Sprintf("unsupported result type %s", typeName(v)))
	}
}

// QuerySeriesEach runs an instant query of a range vector as QuerySeries
// does and gives fn its series one at a time, as they are decoded: fn's
// labels map and points are reused from one series to the next (copy
// what is kept). A read of hour summaries of thousands of series then
// never holds them decoded all at once (each.go). An instant vector gives
// one point a series. When it returns an error, fn may have had some of
// the series.
func (c *Client) QuerySeriesEach(ctx context.Context, query string, at time.Time, fn func(labels map[string]string, points []Point)) error {
	st := &eachState{series: fn, labels: map[string]string{}}
	v, done, err := c.queryEach(ctx, query, at, st)
	if done {
		return err
	}
	// Not streamed (each.go): the v1 API decoded it.
	var series []Series
	switch v := v.(type) {
	case model.Matrix:
		series = c.matrix(ctx, query, v)
	case model.Vector:
		series = make([]Series, 0, len(v))
		skipped := 0
		for _, s := range v {
			if s.Histogram != nil {
				skipped++
				continue
			}
			series = append(series, Series{Labels: labels(s.Metric), Points: []Point{{T: s.Timestamp.Time().UTC(), V: float64(s.Value)}}})
		}
		c.logSkipped(ctx, query, skipped)
	default:
		return c.resultErr(query, fmt.Sprintf("unsupported result type %s", typeName(v)))
	}
	for i, s := range series {
		series[i] = Series{}
		fn(s.Labels, s.Points)
	}
	return nil
}

// QueryRange runs a range query from start to end (inclusive) every step.
func (c *Client) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("query %s: step must be positive (got %s)", shorten(query), step)
	}
	if end.Before(start) {
		return nil, fmt.Errorf("query %s: end %s before start %s", shorten(query), end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	ctx, opts, done := costed(ctx)
	v, warnings, infos, err := c.api.QueryRange(ctx, query, v1.Range{Start: start, End: end, Step: step}, opts...)
	done(v, err)
	c.logWarnings(ctx, query, warnings, infos)
	if err != nil {
		return nil, c.wrap(query, err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, c.resultErr(query, fmt.Sprintf("unexpected result type %s for a range query", typeName(v)))
	}
	return c.matrix(ctx, query, m), nil
}

func (c *Client) query(ctx context.Context, query string, at time.Time) (model.Value, error) {
	ctx, opts, done := costed(ctx)
	v, warnings, infos, err := c.api.Query(ctx, query, at, opts...)
	done(v, err)
	c.logWarnings(ctx, query, warnings, infos)
	if err != nil {
		return nil, c.wrap(query, err)
	}
	return v, nil
}

func (c *Client) matrix(ctx context.Context, query string, m model.Matrix) []Series {
	out := make([]Series, 0, len(m))
	skipped := 0
	for i, ss := range m {
		m[i] = nil // released as it is converted: the answer is not held twice
		skipped += len(ss.Histograms)
		if len(ss.Values) == 0 {
			continue
		}
		pts := make([]Point, len(ss.Values))
		for i, p := range ss.Values {
			pts[i] = Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)}
		}
		out = append(out, Series{Labels: labels(ss.Metric), Points: pts})
	}
	c.logSkipped(ctx, query, skipped)
	return out
}

func (c *Client) logWarnings(ctx context.Context, query string, warnings v1.Warnings, infos v1.Infos) {
	if len(warnings) > 0 {
		c.logger.DebugContext(ctx, "query warnings", "query", query, "warnings", []string(warnings))
	}
	if len(infos) > 0 {
		c.logger.DebugContext(ctx, "query infos", "query", query, "infos", []string(infos))
	}
}

func (c *Client) logSkipped(ctx context.Context, query string, n int) {
	if n > 0 {
		c.logger.DebugContext(ctx, "native histogram samples skipped", "query", query, "count", n)
	}
}

func labels(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

func typeName(v model.Value) string {
	if v == nil {
		return "none"
	}
	return v.Type().String()
}
