package resource_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/resource"
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
			require.Equal(t, tt.plain, resource.TagLabel(tt.key, false))
			require.Equal(t, tt.snake, resource.TagLabel(tt.key, true))
		})
	}
	require.Equal(t, "custom_tag_Cost_Center", resource.CustomTagLabel("Cost Center", false))
}

func TestMetricAndInfoLabels(t *testing.T) {
	t.Parallel()
	r := &resource.Resource{ARN: "arn:aws:ec2:us-east-1:123456789012:instance/i-1", Tags: []resource.Tag{
		{Key: "Name", Value: "web-1"}, {Key: "team-name", Value: "checkout"}, {Key: "empty", Value: ""}, {Key: "team_name", Value: "later"},
	}}
	require.Equal(t, []remotewrite.Label{
		{Name: "name", Value: r.ARN},
		{Name: "tag_team_name", Value: "checkout"},
		{Name: "tag_Name", Value: "web-1"},
	}, resource.MetricLabels(r, []string{"team-name", "Name", "Missing", "empty"}, false))
	require.Equal(t, []remotewrite.Label{{Name: "name", Value: "global"}}, resource.MetricLabels(nil, []string{"Name"}, false))
	require.Equal(t, []remotewrite.Label{
		{Name: "name", Value: r.ARN},
		{Name: "tag_Name", Value: "web-1"},
		{Name: "tag_team_name", Value: "later"},
	}, resource.InfoLabels(r, false))
	svc, _ := resource.LookupService("AWS/ApplicationELB")
	require.Equal(t, "aws_applicationelb_info", resource.InfoName(svc))
	svc, _ = resource.LookupService("AWS/EC2")
	require.Equal(t, "aws_ec2_info", resource.InfoName(svc))
}
