// Command nabrun backtests one anomaly rule over a directory of NAB-style
// CSV files and writes NAB results files, for tuning the default rule with
// NAB's scorer:
//
//	go run ./shared/backtest/cmd/nabrun -data /work/shared/nab/data -out /tmp/nab [flags]
//	python3 /work/shared/nab/score.py --data /work/shared/nab/data \
//	    --labels /work/shared/nab/labels/realAWSCloudwatch_windows.json --results /tmp/nab --threshold 0.5
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nabrun:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	d := backtest.DefaultRule()
	fl := flag.NewFlagSet("nabrun", flag.ContinueOnError)
	data := fl.String("data", "", "directory of CSV files (searched recursively)")
	out := fl.String("out", "", "output directory")
	workers := fl.Int("workers", 0, "files evaluated in parallel (0: GOMAXPROCS)")
	verbose := fl.Bool("v", false, "print a summary line per file")
	method := fl.String("method", string(d.Params.Method), "window | robust | seasonal")
	direction := fl.String("direction", string(d.Params.Direction), "up | down | both")
	threshold := fl.Float64("threshold", d.Params.Threshold, "|z| that fires")
	resolve := fl.Float64("resolve", d.Params.ResolveThreshold, "|z| below which an active alert clears (0: 0.75×threshold)")
	minSD := fl.Float64("min-stddev", d.Params.MinStdDev, "absolute floor under σ")
	minRel := fl.Float64("min-rel-stddev", d.Params.MinRelativeStdDev, "floor under σ relative to |centre|")
	minPoints := fl.Int("min-points", d.Params.MinPoints, "fewest baseline points")
	smooth := fl.Int("smooth", d.Params.SmoothingPoints, "K: current value over the last K points")
	smoothFn := fl.String("smooth-fn", string(d.Params.Smoothing), "mean | median")
	baseline := fl.Duration("baseline", d.Baseline, "baseline window")
	gap := fl.Duration("gap", d.Gap, "newest stretch left out of the baseline")
	minHistory := fl.Duration("min-history", d.MinHistory, "history needed before any decision")
	forDur := fl.Duration("for", d.Timing.For, "pending duration before firing")
	keep := fl.Duration("keep-firing-for", d.Timing.KeepFiringFor, "keep firing this long after the condition clears")
	repeat := fl.Duration("repeat", d.Timing.RepeatInterval, "repeat interval")
	susN := fl.Int("sustained-points", d.Params.SustainedPoints, "points of the sustained average (0: off)")
	susT := fl.Float64("sustained-threshold", d.Params.SustainedThreshold, "|z| of the sustained average that also fires")
	season := fl.Duration("season", d.Season, "season of the seasonal method (0: 1w)")
	seasons := fl.Int("seasons", d.Seasons, "seasons of the seasonal method (0: 3)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return fmt.Errorf("-data and -out are required")
	}
	r := backtest.Rule{
		Name: "nab",
		Params: anomaly.Params{
			Method: anomaly.Method(*method), Direction: anomaly.Direction(*direction),
			Threshold: *threshold, ResolveThreshold: *resolve,
			MinStdDev: *minSD, MinRelativeStdDev: *minRel, MinPoints: *minPoints,
			MinSeasons: anomaly.DefaultMinSeasons, SmoothingPoints: *smooth, Smoothing: anomaly.Smoothing(*smoothFn),
			SustainedPoints: *susN, SustainedThreshold: *susT,
		},
		Baseline: *baseline, Gap: *gap, MinHistory: *minHistory, Season: *season, Seasons: *seasons,
		Timing: alerting.Timing{For: *forDur, KeepFiringFor: *keep, RepeatInterval: *repeat},
	}
	start := time.Now()
	sums, err := backtest.RunDir(*data, *out, r, *workers)
	if err != nil {
		return err
	}
	var total backtest.Summary
	for _, s := range sums {
		if *verbose {
			fmt.Fprintf(stdout, "%-60s ticks=%d insufficient=%d pendings=%d firings=%d resolves=%d notifications=%d\n",
				s.Path, s.Ticks, s.Insufficient, s.Pendings, s.Firings, s.Resolves, s.Notifications)
		}
		total.Ticks += s.Ticks
		total.Pendings += s.Pendings
		total.Firings += s.Firings
		total.Resolves += s.Resolves
		total.Notifications += s.Notifications
	}
	fmt.Fprintf(stdout, "files=%d ticks=%d pendings=%d firings=%d resolves=%d notifications=%d elapsed=%s\n",
		len(sums), total.Ticks, total.Pendings, total.Firings, total.Resolves, total.Notifications, time.Since(start).Round(time.Millisecond))
	return nil
}
