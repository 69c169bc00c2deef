package demo_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/demo"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// TestDemo runs the make demo path and checks what arrived: for the
// anomalous ALB 5xx series only, one firing notification and one resolved
// notification (no repeat while only keep_firing_for holds it firing), to
// the email subscriber and the same to the SMS subscriber (severity
// critical); and a chart.
func TestDemo(t *testing.T) {
	t.Parallel()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	collect := testenv.BuildBootstrap(t, "./functions/collect")
	alert := testenv.BuildBootstrap(t, "./functions/alert")
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), demo.Options{
		Out: &out, Root: root, WorkDir: t.TempDir(), OutDir: t.TempDir(),
		CollectBootstrap: collect, AlertBootstrap: alert,
		End: time.Now().UTC().Truncate(time.Hour),
	})
	require.NoError(t, err, out.String())
	t.Logf("demo output:\n%s", out.String())

	require.Equal(t, 190, res.CollectRuns, "every 5 minutes from live start + 15m to the end, inclusive")
	require.Equal(t, 946, res.AlertRuns, "every minute")
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
	// of its end (no keep_firing_for): one firing, one resolved.
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
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 800)
	require.True(t, strings.HasPrefix(filepath.Base(res.Charts[0]), "ALB5xxAnomaly-"))
	require.Contains(t, out.String(), "notifications that reached")
}
