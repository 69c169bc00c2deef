package tagging_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// TestTagLabel holds the label names YACE gives tag keys, with and without
// -labels-snake-case. Keys are what AWS allows in a tag key: letters of any
// script, digits, spaces and _ . : / = + - @.
func TestTagLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, plain, snake string
	}{
		{"Name", "tag_Name", "tag_name"},
		{"CostCenter", "tag_CostCenter", "tag_cost_center"},
		{"team-name", "tag_team_name", "tag_team_name"},
		{"kubernetes.io/cluster/prod", "tag_kubernetes_io_cluster_prod", "tag_kubernetes_io_cluster_prod"},
		{"aws:cloudformation:stack-name", "tag_aws_cloudformation_stack_name", "tag_aws_cloudformation_stack_name"},
		{"owner email@corp", "tag_owner_email_corp", "tag_owner_email_corp"},
		{"a=b", "tag_a_b", "tag_a_b"},
		{"1st", "tag_1st", "tag_1st"},
		{"Load%", "tag_Load_percent", "tag_load_percent"},
		{"v2Version", "tag_v2Version", "tag_v2_version"},
		// Not replaced by YACE's sanitiser; a Prometheus 2 scrape of YACE
		// escapes each to "_", as sigmawatch writes them.
		{"a+b", "tag_a_b", "tag_a_b"},
		{"Größe", "tag_Gr__e", "tag_gr__e"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.plain, tagging.TagLabel(tt.key, false))
			require.Equal(t, tt.snake, tagging.TagLabel(tt.key, true))
		})
	}
	require.Equal(t, "custom_tag_Cost_Center", tagging.CustomTagLabel("Cost Center", false))
}

func TestMetricAndInfoLabels(t *testing.T) {
	t.Parallel()
	r := &tagging.Resource{ARN: "arn:aws:ec2:us-east-1:123456789012:instance/i-1", Tags: []tagging.Tag{
		{Key: "Name", Value: "web-1"}, {Key: "team-name", Value: "checkout"}, {Key: "empty", Value: ""}, {Key: "team_name", Value: "later"},
	}}
	require.Equal(t, []remotewrite.Label{
		{Name: "name", Value: r.ARN},
		{Name: "tag_team_name", Value: "checkout"},
		{Name: "tag_Name", Value: "web-1"},
	}, tagging.MetricLabels(r, []string{"team-name", "Name", "Missing", "empty"}, false))
	require.Equal(t, []remotewrite.Label{{Name: "name", Value: "global"}}, tagging.MetricLabels(nil, []string{"Name"}, false))
	require.Equal(t, []remotewrite.Label{
		{Name: "name", Value: r.ARN},
		{Name: "tag_Name", Value: "web-1"},
		{Name: "tag_team_name", Value: "later"},
	}, tagging.InfoLabels(r, false))
	svc, _ := tagging.LookupService("AWS/ApplicationELB")
	require.Equal(t, "aws_applicationelb_info", tagging.InfoName(svc))
	svc, _ = tagging.LookupService("AWS/EC2")
	require.Equal(t, "aws_ec2_info", tagging.InfoName(svc))
}
