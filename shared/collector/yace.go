package collector

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/cloudwatch"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/resource"
	"github.com/sigmawatch/sigmawatch/shared/tagging"
)

// contextLabels are the labels YACE puts on every series of a job besides
// job, region and account_id: account_alias (service jobs, when IAM gives
// one) and custom_tag_<Key>.
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

// infoSeries are the aws_<service>_info series of a service job's resources,
// value 0 at T, written with the health series (once per run that did work,
// so a retry of T writes none). They carry the job label like the data;
// region, account_id, account_alias and custom tags only with
// include_context_on_info_metrics, as in YACE.
func infoSeries(job *config.Job, resources []resource.Resource, ts int64, base []remotewrite.Label) []remotewrite.Series {
	svc := job.Service()
	if svc == nil || len(resources) == 0 {
		return nil
	}
	name := resource.InfoName(svc)
	out := make([]remotewrite.Series, 0, len(resources))
	for i := range resources {
		labels := []remotewrite.Label{{Name: "__name__", Value: name}}
		if job.IncludeContextOnInfoMetrics {
			labels = append(labels, base...)
		} else {
			labels = append(labels, remotewrite.Label{Name: "job", Value: job.Name})
		}
		labels = append(labels, resource.InfoLabels(&resources[i], job.LabelsSnakeCase)...)
		out = append(out, remotewrite.Series{Labels: labels, Samples: []remotewrite.Sample{{T: ts, V: 0}}})
	}
	return out
}

// fillZeros gives every period of the query's window that has no datapoint
// the value 0 (nil_to_zero), keeping the points CloudWatch returned.
func fillZeros(q *cloudwatch.Query, pts []cloudwatch.Point) []cloudwatch.Point {
	if q.Period <= 0 {
		return pts
	}
	out := make([]cloudwatch.Point, 0, int(q.End.Sub(q.Start)/q.Period))
	i := 0
	for t := q.Start; t.Before(q.End); t = t.Add(q.Period) {
		for i < len(pts) && pts[i].T.Before(t) {
			out = append(out, pts[i])
			i++
		}
		if i < len(pts) && pts[i].T.Equal(t) {
			out = append(out, pts[i])
			i++
			continue
		}
		out = append(out, cloudwatch.Point{T: t, V: 0})
	}
	out = append(out, pts[i:]...)
	slices.SortStableFunc(out, func(a, b cloudwatch.Point) int { return a.T.Compare(b.T) })
	return out
}

// aliasCache keeps each account's IAM alias for the life of the process
// (an alias rarely changes; a failed lookup keeps the last one known, so a
// transient error does not change every series' labels).
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

func (a *aliasCache) get(ctx context.Context, log *slog.Logger, t Target) string {
	if t.IAM == nil {
		return ""
	}
	a.mu.Lock()
	e, ok := a.known[t.AccountID]
	a.mu.Unlock()
	if ok && a.now().Sub(e.at) < aliasTTL {
		return e.alias
	}
	alias, err := tagging.AccountAlias(ctx, t.IAM)
	if err != nil {
		log.WarnContext(ctx, "no account alias (account_alias label left as before)", "account_id", t.AccountID, "err", err)
		return e.alias
	}
	a.mu.Lock()
	if a.known == nil {
		a.known = map[string]aliasEntry{}
	}
	a.known[t.AccountID] = aliasEntry{alias: alias, at: a.now()}
	a.mu.Unlock()
	return alias
}
