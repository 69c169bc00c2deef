package detector

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// The kept top peaks are the largest of all peaks, as a full sort gives.
func TestPeaksKeepTheLargest(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n := r.IntN(50)
		rank := 1 + r.IntN(maxPeakRank)
		var p peaks
		var all []float64
		for range n {
			x := float64(r.IntN(20)) // ties included
			all = append(all, x)
			p.add(x, rank)
		}
		slices.Sort(all)
		slices.Reverse(all)
		want := append([]float64{}, all[:min(rank, len(all))]...)
		require.Equal(t, want, append([]float64{}, p.v[:p.n]...), "trial %d", trial)
	}
}
