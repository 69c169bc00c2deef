package yaceimport_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/yaceimport"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestExamples translates each YACE example config in infra/examples/yace
// (our own equivalents of the examples in YACE's docs): the result loads as
// a collect.yaml (what -verify-config checks), equals its golden file, and
// lists what it could not carry over.
func TestExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		wantNotes []string
	}{
		{"discovery.yml", []string{
			"sts-region: not translated",
			"recentlyActiveOnly: sigmawatch's discovery always lists only the metrics active in the last three hours",
			"addCloudwatchTimestamp/exportAllDataPoints: sigmawatch writes every datapoint",
			"discovery.jobs[3].metrics[0]: period 86400s: timestamp: scheduled",
			"discovery.jobs[3].metrics[0].length: 172800s is longer than max_catch_up (2700s)",
		}},
		{"static.yml", []string{"delay: YACE's default of 0 became sigmawatch's default"}},
		{"custom-namespace.yml", nil},
		{"unsupported.yml", []string{
			`discovery.jobs[0]: type "AWS/Kafka" is not a service`,
			"discovery.exportedTagsOnMetrics.AWS/Kafka: no discovery job of that type",
			"discovery.jobs[1].roundingPeriod: not translated",
			"discovery.jobs[1].enhancedMetrics: not translated",
			"discovery.jobs[1].metrics[0].period: 90s is not a CloudWatch period; 120s used",
			"discovery.jobs[1].metrics[0].length: 7200s is longer than max_catch_up",
			"discovery.jobs[1].metrics[0].delay: ignored by YACE at the metric level",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(filepath.Join("../../infra/examples/yace", tt.file))
			require.NoError(t, err)
			res, err := yaceimport.Translate(in)
			require.NoError(t, err)
			_, err = config.LoadCollect(res.Config)
			require.NoError(t, err)
			golden := filepath.Join("testdata", strings.TrimSuffix(tt.file, ".yml")+".collect.yaml.golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, res.Config, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), string(res.Config))
			notes := strings.Join(res.Notes, "\n")
			for _, n := range tt.wantNotes {
				require.Contains(t, notes, n)
			}
			if tt.file == "static.yml" {
				require.NotContains(t, notes, "not translated")
			}
		})
	}
}

func TestTranslateRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"other api version", "apiVersion: v2\nstatic: []\n", `apiVersion: "v2" is not v1alpha1`},
		{"nothing translatable", "apiVersion: v1alpha1\ndiscovery:\n  jobs:\n    - type: AWS/Kafka\n      regions: [us-east-1]\n      metrics: [{name: X, statistics: [Sum]}]\n", "no job could be translated"},
		{"not yaml", "{", "parse YACE config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := yaceimport.Translate([]byte(tt.in))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestUnknownKeysAreNoted(t *testing.T) {
	t.Parallel()
	res, err := yaceimport.Translate([]byte("apiVersion: v1alpha1\nstatic:\n  - name: s\n    namespace: N\n    regions: [us-east-1]\n    someFutureKey: 1\n    dimensions: [{name: A, value: b}]\n    metrics: [{name: M, statistics: [Sum]}]\n"))
	require.NoError(t, err)
	require.Contains(t, strings.Join(res.Notes, "\n"), "someFutureKey")
}
