package alertengine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// writeRequest decodes a remote-write request's body and puts it back for
// the proxy to forward; ok is false for anything else.
func writeRequest(r *http.Request) (*prompb.WriteRequest, bool) {
	if !isWrite(r) {
		return nil, false
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return nil, false
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, false
	}
	var req prompb.WriteRequest
	if req.Unmarshal(raw) != nil {
		return nil, false
	}
	return &req, true
}

func samplesOf(req *prompb.WriteRequest) int {
	n := 0
	for _, ts := range req.Timeseries {
		n += len(ts.Samples)
	}
	return n
}

func holds(req *prompb.WriteRequest, metric string) bool {
	for _, ts := range req.Timeseries {
		for _, l := range ts.Labels {
			if l.Name == "__name__" && l.Value == metric {
				return true
			}
		}
	}
	return false
}

// TestRecordsWithinTheStoresRequestLimit (issue 14, 100,000 series per
// rule): a run of an auto rule writes records for every series (its
// detector state, hour summaries, z-score), which at 100,000 series is
// more samples than AMP takes in one request (its ingestion burst size,
// 1,000,000 by default; beyond it every attempt is refused with a 429).
// The store here, a real Prometheus behind a proxy, refuses any request
// of more than 600 samples, and the engine is told so (MaxWriteSamples);
// 24 series start cold, their records about 8,500 samples. The store
// also refuses the second request of the run's records, at the run at
// which an alert fires. The alert is paged once (its state and outbox
// went in the first request, with the records that fit), the run fails visibly and goes
// on with the other requests, its retry sends and writes nothing, and the
// next run starts again only the series whose states were refused,
// decides every series and stores every record. Failed before: the run's
// one request of 8,500 samples was refused (429), so nothing was paged
// (and at every later run the same).
func TestRecordsWithinTheStoresRequestLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	proxy := testenv.NewFaultProxy(t, prom.URL)
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	wc, err := remotewrite.NewClient(proxy.URL+"/api/v1/write", remotewrite.WithMaxAttempts(2), remotewrite.WithBackoff(10*time.Millisecond, 20*time.Millisecond))
	require.NoError(t, err)

	const limit = 600
	var (
		mu            sync.Mutex
		largest       int
		refuseRecords = 2 // the how-manieth request of records to refuse; 0: none
		recordReqs    int
	)
	proxy.Set(&testenv.Fault{Status: http.StatusTooManyRequests, Body: "injected: ingestion burst size exceeded", Match: func(r *http.Request) bool {
		req, ok := writeRequest(r)
		if !ok {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		n := samplesOf(req)
		largest = max(largest, n)
		if n > limit {
			return true
		}
		if holds(req, alerting.DetectorStateMetric) || holds(req, alerting.DetectorHoursMetric) || holds(req, alerting.ZScoreMetric) {
			recordReqs++
			// Both attempts of the client (WithMaxAttempts(2)).
			return refuseRecords > 0 && (recordReqs == refuseRecords || recordReqs == refuseRecords+1)
		}
		return false
	}})

	s := newStack(t, alertengine.Options{Rules: mustLoad(t, `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: app
    rules:
      - alert: LatencyAnomaly
        expr: sw_rec_latency
        labels: {severity: warning}
        anomaly: {baseline: 1d, min_history: 6h}
      - alert: QueueDeep
        expr: sw_rec_queue > 100
        labels: {severity: critical}
`), Deployment: "records", Write: wc, MaxWriteSamples: limit}, prom.URL, "")
	var hosts []map[string]string
	for i := range 24 {
		hosts = append(hosts, map[string]string{"host": fmt.Sprintf("h%02d", i)})
	}
	latency := func(ls map[string]string, at time.Time) (float64, bool) {
		r := rand.New(rand.NewPCG(uint64(at.Unix()), uint64(ls["host"][1])<<8|uint64(ls["host"][2])))
		return 200 + 10*r.NormFloat64(), true
	}
	start := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	writePoints(t, w, "sw_rec_latency", hosts, start.Add(-30*time.Hour), start, time.Minute, latency)
	tick := func(at time.Time) (alertengine.Summary, error) {
		writePoints(t, w, "sw_rec_latency", hosts, at, at, time.Minute, latency)
		writePoints(t, w, "sw_rec_queue", []map[string]string{{"queue": "orders"}}, at, at, time.Minute,
			func(map[string]string, time.Time) (float64, bool) { return 500, true })
		return s.eng.Tick(ctx, at)
	}
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	// stateSeries counts the auto rule's series with a detector state.
	stateSeries := func(at time.Time) float64 {
		got, err := q.Query(ctx, `count(count_over_time(`+alerting.DetectorStateMetric+`{sigmawatch_deployment="records",alertname="LatencyAnomaly"}[1h]))`, at)
		require.NoError(t, err)
		if len(got) == 0 {
			return 0
		}
		return got[0].V
	}

	at := start.Add(time.Minute)
	sum, err := tick(at)
	require.Equal(t, 1, sum.Notifications, "the page went out (its state and outbox were stored first): %v", err)
	require.Equal(t, map[string]int{"QueueDeep firing": 1}, byAlert(s.received(t)))
	require.Error(t, err, "a refused request of records fails the run visibly")
	require.ErrorContains(t, err, "records")
	require.Equal(t, alerting.Progress{Cold: 24}, sum.Detector)
	mu.Lock()
	require.LessOrEqual(t, largest, limit, "no request over the store's limit")
	require.Greater(t, recordReqs, refuseRecords+1, "the run went on after the refused request")
	sent := recordReqs
	mu.Unlock()
	missing := 24 - stateSeries(at)
	require.Positive(t, missing, "the refused request held detector states")

	// The Lambda retry of the run finds it persisted: nothing is sent or
	// written again.
	sum, err = s.eng.Tick(ctx, at)
	require.NoError(t, err)
	require.True(t, sum.Skipped)
	require.Zero(t, sum.Notifications)
	mu.Lock()
	require.Equal(t, sent, recordReqs, "the retry wrote no records")
	mu.Unlock()

	// The next run starts again only the series whose states were
	// refused, decides every series and stores every record; the queue is
	// paged no more.
	for i := 2; i <= 3; i++ {
		at := start.Add(time.Duration(i) * time.Minute)
		sum, err = tick(at)
		require.NoError(t, err, "run %d", i)
		require.Equal(t, 25, sum.Series, "run %d: every series evaluated", i)
		require.Zero(t, sum.Insufficient, "run %d: no series lost its history", i)
		cold := 0.0
		if i == 2 {
			cold = missing
		}
		require.InDelta(t, cold, sum.Detector.Cold, 0, "run %d: %+v", i, sum.Detector)
		require.InDelta(t, 24, stateSeries(at), 0, "run %d: every detector state stored", i)
	}
	require.Empty(t, s.received(t), "nothing paged twice")
	mu.Lock()
	require.LessOrEqual(t, largest, limit, "no request over the store's limit")
	mu.Unlock()
}

