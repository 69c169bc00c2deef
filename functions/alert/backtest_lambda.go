//go:build lambda.norpc

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/sigmawatch/sigmawatch/shared/config"
)

// runBacktest is not part of the Lambda build: the backtest and its chart
// library stay out of the bootstrap, which the cold start pays for.
func runBacktest(context.Context, string, backtestFlags, config.Env, *slog.Logger, io.Writer) error {
	return errors.New("-backtest is part of the CLI build (go run ./functions/alert), not of the Lambda bootstrap")
}
