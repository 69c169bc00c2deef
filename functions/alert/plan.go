package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alertplan"
	"github.com/sigmawatch/sigmawatch/shared/awsconf"
	"github.com/sigmawatch/sigmawatch/shared/backend"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/rules"
)

// planFlags are the CLI's -plan flags.
type planFlags struct {
	enabled              *bool
	interval, resolution *time.Duration
	series               *int
	price, ingest        *float64
}

// runPlan prints the cost preview of the rules (package alertplan): the
// store, when SIGMAWATCH_PROMETHEUS_URL is set, counts each rule's series
// and measures their resolution; -series and -resolution stand in for it.
func runPlan(ctx context.Context, file *rules.File, pf planFlags, env config.Env, logger *slog.Logger, stdout io.Writer) error {
	if *pf.series < 0 || *pf.resolution < 0 || *pf.interval < 0 || *pf.price < 0 || *pf.ingest < 0 {
		return fmt.Errorf("-plan: -series, -resolution, -interval, -usd-per-billion-samples and -usd-per-billion-ingested must not be negative")
	}
	o := alertplan.Options{Interval: *pf.interval, USDPerBillionSamples: *pf.price, USDPerBillionIngested: *pf.ingest, Series: *pf.series, Resolution: *pf.resolution, At: time.Now().UTC()}
	if env.PrometheusURL != "" && (*pf.series == 0 || *pf.resolution == 0) {
		awsCfg, err := awsconf.Load(ctx)
		if err != nil {
			return err
		}
		store, err := backend.New(ctx, env, awsCfg, logger)
		if err != nil {
			return err
		}
		o.Query = store.Querier
	} else if *pf.series == 0 {
		return fmt.Errorf("-plan: pass -series N (the series each rule reads) or set SIGMAWATCH_PROMETHEUS_URL to count them in the store")
	}
	p, err := alertplan.Make(ctx, file, o)
	if err != nil {
		return err
	}
	return p.Print(stdout)
}
