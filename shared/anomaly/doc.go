// Package anomaly is the pure z-score maths behind sigmawatch's anomaly rules:
// baselines, floors under the spread, smoothing of the current value, the
// signed z-score and the fire/resolve decision with hysteresis.
//
// It does no I/O, reads no clock and never imports AWS or HTTP code, so the
// deployed alert function, the backtest and the tests all run the very same
// arithmetic.
//
// # Baselines
//
// The shipped method, auto, is package detector's online detector; this
// package holds its vocabulary (Method, Direction, Params, Result) and its
// rule-settable defaults. The classic methods' maths is here:
//
// A [Baseline] is a centre, a spread and the number of points behind them.
// It can be built from raw points or from aggregates computed elsewhere:
//
//   - method window: [WindowBaseline] over raw points, or [BaselineFromMoments]
//     over what PromQL returns for avg_over_time, stddev_over_time and
//     count_over_time of the same range. Both use the population standard
//     deviation, as stddev_over_time does, so the two agree.
//   - method robust: [RobustBaseline] (median and 1.4826·MAD, which estimates σ
//     for Gaussian data) over raw points; there is no exact PromQL form of the
//     MAD, so callers fetch the points. Its window ends on a whole hour
//     ([Params.RobustEnd]), so it is computed once per series and hour. [RobustFromSorted]
//     computes it in O(log n) from an already sorted window, which lets a
//     sliding-window caller such as the backtest avoid sorting every tick.
//   - method seasonal: the same time-of-week 1, 2 and 3 weeks back. Each week
//     is a season summarised by its moments ([WindowBaseline] over raw points,
//     or [BaselineFromMoments] over avg/stddev/count_over_time … offset 1w);
//     [SeasonalBaseline] pools them with the law of total variance, so a
//     level that differs between weeks widens the band instead of paging.
//
// NaN and ±Inf points are ignored everywhere. Sums are computed on values
// scaled by the largest magnitude, so values near the float64 limits do not
// overflow into Inf or NaN.
//
// # Scoring
//
// [Params.Score] applies the floors (σ' = max(σ, min_stddev,
// min_relative_stddev·|centre|), so a flat or near-constant series does not
// page on noise), checks the minimum history (too few points, or too few
// seasons, give [StatusInsufficientData], never an anomaly) and returns the
// signed z of the current value. [Current] smooths the current value over
// the points of the smoothing window. [Params.Anomalous] turns z into a
// decision: the fire
// threshold applies while the alert is inactive, the lower resolve threshold
// while it is pending or firing, which is what stops an alert from flapping
// around a single threshold.
//
// # Windows are durations
//
// Every window of [Params] — the baseline, the gap, the smoothing of the
// current value, the sustained average, the minimum history — is a
// duration, and the points of a window ending at t are those with
// timestamps in (t−length, t], PromQL's range semantics. So a rule means
// the same on 1-minute and 5-minute data: 15 minutes of smoothing is 3
// points of 5-minute data and 15 of 1-minute data. The callers (the
// deployed evaluation over PromQL, the backtest over points) select the
// points; this package only combines them.
//
// # Sustained shifts
//
// One threshold cannot serve both kinds of incident: a short burst must be
// far out (6σ) to be told from noise, while a shift that lasts is an
// incident well before any single point is that far out, and a trailing
// baseline absorbs it within hours. [Params.Sustained] and
// [Params.SustainedThreshold] add a second, longer average (by default the
// last 90 minutes) scored against the same baseline with its own, lower
// threshold (by default 1.5σ); [Params.Holds] makes the decision of one
// evaluation from both scores, the one the deployed function and the
// backtest share. On NAB's CloudWatch series this is what lifts the score
// past the aims (shared/backtest/RESULTS.md).
package anomaly
