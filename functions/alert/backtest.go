//go:build !lambda.norpc

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/backend"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/config"
)

// backtestTimeout bounds a backtest: unlike a scheduled run, it may replay
// weeks of history.
const backtestTimeout = time.Hour

// runBacktest is the CLI's -backtest: "what would this rule have done last
// month?" It lives only in the CLI build; the Lambda build (-tags
// lambda.norpc) leaves it and the chart library out of the bootstrap.
func runBacktest(ctx context.Context, configPath string, f backtestFlags, env config.Env, logger *slog.Logger, stdout io.Writer) error {
	opts := backtest.CLIOptions{Config: configPath, Rule: *f.rule, CSVDir: *f.csv, Out: *f.out}
	for _, tf := range []struct {
		name string
		val  string
		dst  *time.Time
	}{{"-from", *f.from, &opts.From}, {"-to", *f.to, &opts.To}} {
		if tf.val == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, tf.val)
		if err != nil {
			return fmt.Errorf("%s: %q is not RFC 3339", tf.name, tf.val)
		}
		*tf.dst = t
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.CSVDir == "" {
		if err := env.Require("SIGMAWATCH_PROMETHEUS_URL"); err != nil {
			return fmt.Errorf("%w (a -from/-to backtest reads history from Prometheus)", err)
		}
		awsCfg, err := awsconf.Load(ctx)
		if err != nil {
			return err
		}
		store, err := backend.New(ctx, env, awsCfg, logger)
		if err != nil {
			return err
		}
		opts.Querier = store.Querier
	}
	ctx, cancel := context.WithTimeout(ctx, backtestTimeout)
	defer cancel()
	return backtest.RunCLI(ctx, opts, stdout)
}
