package alerting_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// echoQuerier answers the restore query with what a run wrote.
type echoQuerier struct{ written []remotewrite.Series }

func (e echoQuerier) Query(context.Context, string, time.Time) ([]promql.Sample, error) {
	var out []promql.Sample
	for _, s := range e.written {
		labels := map[string]string{}
		for _, l := range s.Labels {
			labels[l.Name] = l.Value
		}
		if labels["__name__"] != alerting.StateMetric {
			continue
		}
		out = append(out, promql.Sample{Labels: labels, V: s.Samples[0].V})
	}
	return out, nil
}

func (echoQuerier) QuerySeries(context.Context, string, time.Time) ([]promql.Series, error) {
	return nil, nil
}

// FuzzStateRoundTrip writes an arbitrary active state as series and
// restores it: every field comes back (times at millisecond precision,
// non-finite numbers as 0), under the same fingerprint, and the request is
// one a receiver accepts.
func FuzzStateRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, firing bool, activeMs, firedMs, sentMs, keepMs int64, value, z float64, label string) {
		ms := func(v int64) time.Time {
			if v == 0 {
				return time.Time{}
			}
			return time.UnixMilli(v % (1 << 42)).UTC() // within ±139 years of 1970
		}
		st := alerting.AlertState{State: alerting.StatePending, ActiveAt: ms(activeMs), FiredAt: ms(firedMs), LastSentAt: ms(sentMs),
			KeepFiringSince: ms(keepMs), LastValue: value, LastZ: z}
		if firing {
			st.State = alerting.StateFiring
		}
		labels := map[string]string{"instance": label}
		store := alerting.NewStore(echoQuerier{}, "fuzz")
		series := store.StateSeries(evalAt, []alerting.RuleOutcomes{{Rule: "R", Outcomes: []alerting.Outcome{{Labels: labels, Next: st}}}})
		if err := remotewrite.Validate(series); err != nil {
			// Only a label value that is not UTF-8 may be refused, and then the
			// whole request is: Write fails loudly rather than half-storing.
			require.ErrorContains(t, err, "UTF-8")
			return
		}
		got, err := alerting.NewStore(echoQuerier{series}, "fuzz").Restore(context.Background(), evalAt.Add(time.Minute), time.Hour)
		require.NoError(t, err)
		want := st
		for _, p := range []*float64{&want.LastValue, &want.LastZ} {
			if math.IsNaN(*p) || math.IsInf(*p, 0) {
				*p = 0
			}
		}
		sl := alerting.SeriesLabels(labels)
		require.Equal(t, map[alerting.RuleRef]map[string]alerting.Stored{{Alert: "R"}: {alerting.Fingerprint(sl): {Labels: sl, State: want}}}, got)
	})
}
