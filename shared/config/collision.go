package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/naming"
)

// seriesCollisions finds, in one job, what the config alone shows would
// give two CloudWatch metrics one series, or one series a label twice:
// two metric names and statistics with one series name (requestCount and
// request_count), and dimension names that sanitise to one label
// (Instance-Id and Instance_Id). At run time such series are dropped and
// counted; here they are refused before a run drops them forever.
func seriesCollisions(path string, j *Job) []error {
	var errs []error
	type at struct{ metric, stat int }
	seen := map[string]at{}
	ns := j.Namespace
	if svc := j.Service(); svc != nil {
		ns = svc.Namespace // before resolve, a service job may leave it out
	}
	for mi := range j.Metrics {
		m := &j.Metrics[mi]
		if m.Name == "" {
			continue
		}
		for si, stat := range m.Statistics {
			name := naming.MetricName(ns, m.Name, stat)
			prev, dup := seen[name]
			if !dup {
				seen[name] = at{mi, si}
				continue
			}
			if prev.metric == mi {
				continue // a duplicate statistic, reported on its own
			}
			pm := &j.Metrics[prev.metric]
			errs = append(errs, fmt.Errorf("%s.metrics[%d].statistics[%d]: %s %s is series %s, as %s %s is (metrics[%d]): a receiver would take both for one series",
				path, mi, si, m.Name, stat, name, pm.Name, pm.Statistics[prev.stat], prev.metric))
		}
	}
	errs = append(errs, labelCollisions(path+".dimensions", j.Dimensions, j.LabelsSnakeCase)...)
	errs = append(errs, labelCollisions(path+".dimension_name_requirements", j.DimensionNameRequirements, j.LabelsSnakeCase)...)
	seenSet := map[string]int{}
	for k, set := range j.Static {
		names := make([]string, 0, len(set))
		for n := range set {
			names = append(names, n)
		}
		slices.Sort(names)
		p := fmt.Sprintf("%s.static[%d]", path, k)
		if e := labelCollisions(p, names, j.LabelsSnakeCase); len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		// Two dimension sets that differ only in names that sanitise alike
		// are one series.
		labels := make([]string, 0, len(set))
		for _, n := range names {
			labels = append(labels, fmt.Sprintf("%s=%q", naming.Label("dimension_", n, j.LabelsSnakeCase), set[n]))
		}
		slices.Sort(labels)
		id := strings.Join(labels, ",")
		if prev, dup := seenSet[id]; dup {
			errs = append(errs, fmt.Errorf("%s: is the series {%s}, as static[%d] is: a receiver would take both for one series", p, id, prev))
			continue
		}
		seenSet[id] = k
	}
	return errs
}

// labelCollisions reports dimension names that sanitise to one label name
// (snakeCase: labels_snake_case).
func labelCollisions(path string, names []string, snakeCase bool) []error {
	var errs []error
	first := map[string]string{}
	for k, n := range names {
		l := naming.Label("dimension_", n, snakeCase)
		if prev, dup := first[l]; dup && prev != n {
			errs = append(errs, fmt.Errorf("%s[%d]: dimension %q is label %s, as dimension %q is: a series would carry the label twice", path, k, n, l, prev))
			continue
		}
		first[l] = n
	}
	return errs
}
