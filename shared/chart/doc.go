// Package chart draws the picture of one anomaly rule over one series as a
// PNG: the series, its baseline band (centre ± threshold × spread, from the
// baseline each tick was scored against), the points over the threshold and
// the firing intervals shaded behind them. It is what the backtest writes
// next to each result and what `make demo` writes for each alerted series —
// the picture a user would otherwise open Grafana for.
//
// # Not in the Lambda path
//
// The package uses gonum.org/v1/plot, which adds about 8 MB (fonts, image
// codecs) and a few milliseconds of package initialisation to a binary. Only
// the backtest and the demo import it; the deployed functions must not, so
// that the bootstrap stays within its cold-start budget. A command that
// offers the backtest in the same binary as the Lambda handler should wire
// it in a file excluded from the Lambda build (for example with the
// `lambda.norpc` build tag the Makefile sets).
//
// # Input
//
// A [Chart] is plain data (times and float64s), so callers need no gonum
// type. Non-finite values are gaps: the line and the band break there
// instead of failing the render.
package chart
