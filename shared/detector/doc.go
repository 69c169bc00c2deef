// Package detector is sigmawatch's online anomaly detector: state in, one
// point in, state and decision out. The deployed alert function and the
// backtest run this same code: the function persists the State between
// runs and feeds it the points that arrived since, the backtest keeps it in
// memory and feeds it a whole series, so both take the same decisions on
// the same data. It does no I/O and reads no clock.
//
// # What it keeps
//
// A State holds, for one series, one summary per clock hour of the
// look-back (the moments of the values the hour taught the baseline — a
// weighted count, mean and sum of squared deviations — how many points it
// had, how many were far out, and its peak smoothed |z|), the hour in
// progress, the residuals of the smoothing window and a few numbers (two
// CUSUM sums, whether the series was anomalous at its last point, whether
// it has only ever been whole numbers). Its size depends on the look-back
// in hours, not on the data's resolution: four weeks are 672 hourly
// summaries whether the metric comes every minute or every five. That is
// what lets the deployed function read recent raw points plus summaries
// (issue 14) instead of re-reading the whole baseline window every tick.
//
// # Baselines that know the time of day and of the week
//
// Each hour, three models are fitted on the summaries, as CloudWatch's
// anomaly detection learns daily and weekly patterns once it has history:
//
//   - recent: every hour of the last Baseline alike (a trailing window);
//   - daily: each hour of the day its own mean and spread, over the last
//     Baseline, from DailyAfter of history on;
//   - weekly: each hour of the week, over the last Weeks weeks, from
//     WeeklyAfter of history on.
//
// A seasonal model is used only when its residual variance is below
// SeasonalGain times that of the simpler model on the same hours, so a
// series without a pattern keeps the simple baseline (24 or 168 buckets
// always "explain" some noise). Before DailyAfter, the recent model is the
// fallback; before MinHistory there is no decision at all.
//
// A seasonal bucket's spread pools its own variance with the model's
// residual variance (Pool), so a bucket of a few quiet nights does not get
// a spread of almost nothing; and the residual is measured from the band
// spanned by the means of the buckets within Tolerance hours, so a batch
// job that starts a few minutes early, or business hours that move by an
// hour in UTC with daylight saving time, are not anomalies.
//
// # A baseline an incident does not poison
//
// A point whose residual is beyond Trust spreads enters its hour's summary
// with weight (Trust/|z|)²: a 30-minute burst adds at most Trust² spreads²
// per point to the variance instead of inflating it for a week, and the
// same burst a day later pages again. Points keep their real values, only
// their weight shrinks, so a regime the current model has not learned yet
// (Saturdays, while the model is still daily) is learned exactly in its
// own hour-of-week bucket. Down-weighting is for what is rare: once more
// than a share Rare of the look-back's points are beyond Trust, the
// series' heavy tail is its normal (a disk that flushes every half hour, a
// cron job at the top of every hour) and points are learned at full
// weight. Config.Exclude skips time ranges altogether (a load test, a
// known incident), as CloudWatch lets a user exclude them from training.
//
// # Two checks
//
// Burst: the mean of the standardized residuals over the last Smoothing
// (each point against its own hour's baseline) is beyond Threshold — and,
// for a series that was not anomalous, beyond PeakFactor × the
// PeakRank-th largest hourly peak of the look-back: what a series does
// every few days is not news, while one earlier incident does not hide the
// next. A spike, a drop to zero, a burst.
//
// Shift: a two-sided CUSUM over the residuals clipped to ±ShiftClip,
// S⁺ = min(h, max(0, S⁺ + w·(e − k))), which holds once S⁺ reaches the
// limit h = ShiftLimit. A shift of δ spreads (δ > k = ShiftSlack) is
// flagged after about h/(δ − k) periods of ShiftPeriod — a well-defined
// duration in data time, whatever the resolution: a point counts for its
// spacing over ShiftPeriod (at most one period), so 1-minute data needs as
// long as 5-minute data. Residuals that wander together (a level that
// drifts for hours) carry less evidence each than white noise: the input
// is divided by the square root of the look-back's variance inflation of
// hour means, so a wandering level is not a shift while a jump on a steady
// series is. Capping S at h bounds how long it takes to fall back: an
// alert on a shift clears about (1 − ResolveRatio)·h/k periods after the
// data is back.
//
// Both checks use hysteresis: once anomalous, a series stays so until both
// fall below ResolveRatio of their limits.
//
// # Floors in the metric's own units
//
// The spread is floored at MinStdDev (in the metric's units), at
// MinRelativeStdDev·|centre|, and, for a series whose every value so far is
// a whole number (a count), at 1: after a week of zeros, one error is z = 1,
// not 10⁸, while a thousand errors still page.
//
// The defaults were chosen by leave-one-category-out cross-validation on
// the NAB corpus under the constraint of zero pages on the healthy-pattern
// suite (shared/backtest/nab/RESULTS.md says what was tuned on what).
package detector
