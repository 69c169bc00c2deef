package alertengine_test

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// requests records the metric names of each write request.
type requests struct {
	Writer alertengine.Writer
	mu     sync.Mutex
	calls  [][]string
}

func (r *requests) Write(ctx context.Context, series []remotewrite.Series) error {
	var names []string
	for _, s := range series {
		for _, l := range s.Labels {
			if l.Name == "__name__" && !slices.Contains(names, l.Value) {
				names = append(names, l.Value)
			}
		}
	}
	r.mu.Lock()
	r.calls = append(r.calls, names)
	r.mu.Unlock()
	return r.Writer.Write(ctx, series)
}

const autoRule = `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: app
    rules:
      - alert: LatencyAnomaly
        expr: sw_inc_latency
        labels: {severity: warning}
        anomaly: {baseline: 1d, min_history: 6h}
`

// TestDetectorStatesPersistedWithTheRun is item 1 of issue 14 in the
// deployed run: an auto rule's detector states go to the store in the
// request that persists the alert state, the outbox and the last-run mark
// (never in a request of their own, which could land without the run or
// the run without them); the first run starts its series cold and the
// next resume them. A run whose write the store refuses persists nothing,
// and its retry resumes from the states persisted before.
func TestDetectorStatesPersistedWithTheRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	proxy := testenv.NewFaultProxy(t, prom.URL)
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	wc, err := remotewrite.NewClient(proxy.URL+"/api/v1/write", remotewrite.WithMaxAttempts(1))
	require.NoError(t, err)
	rec := &requests{Writer: wc}
	s := newStack(t, alertengine.Options{Rules: mustLoad(t, autoRule), Deployment: "inc", Write: rec}, prom.URL, "")
	start := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	hosts := []map[string]string{{"host": "a"}, {"host": "b"}, {"host": "c"}}
	value := func(ls map[string]string, at time.Time) (float64, bool) {
		r := rand.New(rand.NewPCG(uint64(at.Unix()), uint64(len(ls["host"])+int(ls["host"][0]))))
		return 200 + 10*r.NormFloat64(), true
	}
	writePoints(t, w, "sw_inc_latency", hosts, start.Add(-30*time.Hour), start, time.Minute, value)

	tick := func(at time.Time) (alertengine.Summary, error) {
		writePoints(t, w, "sw_inc_latency", hosts, at, at, time.Minute, value)
		return s.eng.Tick(ctx, at)
	}
	sum, err := tick(start.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, alerting.Progress{Cold: 3}, sum.Detector, "the first run starts every series cold")
	require.Zero(t, sum.Insufficient)
	for i := 2; i <= 4; i++ {
		sum, err = tick(start.Add(time.Duration(i) * time.Minute))
		require.NoError(t, err)
		require.Equal(t, 3, sum.Detector.Current, "run %d resumes every series: %+v", i, sum.Detector)
		require.Zero(t, sum.Detector.Cold+sum.Detector.Behind, "run %d", i)
	}
	for i, names := range rec.calls {
		if slices.Contains(names, alerting.DetectorStateMetric) {
			require.Contains(t, names, alerting.LastRunMetric, "request %d: the states go with the run's mark: %v", i, names)
		}
	}

	// The store refuses the run at 5: nothing of it is persisted, and its
	// retry resumes from the states persisted before.
	at := start.Add(5 * time.Minute)
	writePoints(t, w, "sw_inc_latency", hosts, at, at, time.Minute, value)
	proxy.Set(&testenv.Fault{Status: 503, Body: "injected", Match: isWrite})
	_, err = s.eng.Tick(ctx, at)
	proxy.Set(nil)
	require.Error(t, err)
	sum, err = s.eng.Tick(ctx, at)
	require.NoError(t, err)
	require.Equal(t, 3, sum.Detector.Current, "the retry resumes from the run before: %+v", sum.Detector)
	require.False(t, sum.Skipped)

	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	got, err := q.Query(ctx, `count(count_over_time(`+alerting.DetectorStateMetric+`{sigmawatch_deployment="inc",alertname="LatencyAnomaly"}[1h]))`, at)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.InDelta(t, 3, got[0].V, 0, "one state series per monitored series, under the deployment")
	require.False(t, math.IsNaN(got[0].V))
}
