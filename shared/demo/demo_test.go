package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/demo"
	"github.com/sigmawatch/sigmawatch/shared/promql"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestDemo runs the make demo path and checks what arrived: for the
// anomalous ALB 5xx series only, one firing notification and one resolved
// notification, to the email subscriber and the same to the SMS subscriber
// (severity critical); a chart; and, on the Prometheus the real functions
// wrote, a value in every dashboard panel on sigmawatch's own series.
func TestDemo(t *testing.T) {
	t.Parallel()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	collect := testenv.BuildBootstrap(t, "./functions/collect")
	alert := testenv.BuildBootstrap(t, "./functions/alert")
	end := time.Now().UTC().Truncate(time.Hour)
	var out bytes.Buffer
	var panels map[string]panelResult
	res, err := demo.Run(context.Background(), demo.Options{
		Out: &out, Root: root, WorkDir: t.TempDir(), OutDir: t.TempDir(),
		CollectBootstrap: collect, AlertBootstrap: alert,
		End:  end,
		Hold: func(url string) { panels = queryDashboard(t, root, url, end.Add(-demo.DefaultLive), end) },
	})
	require.NoError(t, err, out.String())
	t.Logf("demo output:\n%s", out.String())

	// Every 5 minutes from 15 minutes into the live span to its end, inclusive.
	require.Equal(t, int((demo.DefaultLive-15*time.Minute)/(5*time.Minute))+1, res.CollectRuns)
	require.Equal(t, int((demo.DefaultLive-15*time.Minute)/time.Minute)+1, res.AlertRuns, "every minute")
	require.Positive(t, res.Samples)
	var got []string
	for _, n := range res.Notifications {
		got = append(got, n.Subscriber+" "+n.Attributes["status"]+" "+n.Attributes["alertname"])
		require.Contains(t, n.Body, `dimension_LoadBalancer="app/demo-shop/50dc6c495c0c9188"`)
		require.NotContains(t, n.Body, "i-0batch", "the noisy instance must not page")
		require.NotEmpty(t, n.Attributes["notification_id"])
		require.NotEmpty(t, n.Attributes["summary"], "the SMS line travels as an attribute")
		require.LessOrEqual(t, len(n.Attributes["summary"]), 140)
	}
	// The burst lasts 30 minutes; the example rules resolve within minutes
	// of its end (no keep_firing_for): one firing, one resolved, both inside
	// the live span.
	want := []string{"email firing ALB5xxAnomaly", "email resolved ALB5xxAnomaly"}
	for _, w := range slices.Clone(want) {
		want = append(want, strings.Replace(w, "email", "sms", 1))
	}
	require.Equal(t, want, got)
	require.True(t, strings.HasPrefix(res.Notifications[0].Subject, "[FIRING] "), "the first is the firing one")
	require.True(t, strings.HasPrefix(res.Notifications[1].Subject, "[RESOLVED] "))
	require.Len(t, res.Charts, 1)
	f, err := os.Open(res.Charts[0])
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 800)
	require.True(t, strings.HasPrefix(filepath.Base(res.Charts[0]), "ALB5xxAnomaly-"))
	require.Contains(t, out.String(), "notifications that reached")

	// The dashboard on what the functions wrote: each panel on our own
	// series shows something, and says what the demo did.
	require.NotEmpty(t, panels)
	for title, p := range panels {
		require.NoError(t, p.err, "%s: %s", title, p.expr)
		if title == "Notifications awaiting delivery" {
			require.Empty(t, p.values, "%s: every notification was sent", title)
			continue
		}
		require.NotEmpty(t, p.values, "%s shows nothing: %s", title, p.expr)
	}
	for title, check := range map[string]func(v float64) bool{
		"Series dropped (bad labels, collisions)": func(v float64) bool { return v == 0 },
		"Alert circuit breaker open":              func(v float64) bool { return v == 0 },
		// Firing and resolved: two notifications, each published once.
		"Notifications sent per hour": func(v float64) bool { return v == 1 || v == 2 },
		// Data is collected up to T − delay (10m), plus a period at most.
		"Collected up to: lag behind now": func(v float64) bool { return v >= 600 && v <= 1200 },
	} {
		require.Contains(t, panels, title)
		for _, v := range panels[title].values {
			require.True(t, check(v), "%s: %v", title, panels[title].values)
		}
	}
}

// TestNextStepIsTheGuidedDeploy: the demo ends by pointing at the first
// deploy through the make target that keeps the user's email and phone
// number out of the tracked samconfig.toml (a bare `sam deploy --guided`
// would save them there), and that target exists.
func TestNextStepIsTheGuidedDeploy(t *testing.T) {
	t.Parallel()
	require.Contains(t, demo.NextStep, "`make deploy-guided`")
	require.NotContains(t, demo.NextStep, "sam deploy")
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`(?m)^deploy-guided:`), string(mk))
}

type panelResult struct {
	expr   string
	values []float64
	err    error
}

var grafanaVar = regexp.MustCompile(`\$\{?([A-Za-z0-9_]+)(?::[^}]*)?\}?`)

// queryDashboard runs, over [from, to], every query of the Grafana
// dashboard that reads sigmawatch's own series, with every variable set to
// All, and returns each panel's values by title.
func queryDashboard(t *testing.T, root, url string, from, to time.Time) map[string]panelResult {
	data, err := os.ReadFile(filepath.Join(root, "infra", "grafana", "sigmawatch.json"))
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(data, &dash))
	q, err := promql.NewClient(url, http.DefaultTransport)
	require.NoError(t, err)
	out := map[string]panelResult{}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			if !strings.Contains(target.Expr, "sigmawatch_") {
				continue
			}
			expr := grafanaVar.ReplaceAllString(target.Expr, ".*")
			r := panelResult{expr: expr}
			var series []promql.Series
			series, r.err = q.QueryRange(t.Context(), expr, from, to, 5*time.Minute)
			for _, s := range series {
				for _, pt := range s.Points {
					r.values = append(r.values, pt.V)
				}
			}
			out[p.Title] = r
		}
	}
	return out
}
