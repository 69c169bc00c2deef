package rules

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzLoad checks that no input makes Load panic and that whatever Load
// accepts stays valid and flattens cleanly. Seeds live in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := Load(data)
		if err != nil {
			require.Nil(t, rf)
			return
		}
		require.NoError(t, rf.Validate())
		for _, r := range rf.Rules() {
			require.NotEmpty(t, r.Group)
			require.Positive(t, r.RepeatInterval)
			if r.Anomaly != nil {
				require.LessOrEqual(t, r.Anomaly.ResolveThreshold, r.Anomaly.Threshold)
			}
		}
	})
}
