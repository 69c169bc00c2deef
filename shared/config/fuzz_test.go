package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzLoad checks that no input makes LoadCollect panic and that whatever it
// accepts is valid and stays valid after a second resolve. Seeds live in
// testdata/fuzz/FuzzLoad so a plain `go test` runs them.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadCollect(data)
		if err != nil {
			require.Nil(t, c)
			return
		}
		require.NoError(t, c.Validate())
		c.resolve()
		require.NoError(t, c.Validate())
		_, err = c.SelectJobs(nil)
		require.NoError(t, err)
	})
}
