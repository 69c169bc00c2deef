package main

import (
	"flag"
	"fmt"
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
	var stop func()
	var err error
	moto, stop, err = testenv.StartMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}
