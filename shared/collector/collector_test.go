package collector_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/promql"
)

// countingQuerier records that progress was read.
type countingQuerier struct{ queries int }

func (q *countingQuerier) Query(context.Context, string, time.Time) ([]promql.Sample, error) {
	q.queries++
	return nil, nil
}

func (q *countingQuerier) QuerySeries(context.Context, string, time.Time) ([]promql.Series, error) {
	q.queries++
	return nil, nil
}

// TestFutureScheduledTimeRefused: a run at a T far ahead of the clock would
// store progress that holds back every later run until the clock caught up
// (one -at 24 h ahead made every request a 400 for a day). It is refused
// before anything is read or written; a T within the skew runs.
func TestFutureScheduledTimeRefused(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		at      time.Time
		wantErr string
	}{
		{"a day ahead", now.Add(24 * time.Hour), "scheduled time 2026-11-26T12:00:00Z is 24h0m0s ahead of the clock (2026-11-25T12:00:00Z): refused"},
		{"just past the skew", now.Add(collector.MaxFutureSkew + time.Second), "ahead of the clock"},
		{"within the skew", now.Add(collector.MaxFutureSkew), ""},
		{"in the past", now.Add(-time.Hour), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFleet(3, 0)
			w := &encodingWriter{}
			q := &countingQuerier{}
			cfg := fleetConfig(t)
			c, err := collector.New(collector.Options{Config: cfg, Connector: fleetConnector{api}, Writer: w, Progress: q, Now: func() time.Time { return now }})
			require.NoError(t, err)
			_, err = c.Run(context.Background(), tt.at, cfg.Jobs)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Positive(t, w.requests)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.Zero(t, w.requests, "nothing written")
			require.Zero(t, q.queries, "nothing read")
			require.Zero(t, api.dataCalls.Load()+api.listCalls.Load(), "nothing fetched")
		})
	}
}
