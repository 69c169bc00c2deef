package main

import (
	"os"
	"testing"

	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// moto serves every test of this package (DESIGN.md: one moto per package,
// unique resource names per test).
var moto *testenv.Moto

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithMoto(m, &moto))
}
