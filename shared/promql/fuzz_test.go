package promql_test

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/promql"
)

// fixedAnswer answers every request in memory with the same status and body.
type fixedAnswer struct {
	status int
	body   []byte
}

func (f fixedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: f.status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(f.body)),
		Request:    r,
	}, nil
}

// FuzzResponse feeds arbitrary bytes to the client as a server's answer:
// it must never panic, and whatever it accepts must be well-formed.
func FuzzResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		code := 200 + int(status)%400 // 200..599
		c, err := promql.NewClient("http://prom.invalid:9090", fixedAnswer{status: code, body: body})
		require.NoError(t, err)
		at := time.Unix(1795623180, 0)

		samples, err := c.Query(t.Context(), "up", at)
		if err == nil {
			require.Equal(t, 2, code/100, "only a 2xx answer can succeed")
			for _, s := range samples {
				require.NotNil(t, s.Labels)
				require.Equal(t, time.UTC, s.T.Location())
			}
		}
		series, err := c.QueryRange(t.Context(), "up", at, at.Add(time.Hour), time.Minute)
		if err == nil {
			require.Equal(t, 2, code/100, "only a 2xx answer can succeed")
			for _, s := range series {
				require.NotNil(t, s.Labels)
				require.NotEmpty(t, s.Points)
				for _, p := range s.Points {
					_ = math.IsNaN(p.V)
				}
			}
		}
		_, _ = c.QuerySeries(t.Context(), "up[5m]", at)
	})
}
