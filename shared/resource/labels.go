package resource

import (
	"slices"
	"strings"

	"github.com/sigmawatch/sigmawatch/shared/naming"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// GlobalName is the name label of a metric that belongs to no resource.
const GlobalName = "global"

// TagLabel is the label of an AWS tag key: "tag_" and the key sanitised
// as YACE does (snakeCase: YACE's -labels-snake-case).
func TagLabel(key string, snakeCase bool) string {
	return naming.Label("tag_", key, snakeCase)
}

// CustomTagLabel is the label of a job's custom tag (YACE's customTags).
func CustomTagLabel(key string, snakeCase bool) string {
	return naming.Label("custom_tag_", key, snakeCase)
}

// MetricLabels are the labels a resource gives its metrics: name (the ARN,
// or "global") and one tag_<Key> label per exported tag the resource has.
// YACE exports a missing tag as an empty label, which Prometheus treats as
// no label; sigmawatch leaves it out. Labels are in exported order.
func MetricLabels(r *Resource, exported []string, snakeCase bool) []remotewrite.Label {
	name := GlobalName
	if r != nil {
		name = r.ARN
	}
	out := make([]remotewrite.Label, 0, 1+len(exported))
	out = append(out, remotewrite.Label{Name: "name", Value: name})
	if r == nil {
		return out
	}
	for _, key := range exported {
		if v, ok := r.Tag(key); ok && v != "" {
			out = append(out, remotewrite.Label{Name: TagLabel(key, snakeCase), Value: v})
		}
	}
	return out
}

// InfoName is the name of a service's info series (aws_ec2_info).
func InfoName(svc *Service) string {
	return naming.MetricName(svc.Namespace, "info", "")
}

// InfoLabels are the labels of a resource's info series, without __name__:
// name (the ARN) and a tag_<Key> label for every tag with a value, sorted by
// name. When two keys sanitise to one label the later tag wins, as in YACE.
func InfoLabels(r *Resource, snakeCase bool) []remotewrite.Label {
	out := make([]remotewrite.Label, 0, 1+len(r.Tags))
	out = append(out, remotewrite.Label{Name: "name", Value: r.ARN})
	for _, t := range r.Tags {
		if t.Value == "" {
			continue
		}
		name := TagLabel(t.Key, snakeCase)
		if i := slices.IndexFunc(out, func(l remotewrite.Label) bool { return l.Name == name }); i >= 0 {
			out[i].Value = t.Value
			continue
		}
		out = append(out, remotewrite.Label{Name: name, Value: t.Value})
	}
	slices.SortFunc(out, func(a, b remotewrite.Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}
