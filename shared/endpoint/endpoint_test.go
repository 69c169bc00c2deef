package endpoint_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/endpoint"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw string
		wantErr   string // empty: accepted
	}{
		{"https with path", "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write", ""},
		{"http loopback", "http://127.0.0.1:9090", ""},
		{"bad escape in path", "https://store.example/api/%zz/write?token=SECRET1#SECRET2", `"https://store.example/api/%zz/write": not a URL: invalid %-escape`},
		{"wrong scheme", "ftp://user:SECRET1@store.example/write?token=SECRET2#SECRET3", `"ftp://store.example/write": want an http or https URL`},
		{"user info", "https://SECRET1:SECRET2@store.example/write?token=SECRET3", `"https://store.example/write": credentials in the URL are not allowed`},
		{"user info, bad escape", "https://SECRET1:SEC%zzRET2@store.example/write?token=SECRET3", `"https://store.example/write": not a URL: invalid %-escape`},
		{"no host", "https:///write?token=SECRET1", `"https:///write": no host`},
		{"no scheme", "store.example/write?token=SECRET1", `"store.example/write": want an http or https URL`},
		{"control character", "https://store.example/\x7fwrite?token=SECRET1", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := endpoint.Parse(tt.raw)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tt.raw, u.String())
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "SECRET")
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"https://u:p@store.example:8443/api/v1/write?token=x#f", "https://store.example:8443/api/v1/write"},
		{"https://store.example", "https://store.example"},
		{"store.example/write?x", "store.example/write"},
		{"https://a@b@store.example/x", "https://store.example/x"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, endpoint.Redact(tt.raw), tt.raw)
	}
}
