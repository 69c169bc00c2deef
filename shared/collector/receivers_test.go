package collector_test

import (
	"strings"
	"testing"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// everyReceiver runs run once per kind of receiver the delivery contract is
// promised for (a stock Prometheus, VictoriaMetrics, Cortex as Mimir), in
// parallel, each on a store of its own.
func everyReceiver(t *testing.T, run func(t *testing.T, kind string, r *testenv.Receiver)) {
	t.Helper()
	receivers := []struct {
		name  string
		kind  string
		start func(t *testing.T) *testenv.Receiver
	}{
		{"prometheus", config.ReceiverPrometheus, func(t *testing.T) *testenv.Receiver {
			return testenv.StartPrometheus(t, testenv.PrometheusOptions{})
		}},
		{"victoriametrics", config.ReceiverVictoriaMetrics, func(t *testing.T) *testenv.Receiver { return testenv.StartVictoriaMetrics(t) }},
		{"cortex", config.ReceiverMimir, func(t *testing.T) *testenv.Receiver { return testenv.StartCortex(t, testenv.CortexOptions{}) }},
	}
	for _, rc := range receivers {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			run(t, rc.kind, rc.start(t))
		})
	}
}

// shortID is the last n characters of a unique name without its dashes:
// short enough for the resource IDs and metric names moto is given.
func shortID(unique string, n int) string {
	id := strings.ReplaceAll(unique, "-", "")
	return id[max(0, len(id)-n):]
}
