package collector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
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
