package collector_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
)

// TestPlanLongPeriods: a metric whose period is longer than the schedule's
// interval is requested once per period, not every run (the preview used
// to bill an hourly metric 12 times an hour).
func TestPlanLongPeriods(t *testing.T) {
	t.Parallel()
	cfg, err := config.LoadCollect([]byte(`
interval: 5m
jobs:
  - name: ec2
    regions: [us-east-1]
    namespace: AWS/EC2
    dimensions: [InstanceId]
    metrics:
      - {name: CPUUtilization, statistics: [Average]}
      - {name: NetworkIn, statistics: [Sum, Maximum], period: 1h, length: 1h, timestamp: scheduled}
`))
	require.NoError(t, err)
	p, err := collector.MakePlan(context.Background(), cfg, cfg.Jobs, fleetConnector{newFleet(10, 0)})
	require.NoError(t, err)
	require.Len(t, p.Jobs, 1)
	j := p.Jobs[0]
	require.Equal(t, 20, j.Metrics)
	require.Equal(t, 30, j.Series)
	require.Equal(t, 2, j.GetMetricDataCalls, "one call per timing group in a run where both are due")
	require.Equal(t, 1, j.StoreQueries, "progress and digests: one query a run")
	require.Equal(t, 2, j.ChangedSetQueries, "after a listing with new series: one per metrics entry of the one target")
	// 10 series × 8,640 runs + 20 series × 720 hours in 30 days.
	require.InDelta(t, 10*8640+20*720, j.MetricsPerMonth, 0)
	require.InDelta(t, float64(10*8640+20*720)*collector.USDPerMetricRequested, j.CostPerMonthUSD, 1e-9)
	var out bytes.Buffer
	require.NoError(t, p.Print(&out))
	require.Contains(t, out.String(), "a metric whose period is longer than the schedule is requested once per period")
}
