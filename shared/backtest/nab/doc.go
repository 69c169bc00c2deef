// Package nab loads the Numenta Anomaly Benchmark corpus (NAB v1.1: data
// files in category folders and a windows JSON) and scores alert decisions
// with NAB's rules, so a parameter sweep can score thousands of detector
// configurations in-process.
//
// The scoring is a port of the rules that the project's reference scorer,
// score.py (kept beside NAB's data, outside this repository), applies:
//
//   - the first 15 % of a file's rows (at most 750) are probationary:
//     detections there are ignored, and so are window rows inside it;
//   - inside a labelled window only the earliest detection counts, worth
//     tp·σ(p)/σ(-1) at relative position p, σ(p) = 2/(1+e^(5p)) − 1;
//     a window without detection costs −fn;
//   - a detection outside every window costs fp·σ(d), d being its distance
//     from the right edge of the preceding window in window widths (−fp when
//     there is none, or beyond three widths);
//   - the raw score sums over the files scored; it is normalised as
//     100·(raw − null)/(perfect − null), null = −fn per scorable window,
//     perfect = tp per labelled window.
//
// Only the fixed-threshold mode is ported: sigmawatch's detections are alert
// decisions (1 at the tick an alert goes firing, 0 elsewhere), scored at the
// threshold 0.5. Every figure this package produces for a report must be
// checked against score.py itself: cmd/nabcv's -check writes the results
// files and runs it.
package nab
