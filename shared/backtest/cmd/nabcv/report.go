package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/backtest/nab"
)

// anchors are NAB's committed results per category (standard / low-FP /
// low-FN), as the NAB folder's README lists them: HTM at its threshold
// 0.5422, the windowed Gaussian at 1.0.
var anchors = map[string]struct{ htm, wg [3]float64 }{
	"realAWSCloudwatch":     {[3]float64{73.4, 68.7, 76.7}, [3]float64{31.2, 4.9, 41.9}},
	"realKnownCause":        {[3]float64{55.5, 45.8, 61.5}, [3]float64{13.4, 9.9, 15.9}},
	"realAdExchange":        {[3]float64{76.9, 73.3, 79.8}, [3]float64{56.9, 53.8, 59.4}},
	"realTraffic":           {[3]float64{82.5, 79.0, 86.0}, [3]float64{64.3, 61.5, 66.7}},
	"realTweets":            {[3]float64{68.0, 58.7, 72.6}, [3]float64{51.4, 16.3, 64.6}},
	"artificialWithAnomaly": {[3]float64{70.2, 62.2, 74.6}, [3]float64{2.6, -11.2, 7.3}},
	"whole":                 {[3]float64{70.1, 63.2, 74.3}, [3]float64{39.6, 20.9, 47.4}},
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func all(string) bool { return true }

func only(cat string) func(string) bool { return func(c string) bool { return c == cat } }

// triple formats a pooled score as standard / low-FP / low-FN.
func triple(r nab.Result, keep func(string) bool) string {
	return fmt.Sprintf("%.1f / %.1f / %.1f",
		r.Pooled(nab.Standard, keep).Normalized(nab.Standard),
		r.Pooled(nab.LowFP, keep).Normalized(nab.LowFP),
		r.Pooled(nab.LowFN, keep).Normalized(nab.LowFN))
}

func countTriple(c map[string]nab.Count) string {
	return fmt.Sprintf("%.1f / %.1f / %.1f", c["standard"].Normalized(nab.Standard), c["low_fp"].Normalized(nab.LowFP), c["low_fn"].Normalized(nab.LowFN))
}

// scoredCategories are the categories with windows: artificialNoAnomaly
// only adds false positives and has no score of its own.
func scoredCategories(c *nab.Corpus) []string {
	var out []string
	for _, cat := range c.Categories() {
		if _, ok := anchors[cat]; ok {
			out = append(out, cat)
		}
	}
	return out
}

func row(c *nab.Corpus, r nab.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-60s whole %s | aws %.1f |", r.Name, triple(r, all), r.Pooled(nab.Standard, only(aws)).Normalized(nab.Standard))
	for _, cat := range scoredCategories(c) {
		fmt.Fprintf(&b, " %s %.1f", short(cat), r.Pooled(nab.Standard, only(cat)).Normalized(nab.Standard))
	}
	whole := r.Pooled(nab.Standard, all)
	fmt.Fprintf(&b, " | TP %d FN %d FP %d (burst %g shift %g both %g; refire <1h %g <6h %g)", whole.TP, whole.FN, whole.FP, r.Notes["nab_firings_burst"], r.Notes["nab_firings_shift"], r.Notes["nab_firings_both"], r.Notes["nab_refire_1h"], r.Notes["nab_refire_6h"])
	fmt.Fprintf(&b, " | healthy %g/%g incidents missed %g slow %g false %g spread×%.2f eligible=%v",
		r.Notes["healthy_pages_1m"], r.Notes["healthy_pages_5m"], r.Notes["incident_missed"], r.Notes["incident_slow_resolve"], r.Notes["incident_false_pages"], r.Notes["incident_spread_ratio"], r.Eligible)
	return b.String()
}

func short(cat string) string {
	return map[string]string{
		"realAWSCloudwatch": "AWS", "realKnownCause": "KC", "realAdExchange": "Ad", "realTraffic": "Tr",
		"realTweets": "Tw", "artificialWithAnomaly": "Art", "artificialNoAnomaly": "noAn",
	}[cat]
}

// report writes the cross-validation and the table of every configuration,
// in Markdown.
func report(w io.Writer, c *nab.Corpus, results []nab.Result) error {
	// The report is built in memory and written once: one error to check.
	var b strings.Builder
	writeReport(&b, c, results)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeReport(out *strings.Builder, c *nab.Corpus, results []nab.Result) {
	cats := c.Categories()
	eligible := 0
	for _, r := range results {
		if r.Eligible {
			eligible++
		}
	}
	fmt.Fprintf(out, "%d configurations, %d eligible (zero pages on the healthy suite, every incident paged and resolved within 30 minutes, no false page around them, and the band at a burst's hour a day later at most %g× as wide as before it).\n\n", len(results), eligible, maxSpreadRatio)
	if eligible == 0 {
		return
	}

	cv := nab.CrossValidate(results, cats)
	fmt.Fprintln(out, "## Leave one category out")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| held out | chosen on the other six | held-out score (std / low-FP / low-FN) | windowed Gaussian there | HTM there |")
	fmt.Fprintln(out, "|---|---|---|---|---|")
	for _, f := range cv.Folds {
		a, ok := anchors[f.Category]
		held := "no windows (FP " + fmt.Sprint(f.Counts["standard"].FP) + ")"
		wg, htm := "", ""
		if ok {
			held = countTriple(f.Counts)
			wg = fmt.Sprintf("%.1f / %.1f / %.1f", a.wg[0], a.wg[1], a.wg[2])
			htm = fmt.Sprintf("%.1f / %.1f / %.1f", a.htm[0], a.htm[1], a.htm[2])
		}
		fmt.Fprintf(out, "| %s | `%s` | %s | %s | %s |\n", f.Category, results[f.Chosen].Name, held, wg, htm)
	}
	fmt.Fprintf(out, "\nPooled held-out score (each category scored by a configuration chosen without it): **%s** (standard / low-FP / low-FN).\n\n", countTriple(cv.Total))

	best, bestScore := -1, math.Inf(-1)
	for i, r := range results {
		if r.Eligible {
			if s := nab.Objective(r, all); s > bestScore {
				best, bestScore = i, s
			}
		}
	}
	b := results[best]
	fmt.Fprintln(out, "## Chosen on all seven categories")
	fmt.Fprintln(out)
	fmt.Fprintf(out, "`%s`: whole corpus **%s**, AWS subset %s.\n\n", b.Name, triple(b, all), triple(b, only(aws)))
	fmt.Fprintln(out, "| category | this configuration | windowed Gaussian | HTM |")
	fmt.Fprintln(out, "|---|---|---|---|")
	for _, cat := range scoredCategories(c) {
		a := anchors[cat]
		fmt.Fprintf(out, "| %s | %s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f |\n", cat, triple(b, only(cat)), a.wg[0], a.wg[1], a.wg[2], a.htm[0], a.htm[1], a.htm[2])
	}
	fmt.Fprintf(out, "| artificialNoAnomaly | %d false positives | | |\n\n", b.Counts["artificialNoAnomaly"]["standard"].FP)

	fmt.Fprintln(out, "## Every configuration")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Sorted by the objective (mean of standard and low-FP) on the whole corpus. Columns: whole corpus std / low-FP / low-FN; AWS subset standard; per-category standard; healthy-suite pages in the judged 14 days at 1m / 5m; incidents missed / resolved late / false pages.")
	fmt.Fprintln(out)
	order := make([]int, len(results))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		return -cmpFloat(nab.Objective(results[i], all), nab.Objective(results[j], all))
	})
	header := "| configuration | whole | AWS |"
	sep := "|---|---|---|"
	for _, cat := range scoredCategories(c) {
		header += " " + short(cat) + " |"
		sep += "---|"
	}
	fmt.Fprintln(out, header+" healthy | incidents | burst spread ratio |")
	fmt.Fprintln(out, sep+"---|---|---|")
	for _, i := range order {
		r := results[i]
		line := fmt.Sprintf("| `%s` | %s | %.1f |", r.Name, triple(r, all), r.Pooled(nab.Standard, only(aws)).Normalized(nab.Standard))
		for _, cat := range scoredCategories(c) {
			line += fmt.Sprintf(" %.1f |", r.Pooled(nab.Standard, only(cat)).Normalized(nab.Standard))
		}
		line += fmt.Sprintf(" %g / %g | %g / %g / %g | %.2f |", r.Notes["healthy_pages_1m"], r.Notes["healthy_pages_5m"], r.Notes["incident_missed"], r.Notes["incident_slow_resolve"], r.Notes["incident_false_pages"], r.Notes["incident_spread_ratio"])
		fmt.Fprintln(out, line)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
