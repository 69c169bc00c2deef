package alertengine_test

import (
	"flag"
	"os"
	"testing"

	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

var (
	moto   *testenv.Moto
	update = flag.Bool("update", false, "rewrite the golden files")
)

// TestMain starts one moto for the package; tests use unique names in it.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testenv.RunWithMoto(m, &moto))
}
