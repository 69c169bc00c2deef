package deploycheck

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParameterPatterns: CloudFormation refuses a bad parameter before
// anything is created, with the ConstraintDescription as the message. The
// patterns must accept what AWS accepts and refuse the rest.
func TestParameterPatterns(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	tests := []struct {
		param    string
		accept   []string
		reject   []string
		mentions string
	}{
		{
			param:    "AlertPhoneNumber",
			accept:   []string{"", "+14155550100", "+447700900123", "+491701234567"},
			reject:   []string{"14155550100", "+1 415 555 0100", "+0123456", "+1234567890123456", "0044 7700 900123", "+1-415-555-0100"},
			mentions: "E.164",
		},
		{
			param:    "AlertEmail",
			accept:   []string{"", "oncall@example.com"},
			reject:   []string{"oncall", "a@b", "a b@example.com", "a@example.com,b@example.com"},
			mentions: "email",
		},
	}
	for _, tt := range tests {
		t.Run(tt.param, func(t *testing.T) {
			t.Parallel()
			re := regexp.MustCompile(stringAt(t, tpl, "Parameters", tt.param, "AllowedPattern"))
			for _, v := range tt.accept {
				require.True(t, re.MatchString(v), "%s must accept %q", tt.param, v)
			}
			for _, v := range tt.reject {
				require.False(t, re.MatchString(v), "%s must refuse %q", tt.param, v)
			}
			require.Contains(t, stringAt(t, tpl, "Parameters", tt.param, "ConstraintDescription"), tt.mentions)
		})
	}
}
