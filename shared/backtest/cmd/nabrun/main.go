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
	dp := d.Params
	fl := flag.NewFlagSet("nabrun", flag.ContinueOnError)
	data := fl.String("data", "", "directory of CSV files (searched recursively)")
	out := fl.String("out", "", "output directory")
	workers := fl.Int("workers", 0, "files evaluated in parallel (0: GOMAXPROCS)")
	verbose := fl.Bool("v", false, "print a summary line per file")
	method := fl.String("method", string(dp.Method), "window | robust | seasonal")
	direction := fl.String("direction", string(dp.Direction), "up | down | both")
	threshold := fl.Float64("threshold", dp.Threshold, "|z| that fires")
	resolve := fl.Float64("resolve", dp.ResolveThreshold, "|z| below which an active alert clears (0: 0.75×threshold)")
	minSD := fl.Float64("min-stddev", dp.MinStdDev, "absolute floor under σ")
	minRel := fl.Float64("min-rel-stddev", dp.MinRelativeStdDev, "floor under σ relative to |centre|")
	minPoints := fl.Int("min-points", dp.MinPoints, "fewest baseline points")
	smooth := fl.Duration("smoothing", dp.Smoothing, "current value: the points of the last this long (0: the latest point)")
	smoothFn := fl.String("smooth-fn", string(dp.SmoothingFunc), "mean | median")
	baseline := fl.Duration("baseline", dp.Baseline, "baseline window")
	gap := fl.Duration("gap", dp.Gap, "newest stretch left out of the baseline")
	minHistory := fl.Duration("min-history", dp.MinHistory, "history needed before any decision")
	forDur := fl.Duration("for", d.Timing.For, "pending duration before firing")
	keep := fl.Duration("keep-firing-for", d.Timing.KeepFiringFor, "keep firing this long after the condition clears")
	repeat := fl.Duration("repeat", d.Timing.RepeatInterval, "repeat interval")
	sustained := fl.Duration("sustained", dp.Sustained, "window of the sustained average (0: off)")
	susT := fl.Float64("sustained-threshold", dp.SustainedThreshold, "|z| of the sustained average that also fires")
	season := fl.Duration("season", dp.Season, "season of the seasonal method")
	seasons := fl.Int("seasons", dp.Seasons, "seasons of the seasonal method")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return fmt.Errorf("-data and -out are required")
	}
	p := dp
	p.Method, p.Direction = anomaly.Method(*method), anomaly.Direction(*direction)
	p.Threshold, p.ResolveThreshold = *threshold, *resolve
	p.MinStdDev, p.MinRelativeStdDev, p.MinPoints = *minSD, *minRel, *minPoints
	p.Smoothing, p.SmoothingFunc = *smooth, anomaly.Smoothing(*smoothFn)
	p.Baseline, p.Gap, p.MinHistory = *baseline, *gap, *minHistory
	p.Sustained, p.SustainedThreshold = *sustained, *susT
	p.Season, p.Seasons = *season, *seasons
	r := backtest.Rule{
		Name:   "nab",
		Params: p,
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
			if _, err := fmt.Fprintf(stdout, "%-60s ticks=%d insufficient=%d pendings=%d firings=%d resolves=%d notifications=%d\n",
				s.Path, s.Ticks, s.Insufficient, s.Pendings, s.Firings, s.Resolves, s.Notifications); err != nil {
				return err
			}
		}
		total.Ticks += s.Ticks
		total.Pendings += s.Pendings
		total.Firings += s.Firings
		total.Resolves += s.Resolves
		total.Notifications += s.Notifications
	}
	_, err = fmt.Fprintf(stdout, "files=%d ticks=%d pendings=%d firings=%d resolves=%d notifications=%d elapsed=%s\n",
		len(sums), total.Ticks, total.Pendings, total.Firings, total.Resolves, total.Notifications, time.Since(start).Round(time.Millisecond))
	return err
}
