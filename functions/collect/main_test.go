package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/sigmawatch/sigmawatch/shared/testenv"
)

// moto serves every test of this package (DESIGN.md: one moto per package,
// unique resource names per test).
var moto *testenv.Moto

func TestMain(m *testing.M) {
	var stop func()
	var err error
	moto, stop, err = testenv.StartMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = context.Background()
	code := m.Run()
	stop()
	os.Exit(code)
}
