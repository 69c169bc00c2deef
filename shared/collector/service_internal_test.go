package collector

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/resource"
)

// TestFillZeros: nil_to_zero writes 0 for each period of the window that
// CloudWatch returned nothing for, and keeps what it returned.
func TestFillZeros(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := &cloudwatch.Query{Period: time.Minute, Start: t0, End: t0.Add(4 * time.Minute)}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	require.Equal(t, []cloudwatch.Point{{T: at(0), V: 0}, {T: at(1), V: 5}, {T: at(2), V: 0}, {T: at(3), V: 7}},
		fillZeros(q, []cloudwatch.Point{{T: at(1), V: 5}, {T: at(3), V: 7}}))
	require.Equal(t, []cloudwatch.Point{{T: at(0), V: 0}, {T: at(1), V: 0}, {T: at(2), V: 0}, {T: at(3), V: 0}}, fillZeros(q, nil))
}

// TestServiceLabels: a service job's series carry their resource's ARN as
// name and its exported tags, the job's context labels (account_alias,
// custom_tag_*), and dimension labels snake-cased on request; a metric of
// no resource is "global". Its info series carry every tag, and the
// context only with include_context_on_info_metrics.
func TestServiceLabels(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:ec2:us-east-1:123456789012:instance/i-1"
	res := []resource.Resource{{ARN: arn, Tags: []resource.Tag{{Key: "Team", Value: "web"}, {Key: "Env", Value: "prod"}}}}
	job := &config.Job{Name: "ec2", Namespace: "AWS/EC2", YACEOptions: config.YACEOptions{
		Type: "AWS/EC2", ExportedTags: []string{"Team"}, LabelsSnakeCase: true,
		CustomTags: []config.KeyValue{{Key: "CostCenter", Value: "42"}},
	}}
	l := newLabeler(job, "us-east-1", "123456789012", "prod-account", res)
	dims := []cloudwatch.Dimension{{Name: "InstanceId", Value: "i-1"}}
	base := []remotewrite.Label{
		{Name: "job", Value: "ec2"}, {Name: "region", Value: "us-east-1"}, {Name: "account_id", Value: "123456789012"},
		{Name: "account_alias", Value: "prod-account"}, {Name: "custom_tag_cost_center", Value: "42"},
	}
	got := l.labels(nil, "aws_ec2_cpuutilization_average", 1, dims)
	want := append(append([]remotewrite.Label{{Name: "__name__", Value: "aws_ec2_cpuutilization_average"}}, base...),
		remotewrite.Label{Name: "name", Value: arn}, remotewrite.Label{Name: "tag_team", Value: "web"},
		remotewrite.Label{Name: "dimension_instance_id", Value: "i-1"})
	require.Equal(t, want, got)
	require.Equal(t, len(want), l.size(1, dims))
	global := l.labels(nil, "aws_ec2_cpuutilization_average", 0, nil)
	require.Contains(t, global, remotewrite.Label{Name: "name", Value: "global"})
	require.Len(t, global, l.size(0, nil))

	info, dropped := infoSeries(job, l, res, 1000)
	require.Empty(t, dropped)
	require.Equal(t, []remotewrite.Series{{
		Labels: []remotewrite.Label{
			{Name: "__name__", Value: "aws_ec2_info"}, {Name: "job", Value: "ec2"},
			{Name: "name", Value: arn}, {Name: "tag_env", Value: "prod"}, {Name: "tag_team", Value: "web"},
		},
		Samples: []remotewrite.Sample{{T: 1000, V: 0}},
	}}, info)
	job.IncludeContextOnInfoMetrics = true
	info, _ = infoSeries(job, l, res, 1000)
	require.Equal(t, append(append([]remotewrite.Label{{Name: "__name__", Value: "aws_ec2_info"}}, base...),
		remotewrite.Label{Name: "name", Value: arn}, remotewrite.Label{Name: "tag_env", Value: "prod"}, remotewrite.Label{Name: "tag_team", Value: "web"}),
		info[0].Labels)
}

// fakeIAM answers ListAccountAliases with alias, or err.
type fakeIAM struct {
	alias string
	err   error
	calls int
}

func (f *fakeIAM) ListAccountAliases(context.Context, *iam.ListAccountAliasesInput, ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &iam.ListAccountAliasesOutput{AccountAliases: []string{f.alias}}, nil
}

// TestAliasCache: the alias is asked for once an hour per account; a
// failed lookup keeps the last alias (the series keep their labels) and is
// not retried before the hour is up either.
func TestAliasCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &aliasCache{now: func() time.Time { return now }}
	api := &fakeIAM{alias: "prod"}
	target := Target{IAM: api, AccountID: "123456789012"}
	log := slog.New(slog.DiscardHandler)
	step := func(advance time.Duration, want string, wantCalled bool) {
		t.Helper()
		now = now.Add(advance)
		got, called := a.get(t.Context(), log, target)
		require.Equal(t, want, got)
		require.Equal(t, wantCalled, called)
	}
	step(0, "prod", true)
	step(59*time.Minute, "prod", false)
	api.err = errors.New("AccessDenied")
	step(time.Minute, "prod", true) // kept
	step(30*time.Minute, "prod", false)
	api.err = nil
	api.alias = "prod-renamed"
	step(30*time.Minute, "prod-renamed", true)
	require.Equal(t, 3, api.calls)
	alias, called := a.get(t.Context(), log, Target{AccountID: "1"})
	require.Empty(t, alias, "no IAM client, no alias")
	require.False(t, called)
}
