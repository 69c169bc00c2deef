package e2e_test

import (
	"os"
	"testing"

	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

var moto *testenv.Moto

// TestMain starts one moto for the package.
func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithMoto(m, &moto))
}
