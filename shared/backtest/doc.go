// Package backtest replays an anomaly rule over history, one tick per
// point, through the same anomaly maths (package anomaly) and the same state
// machine (alerting.Step) as the deployed alert function, and reads and
// writes the NAB-style CSV files that `alert -backtest -csv DIR` takes.
//
// No look-ahead: the tick at index t sees only the points at indices ≤ t,
// which [Run] guarantees by construction (it feeds points one by one to an
// evaluator that has never seen the later ones).
//
// Cost: the trailing window slides with two indices, so each point enters
// and leaves it once; the robust method keeps the window's values sorted
// (an insertion and a deletion per tick) and reads the median and MAD from
// the sorted slice in O(log n) with anomaly.RobustFromSorted instead of
// sorting at every tick. A 7-day window at 5 minutes (2,016 points) over
// NAB's 67,740 rows runs in well under a second per configuration.
//
// The NAB output's anomaly_score is 1 exactly at the ticks where the alert
// goes firing (pending → firing, or inactive → firing when for is 0), which
// is when a person would be paged, and 0 elsewhere.
//
// # The user feature
//
// [RunCLI] is `alert -backtest -config RULES [-rule NAME] (-csv DIR | -from
// RFC3339 -to RFC3339) -out DIR`: it loads rules.yaml, maps each anomaly
// rule with [RuleFromConfig] (alerting.SpecOf's detector and timing: the
// mapping the deployed function uses too), replays it over CSV files or
// over Prometheus history ([ReplayPrometheus], through a consumer-declared
// [Querier], reading every stored point once at its own time, as the
// deployed evaluation's windows do), and
// writes a result CSV and a PNG chart (package chart) per series plus a
// report of what would have been paged. Because it imports package chart
// (gonum/plot), a binary that serves Lambda should wire RunCLI in a file
// left out of its Lambda build.
package backtest
