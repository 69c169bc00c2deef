package collector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/resource"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// Service jobs (type: AWS/EC2…) are YACE's discovery jobs: the resources of
// a namespace come from the Resource Groups Tagging API (cached like
// discovery), filtered by search_tags; every dimension set of the job's
// metrics is listed and each metric is tied to its resource the way YACE
// does (tagging.Select). A listed metric carries its resource, whose ARN is
// its name label and whose exported tags are its tag_* labels; from there
// on it is a listed metric like any other: same units, progress, packing
// and delivery. The resources' aws_<service>_info series go with the
// target's health series (infoSeries).

// listService lists a service job's metrics in target with their
// resources.
func (l *lister) listService(ctx context.Context, target Target, job *config.Job) (listing, error) {
	svc := job.Service()
	if target.Tagging == nil {
		return listing{}, fmt.Errorf("service job of type %s: no Resource Groups Tagging API client for region %s", svc.Namespace, target.Region)
	}
	clients := tagging.Clients{Resources: target.Tagging, RestAPIs: target.RestAPIs}
	resources, calls, err := l.tags.Resources(ctx, discoveryKey(target), clients, svc, job.SearchTagsCompiled())
	out := listing{tagCalls: calls.GetResources, restCalls: calls.GetRestApis}
	if err != nil || len(resources) == 0 {
		// No resource passed the search tags: YACE collects nothing for
		// the job in this target, not even its metrics of no resource.
		return out, err
	}
	// dimension_name_requirements is an exact set, like a discovery job's
	// dimensions; without it every dimension set is listed and associated.
	var dims []string
	if len(job.DimensionNameRequirements) > 0 {
		dims = job.DimensionNameRequirements
	}
	results, listCalls, cached, err := l.discover(ctx, target, job, dims)
	out.listCalls = listCalls
	out.cached = cached || calls.GetResources == 0
	if err != nil {
		return out, err
	}
	out.resources = resources
	for i := range results {
		ms := results[i].Metrics
		// Select keeps the listing's order.
		for _, sel := range tagging.Select(svc, resources, ms) {
			m := &ms[sel.Metric]
			out.metrics = append(out.metrics, listed{metric: m, cfg: i, res: int32(sel.Resource + 1)})
		}
	}
	return out, nil
}

// infoSeries are the aws_<service>_info series of a service job's
// resources in one target: value 0 at T, every tag a tag_* label. They go
// with the target's health series, which are written once per target and
// run that did work, so a retry of T (which finds the target covered)
// writes none a second time. As in YACE they carry the job label, and
// region, account_id, account_alias and the custom tags only with
// include_context_on_info_metrics; and they come only with metrics.
// Series a receiver would refuse are left out and returned as dropped.
func infoSeries(job *config.Job, l *labeler, resources []resource.Resource, ts int64) ([]remotewrite.Series, []droppedSeries) {
	svc := job.Service()
	if svc == nil || len(resources) == 0 {
		return nil, nil
	}
	name := resource.InfoName(svc)
	out := make([]remotewrite.Series, 0, len(resources))
	var dropped []droppedSeries
	for i := range resources {
		labels := []remotewrite.Label{{Name: "__name__", Value: name}}
		if job.IncludeContextOnInfoMetrics {
			labels = append(labels, l.base...)
		} else {
			labels = append(labels, l.base[:1]...) // job
		}
		labels = append(labels, resource.InfoLabels(&resources[i], job.LabelsSnakeCase)...)
		if err := remotewrite.ValidateLabels(labels); err != nil {
			dropped = append(dropped, droppedSeries{labels: labelString(labels), metric: "the info series of " + resources[i].ARN, why: err.Error()})
			continue
		}
		out = append(out, remotewrite.Series{Labels: labels, Samples: []remotewrite.Sample{{T: ts, V: 0}}})
	}
	return out, dropped
}

// contextLabels are the labels YACE puts on every series of a job besides
// job, region and account_id: account_alias (when the job asks for it and
// IAM gives one) and custom_tag_<Key> per custom tag.
func contextLabels(job *config.Job, alias string) []remotewrite.Label {
	var out []remotewrite.Label
	if alias != "" {
		out = append(out, remotewrite.Label{Name: "account_alias", Value: alias})
	}
	for _, t := range job.CustomTags {
		out = append(out, remotewrite.Label{Name: resource.CustomTagLabel(t.Key, job.LabelsSnakeCase), Value: t.Value})
	}
	return out
}

// fillZeros gives every period of the query's window that has no datapoint
// the value 0 (nil_to_zero), keeping the points CloudWatch returned, which
// come in time order, each at a period start of the window.
func fillZeros(q *cloudwatch.Query, pts []cloudwatch.Point) []cloudwatch.Point {
	if q.Period <= 0 {
		return pts
	}
	out := make([]cloudwatch.Point, 0, max(int(q.End.Sub(q.Start)/q.Period), len(pts)))
	i := 0
	for t := q.Start; t.Before(q.End); t = t.Add(q.Period) {
		for i < len(pts) && pts[i].T.Before(t) {
			out = append(out, pts[i]) // off the period grid: kept as it came
			i++
		}
		if i < len(pts) && pts[i].T.Equal(t) {
			out = append(out, pts[i])
			i++
			continue
		}
		out = append(out, cloudwatch.Point{T: t, V: 0})
	}
	return append(out, pts[i:]...)
}

// aliasCache keeps each account's IAM alias for aliasTTL (an alias rarely
// changes). A failed lookup keeps the last alias known, so a transient
// error does not change the labels of every series of the account, and is
// not retried before aliasTTL either (one warning, not one per run).
type aliasCache struct {
	now   func() time.Time
	mu    sync.Mutex
	known map[string]aliasEntry
}

type aliasEntry struct {
	alias string
	at    time.Time
}

// aliasTTL bounds how long a known alias is reused before asking IAM again.
const aliasTTL = time.Hour

// get returns the alias of the target's account ("" when it has none, or
// IAM cannot say and no alias is known), and whether IAM was called.
func (a *aliasCache) get(ctx context.Context, log *slog.Logger, t Target) (string, bool) {
	if t.IAM == nil {
		return "", false
	}
	a.mu.Lock()
	e, ok := a.known[t.AccountID]
	a.mu.Unlock()
	if ok && a.now().Sub(e.at) < aliasTTL {
		return e.alias, false
	}
	alias, err := tagging.AccountAlias(ctx, t.IAM)
	if err != nil {
		// As YACE: a warning, and the series go on without the label.
		log.WarnContext(ctx, "no account alias: account_alias label left as last known", "account_id", t.AccountID, "err", err)
		alias = e.alias
	}
	a.mu.Lock()
	if a.known == nil {
		a.known = map[string]aliasEntry{}
	}
	a.known[t.AccountID] = aliasEntry{alias: alias, at: a.now()}
	a.mu.Unlock()
	return alias, true
}
