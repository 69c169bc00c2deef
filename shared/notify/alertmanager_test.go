package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/notify"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func amAlerts(t *testing.T, base string) []gettableAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out []gettableAlert
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// TestAlertmanagerSink delivers to the Debian Alertmanager and reads the
// alert back through its v2 API, firing and then resolved.
func TestAlertmanagerSink(t *testing.T) {
	t.Parallel()
	am := testenv.StartAlertmanager(t)
	sink, err := notify.NewAlertmanager(am.URL+"/", nil)
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	alert := notify.Alert{
		Labels:       map[string]string{"alertname": "CPUAnomaly", "instance": "i-1", "severity": "critical"},
		Annotations:  map[string]string{"summary": "CPU on i-1 is unusual"},
		StartsAt:     now.Add(-10 * time.Minute),
		EndsAt:       now.Add(20 * time.Minute),
		GeneratorURL: "http://prometheus.example/graph?g0.expr=x",
	}
	require.NoError(t, sink.Send(ctx, []notify.Alert{alert}))
	got := amAlerts(t, am.URL)
	require.Len(t, got, 1)
	require.Equal(t, alert.Labels, got[0].Labels)
	require.Equal(t, alert.Annotations, got[0].Annotations)
	require.Equal(t, alert.GeneratorURL, got[0].GeneratorURL)
	require.True(t, alert.StartsAt.Equal(got[0].StartsAt), "startsAt %s", got[0].StartsAt)
	require.Equal(t, "active", got[0].Status.State)

	// Resolved: endsAt now; Alertmanager stops listing it as active.
	alert.EndsAt = now
	require.NoError(t, sink.Send(ctx, []notify.Alert{alert}))
	for _, a := range amAlerts(t, am.URL) {
		require.False(t, a.EndsAt.After(now), "the resolved alert ends at %s", a.EndsAt)
	}
	require.NoError(t, sink.Send(ctx, nil), "nothing to send is not an error")
}

func TestAlertmanagerErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad alerts", http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	sink, err := notify.NewAlertmanager(srv.URL, srv.Client())
	require.NoError(t, err)
	err = sink.Send(context.Background(), []notify.Alert{{Labels: map[string]string{"alertname": "x"}}})
	require.ErrorContains(t, err, "HTTP 400: bad alerts")

	for _, bad := range []string{"", "ftp://x", "http://", "::", "http://am:SECRET@alertmanager:9093", "http://alertmanager/%zz?token=SECRET"} {
		_, err := notify.NewAlertmanager(bad, nil)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "SECRET")
	}
}