// TestOneAlertNameInTwoGroupsOverRequests: two anomaly rules with one
// alert name in two groups (Prometheus allows it), with other baselines,
// over the same series: the z-score of a series is one series of the
// store, written once a run (the first rule's, as in one request), even
// when the z-scores take several requests. Failed before the check: the
// second rule's z-scores went in a later request at the same time with
// other values, which Prometheus refuses (400, duplicate sample), failing
// every run.
func TestOneAlertNameInTwoGroupsOverRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	s := newStack(t, alertengine.Options{Rules: mustLoad(t, `
settings:
  interval: 1m
  evaluation_delay: 0s
groups:
  - name: day
    rules:
      - alert: LatencyAnomaly
        expr: sw_two_latency
        anomaly: {baseline: 1d, min_history: 6h}
  - name: halfday
    rules:
      - alert: LatencyAnomaly
        expr: sw_two_latency
        anomaly: {baseline: 12h, min_history: 6h}
`), Deployment: "twogroups", MaxWriteSamples: 5}, prom.URL, prom.RemoteWriteURL)
	var hosts []map[string]string
	for i := range 8 {
		hosts = append(hosts, map[string]string{"host": fmt.Sprintf("h%02d", i)})
	}
	start := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	// A level that moves through the day: the two baselines differ.
	latency := func(ls map[string]string, at time.Time) (float64, bool) {
		r := rand.New(rand.NewPCG(uint64(at.Unix()), uint64(ls["host"][2])))
		return 200 + 50*float64(at.Hour())/24 + 10*r.NormFloat64(), true
	}
	writePoints(t, w, "sw_two_latency", hosts, start.Add(-30*time.Hour), start, time.Minute, latency)
	for i := 1; i <= 2; i++ {
		at := start.Add(time.Duration(i) * time.Minute)
		writePoints(t, w, "sw_two_latency", hosts, at, at, time.Minute, latency)
		sum, err := s.eng.Tick(ctx, at)
		require.NoError(t, err, "run %d", i)
		require.Equal(t, 16, sum.Series, "run %d: both rules evaluated every series", i)
	}
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	got, err := q.Query(ctx, `count(`+alerting.ZScoreMetric+`{sigmawatch_deployment="twogroups"})`, start.Add(2*time.Minute))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.InDelta(t, 8, got[0].V, 0, "one z-score series per series")
}
