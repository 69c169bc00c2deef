package alertengine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// scriptedQuerier answers the store's own queries with nothing, the
// probe's query with one series, and fails on "broken".
type scriptedQuerier struct{}

func (scriptedQuerier) Query(_ context.Context, q string, _ time.Time) ([]promql.Sample, error) {
	switch {
	case strings.Contains(q, "broken"):
		return nil, errors.New("execution: boom")
	case strings.Contains(q, "good"):
		return []promql.Sample{{Labels: map[string]string{"job": "x"}, V: 3}}, nil
	}
	return nil, nil
}

func (scriptedQuerier) QuerySeries(context.Context, string, time.Time) ([]promql.Series, error) {
	return nil, nil
}

type memWriter struct{ writes [][]remotewrite.Series }

func (m *memWriter) Write(_ context.Context, s []remotewrite.Series) error {
	if err := remotewrite.Validate(s); err != nil {
		return err
	}
	m.writes = append(m.writes, s)
	return nil
}

type flakyPublisher struct {
	err  error
	sent []notify.Message
}

func (f *flakyPublisher) Publish(_ context.Context, m notify.Message) error {
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, m)
	return nil
}

const twoRules = `
groups:
  - name: g
    rules:
      - alert: Broken
        expr: broken > 1
      - alert: Good
        expr: good > 1
        labels: {severity: page}
`

func TestTickFailures(t *testing.T) {
	t.Parallel()
	file, err := rules.Load([]byte(twoRules))
	require.NoError(t, err)
	at := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		publishErr error
		wantSent   int
		wantWrites int
		wantErr    []string
		wantErrors int
	}{
		{
			name:     "a failing rule does not stop the others",
			wantSent: 1, wantWrites: 2, wantErrors: 1, // state and outbox, then the sent mark
			wantErr: []string{"rule Broken", "boom"},
		},
		{
			name:       "a failed publish leaves the state and the outbox, and no sent mark, for the retry",
			publishErr: errors.New("sns down"),
			wantSent:   0, wantWrites: 1, wantErrors: 2,
			wantErr: []string{"sns down", "rule Broken"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, p := &memWriter{}, &flakyPublisher{err: tc.publishErr}
			eng, err := alertengine.New(alertengine.Options{Rules: file, Query: scriptedQuerier{}, Write: w, Publish: p, NoLease: true})
			require.NoError(t, err)
			sum, err := eng.Tick(context.Background(), at)
			for _, want := range tc.wantErr {
				require.ErrorContains(t, err, want)
			}
			require.Len(t, p.sent, tc.wantSent)
			require.Len(t, w.writes, tc.wantWrites, "write requests")
			require.Equal(t, tc.wantErrors, sum.Errors)
			require.Equal(t, 2, sum.Rules)
			require.Equal(t, 1, sum.Firing)
			if tc.wantSent > 0 {
				require.Equal(t, "Good", p.sent[0].Rule)
				require.Equal(t, "page", p.sent[0].Severity)
			}
		})
	}
}

func TestNewNeedsItsParts(t *testing.T) {
	t.Parallel()
	file, err := rules.Load([]byte(twoRules))
	require.NoError(t, err)
	_, err = alertengine.New(alertengine.Options{Rules: file})
	for _, want := range []string{"SIGMAWATCH_PROMETHEUS_URL", "Options.Write", "Options.Publish"} {
		require.ErrorContains(t, err, want)
	}
}
