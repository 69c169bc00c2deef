package deploycheck

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/sigmawatch/sigmawatch/shared/config"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// guideReceiver is the collect.yaml receiver block a store's guide gives.
func guideReceiver(t *testing.T, guide string) (config.Receiver, string) {
	t.Helper()
	data, err := os.ReadFile(repoFile(t, "infra/guides/"+guide))
	require.NoError(t, err)
	var found []string
	for _, m := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
		if strings.Contains(m[1], "receiver:") {
			found = append(found, m[1])
		}
	}
	require.Len(t, found, 1, "%s gives one collect.yaml receiver block", guide)

	// The block must be a valid part of a real collect.yaml: the example
	// with the block added loads strictly and validates.
	example, err := os.ReadFile(repoFile(t, "infra/examples/collect.yaml"))
	require.NoError(t, err)
	c, err := config.LoadCollect([]byte(string(example) + "\n" + found[0]))
	require.NoError(t, err, "%s: the receiver block added to infra/examples/collect.yaml", guide)
	return c.Receiver, string(data)
}

// TestGuidesSetTheReceiver: only an AMP URL tells collect what the store
// does with a request, so the guides of the other stores give the receiver
// block their users must add to collect.yaml — a valid one, of their kind —
// and the Prometheus and Mimir guides pair the store's out-of-order window
// with receiver.out_of_order_window, the same value on both sides.
func TestGuidesSetTheReceiver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		guide, kind string
		// storeWindow finds the store's own out-of-order window in the guide.
		storeWindow *regexp.Regexp
	}{
		{"mimir.md", config.ReceiverMimir, regexp.MustCompile("`(\\d+h)` is recommended")},
		{"prometheus.md", config.ReceiverPrometheus, nil},
		{"victoriametrics.md", config.ReceiverVictoriaMetrics, nil},
	}
	for _, tt := range tests {
		t.Run(tt.guide, func(t *testing.T) {
			t.Parallel()
			r, text := guideReceiver(t, tt.guide)
			require.Equal(t, tt.kind, r.Kind)
			if tt.kind == config.ReceiverVictoriaMetrics {
				return
			}
			require.Positive(t, r.OutOfOrderWindow, "%s pairs the store's out-of-order window with receiver.out_of_order_window", tt.guide)
			var store string
			if tt.storeWindow != nil {
				m := tt.storeWindow.FindStringSubmatch(text)
				require.NotNil(t, m, "%s recommends a window", tt.guide)
				store = m[1]
			} else {
				var prom struct {
					Storage struct {
						TSDB struct {
							Window string `yaml:"out_of_order_time_window"`
						} `yaml:"tsdb"`
					} `yaml:"storage"`
				}
				for _, m := range yamlBlock.FindAllStringSubmatch(text, -1) {
					if strings.Contains(m[1], "out_of_order_time_window") {
						require.NoError(t, yaml.Unmarshal([]byte(m[1]), &prom))
					}
				}
				store = prom.Storage.TSDB.Window
			}
			want, err := config.ParseDuration(store)
			require.NoError(t, err, "%s: the store's window %q", tt.guide, store)
			require.Equal(t, want, r.OutOfOrderWindow, "%s: collect's window equals the store's", tt.guide)
			require.Contains(t, text, "shared/collector/doc.go", "%s points at what each receiver kind is promised", tt.guide)
		})
	}
}
