package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRoutingPrecedence: grouping, repeat_interval and the missing-data
// timeout may be set in settings, in a group and in a rule; the most
// specific wins and the rest is inherited.
func TestRoutingPrecedence(t *testing.T) {
	t.Parallel()
	f, err := Load([]byte(`
settings:
  repeat_interval: 2h
  group_by: [region]
  group_interval: 10m
groups:
  - name: fleet
    repeat_interval: 1h
    group_wait: 1m
    missing_data_timeout: 30m
    rules:
      - alert: Inherits
        expr: up == 0
      - alert: Overrides
        expr: up == 0
        repeat_interval: 15m
        group_by: ['...']
        group_interval: 2m
        missing_data_timeout: 0s
  - name: plain
    rules:
      - alert: Defaults
        expr: up == 0
        group_by: []
`))
	require.NoError(t, err)
	byName := map[string]Rule{}
	for _, r := range f.Rules() {
		byName[r.Alert] = r
	}
	for _, tc := range []struct {
		rule                   string
		groupBy                []string
		repeat, wait, interval time.Duration
		timeout                time.Duration
	}{
		{"Inherits", []string{"region"}, time.Hour, time.Minute, 10 * time.Minute, 30 * time.Minute},
		{"Overrides", []string{GroupByAll}, 15 * time.Minute, time.Minute, 2 * time.Minute, 0},
		{"Defaults", []string{}, 2 * time.Hour, 0, 10 * time.Minute, time.Hour},
	} {
		r := byName[tc.rule]
		require.Equal(t, tc.groupBy, r.GroupBy, tc.rule)
		require.Equal(t, tc.repeat, r.RepeatInterval.D(), tc.rule)
		require.Equal(t, tc.wait, r.Wait(), tc.rule)
		require.Equal(t, tc.interval, r.Interval(), tc.rule)
		require.Equal(t, tc.timeout, r.Timeout(), tc.rule)
	}
}

func TestRoutingValidation(t *testing.T) {
	t.Parallel()
	_, err := Load([]byte(`
settings:
  group_by: ['...', region]
  group_interval: 0s
groups:
  - name: g
    repeat_interval: 0s
    rules:
      - alert: A
        expr: up == 0
        group_by: [region, region, "bad-name"]
`))
	for _, want := range []string{
		`settings.group_by: "..." groups by every label and must be alone`,
		`settings.group_interval: must be > 0 (got 0s)`,
		`groups[0].repeat_interval: must be > 0 (got 0s)`,
		`groups[0].rules[0] (A).group_by: [1] "region" is listed twice`,
		`groups[0].rules[0] (A).group_by: [2] "bad-name" is not a valid label name`,
	} {
		require.ErrorContains(t, err, want)
	}
}
