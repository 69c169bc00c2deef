package main

import (
	"flag"
	"os"
	"testing"

	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

var moto *testenv.Moto

// TestMain starts one moto for the package; tests use unique names in it.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testenv.RunWithMoto(m, &moto))
}
