package config

import (
	"fmt"
	"regexp"
	"strconv"
)

// statisticHelp lists the accepted forms in every "unknown statistic" error, so
// a user sees what to write instead without opening the docs.
const statisticHelp = "want SampleCount, Average, Sum, Minimum, Maximum, IQM, " +
	"pNN[.N] (0 < N <= 100), tmNN, wmNN, tcNN, tsNN, TM(a%:b%), WM(a%:b%), TC(a%:b%), TS(a%:b%) or PR(a:b)"

var (
	// CloudWatch allows up to 10 decimal places in a percentile-style statistic.
	shortStat = regexp.MustCompile(`^(p|tm|wm|tc|ts)([0-9]+(?:\.[0-9]{1,10})?)$`)
	rangeStat = regexp.MustCompile(`^(TM|WM|TC|TS)\((?:([0-9]+(?:\.[0-9]{1,10})?)%)?:(?:([0-9]+(?:\.[0-9]{1,10})?)%)?\)$`)
	rankStat  = regexp.MustCompile(`^PR\(([0-9]+(?:\.[0-9]+)?)?:([0-9]+(?:\.[0-9]+)?)?\)$`)
)

// ValidateStatistic reports whether CloudWatch GetMetricData accepts s as a
// statistic: the five simple ones and the extended statistics (percentiles,
// trimmed/winsorized mean, trimmed count/sum, IQM, percentile rank). Names are
// case-sensitive, as in CloudWatch.
func ValidateStatistic(s string) error {
	if reason := statisticProblem(s); reason != "" {
		return fmt.Errorf("unknown statistic %q (%s; %s)", s, reason, statisticHelp)
	}
	return nil
}

func statisticProblem(s string) string {
	switch s {
	case "SampleCount", "Average", "Sum", "Minimum", "Maximum", "IQM":
		return ""
	case "":
		return "empty"
	}
	if m := shortStat.FindStringSubmatch(s); m != nil {
		v, _ := strconv.ParseFloat(m[2], 64)
		if v <= 0 || v > 100 {
			return "percentage must be in (0, 100]"
		}
		return ""
	}
	if m := rangeStat.FindStringSubmatch(s); m != nil {
		return boundsProblem(m[2], m[3], true)
	}
	if m := rankStat.FindStringSubmatch(s); m != nil {
		return boundsProblem(m[1], m[2], false)
	}
	return "not a CloudWatch statistic"
}

// boundsProblem checks the (lower:upper) of a range statistic. Either bound may
// be left out, not both.
func boundsProblem(lo, hi string, percent bool) string {
	if lo == "" && hi == "" {
		return "a range needs at least one bound"
	}
	lv, hv := -1.0, -1.0
	if lo != "" {
		lv, _ = strconv.ParseFloat(lo, 64)
	}
	if hi != "" {
		hv, _ = strconv.ParseFloat(hi, 64)
	}
	if percent && (lv > 100 || hv > 100) {
		return "percentage must be <= 100"
	}
	if lo != "" && hi != "" && lv >= hv {
		return "lower bound must be below the upper bound"
	}
	return ""
}
