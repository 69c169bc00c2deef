package alertengine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/alertengine"
	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

const thresholdRules = `
settings:
  interval: 5m
groups:
  - name: probe
    rules:
      - alert: AlwaysOn
        expr: vector(1) > 0
        labels: {severity: warning}
        annotations: {summary: "the probe fires"}
`

// TestAlertmanagerSinkWiring runs a tick with the optional second sink
// pointed at the Debian Alertmanager: the firing alert is visible through
// its API with the rule's labels and annotations.
func TestAlertmanagerSinkWiring(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	am := testenv.StartAlertmanager(t)
	file, err := rules.Load([]byte(thresholdRules))
	require.NoError(t, err)
	q, err := promql.NewClient(prom.URL, http.DefaultTransport)
	require.NoError(t, err)
	w, err := remotewrite.NewClient(prom.RemoteWriteURL)
	require.NoError(t, err)
	sink, err := notify.NewAlertmanager(am.URL, nil)
	require.NoError(t, err)
	var printed bytes.Buffer
	eng, err := alertengine.New(alertengine.Options{Rules: file, Query: q, Write: w, Publish: notify.NewText(&printed),
		Sink: sink, ExternalURL: "http://prom.example"})
	require.NoError(t, err)
	at := time.Now().UTC().Truncate(time.Minute)
	sum, err := eng.Tick(ctx, at)
	require.NoError(t, err)
	require.Equal(t, 1, sum.Notifications)

	resp, err := http.Get(am.URL + "/api/v2/alerts")
	require.NoError(t, err)
	defer resp.Body.Close()
	var alerts []struct {
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		GeneratorURL string            `json:"generatorURL"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&alerts))
	require.Len(t, alerts, 1)
	require.Equal(t, map[string]string{"alertname": "AlwaysOn", "severity": "warning"}, alerts[0].Labels)
	require.Equal(t, "the probe fires", alerts[0].Annotations["summary"])
	require.True(t, strings.HasPrefix(alerts[0].GeneratorURL, "http://prom.example/graph?"), alerts[0].GeneratorURL)
	require.True(t, at.Equal(alerts[0].StartsAt))
	require.True(t, at.Add(20*time.Minute).Equal(alerts[0].EndsAt), "valid for four intervals, renewed every run")
}
