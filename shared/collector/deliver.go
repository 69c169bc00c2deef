package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
)

// Delivery writes packed units and marks them covered.
//
// An all-or-nothing receiver (Prometheus, VictoriaMetrics) gets each
// request with the units' data and their progress samples together: the
// progress is stored if and only if the data is.
//
// A per-series receiver (Mimir, Cortex, AMP) may store part of a request
// and answer 400 for the rest, progress samples included: a progress
// sample in the same request could be stored while data it covers was
// refused. So it gets the data first and the progress of a unit only once
// all the unit's data is known to be stored. After a 4xx it reads back what
// of the request was stored, resends only the missing samples once, and
// leaves a unit whose samples are still missing without progress: the next
// run tries again (reading back again, so nothing is sent twice), and
// catch-up gives up and counts what stays refused.

// delivery writes one target's units in one run.
type delivery struct {
	c         *Collector
	job       string
	tk        targetKey
	ts        int64
	perSeries bool
	render    *renderer
	// covered is called for units whose data and progress are stored.
	covered func(units []*unit)
	// failed is called for units left uncovered.
	failed func(units []*unit, err error)
	// pending: per-series units whose data is stored, progress not yet.
	pending []*unit
}

// send writes one packed request.
func (d *delivery) send(ctx context.Context, units []*unit) {
	if !d.perSeries {
		req := d.render.series(units)
		for _, u := range units {
			req = append(req, d.c.progressSeries(d.job, d.tk, u.key, u.end, d.ts), d.c.digestSeries(d.job, d.tk, u.key, u.digest, d.ts))
		}
		if err := d.c.writer.Write(ctx, req); err != nil {
			d.failed(units, fmt.Errorf("%d unit(s) not written: %w", len(units), err))
			return
		}
		d.covered(units)
		return
	}
	req := d.render.series(units)
	var owner []int // per series of req: its unit's index in units
	for k, u := range units {
		for range u.data {
			owner = append(owner, k)
		}
	}
	err := d.c.writer.Write(ctx, req)
	if err == nil || len(req) == 0 {
		d.pending = append(d.pending, units...)
		return
	}
	if !partlyStored(err) {
		d.failed(units, fmt.Errorf("%d unit(s) not written: %w", len(units), err))
		return
	}
	// Some of it may be stored: find what is not, and send only that.
	missing, rerr := d.missing(ctx, req)
	if rerr == nil && len(missing) > 0 {
		resend := make([]remotewrite.Series, 0, len(missing))
		for _, i := range missing {
			resend = append(resend, req[i])
		}
		if werr := d.c.writer.Write(ctx, resend); werr != nil {
			if !partlyStored(werr) {
				rerr = werr
			} else {
				var again []int
				again, rerr = d.missing(ctx, resend)
				for k := range again {
					again[k] = missing[again[k]]
				}
				missing = again
				err = werr
			}
		} else {
			missing = nil
		}
	}
	if rerr != nil {
		d.failed(units, fmt.Errorf("%d unit(s) not known to be stored after %w; reading back what was: %w", len(units), err, rerr))
		return
	}
	short := make([]bool, len(units))
	for _, i := range missing {
		short[owner[i]] = true
	}
	var ok, notOK []*unit
	for k, u := range units {
		if short[k] {
			notOK = append(notOK, u)
		} else {
			ok = append(ok, u)
		}
	}
	d.pending = append(d.pending, ok...)
	if len(notOK) > 0 {
		names := make([]string, 0, min(len(missing), maxDroppedLogged))
		for _, i := range missing[:min(len(missing), maxDroppedLogged)] {
			names = append(names, labelString(req[i].Labels))
		}
		d.failed(notOK, fmt.Errorf("%d unit(s) not covered: the receiver refused %d series, stored the rest (%s): %w",
			len(notOK), len(missing), strings.Join(names, ", "), err))
	}
}

// finish writes the progress of the per-series units whose data is stored.
func (d *delivery) finish(ctx context.Context) {
	for len(d.pending) > 0 {
		n := min(len(d.pending), max(d.c.maxSamples/2, 1)) // a progress and a digest sample each
		batch := d.pending[:n]
		d.pending = d.pending[n:]
		req := make([]remotewrite.Series, 0, 2*len(batch))
		for _, u := range batch {
			req = append(req, d.c.progressSeries(d.job, d.tk, u.key, u.end, d.ts), d.c.digestSeries(d.job, d.tk, u.key, u.digest, d.ts))
		}
		if err := d.c.writer.Write(ctx, req); err != nil {
			// Their data is stored; without progress the next run reads it
			// back and sends nothing twice.
			d.failed(batch, fmt.Errorf("progress of %d unit(s) not written (their data is): %w", len(batch), err))
			continue
		}
		d.covered(batch)
	}
}

// partlyStored reports whether a failed write may have stored part of the
// request: a receiver that answered with a 4xx other than 429 (Mimir,
// Cortex and AMP answer 400 for the series they refused, after storing the
// others), or gave up after a 5xx or timeout whose attempt may have landed.
func partlyStored(err error) bool {
	var werr *remotewrite.Error
	if !errors.As(err, &werr) {
		return false
	}
	return werr.StatusCode >= 400 && werr.StatusCode != http.StatusTooManyRequests
}

// missing reads back the stored samples of req's series and returns the
// indexes of the series with a sample that is not stored, each cut down to
// those samples.
func (d *delivery) missing(ctx context.Context, req []remotewrite.Series) ([]int, error) {
	if d.c.reader == nil {
		return nil, errors.New("no PromQL API to read back from")
	}
	// One selector for the whole request: the names and the values of each
	// dimension label, a superset of the request that is narrowed here.
	names := map[string]bool{}
	values := map[string]map[string]bool{}
	var minT, maxT int64
	first := true
	for _, s := range req {
		for _, l := range s.Labels {
			if l.Name == "__name__" {
				names[l.Value] = true
				continue
			}
			if values[l.Name] == nil {
				values[l.Name] = map[string]bool{}
			}
			values[l.Name][l.Value] = true
		}
		for _, x := range s.Samples {
			if first || x.T < minT {
				minT = x.T
			}
			if first || x.T > maxT {
				maxT = x.T
			}
			first = false
		}
	}
	if first {
		return nil, nil
	}
	var sel strings.Builder
	sel.WriteString(`{__name__=~"`)
	sel.WriteString(alternation(names))
	sel.WriteByte('"')
	labelNames := make([]string, 0, len(values))
	for n := range values {
		labelNames = append(labelNames, n)
	}
	slices.Sort(labelNames)
	for _, n := range labelNames {
		fmt.Fprintf(&sel, `,%s=~"%s"`, n, alternation(values[n]))
	}
	sel.WriteByte('}')
	rangeMs := maxT - minT + 1000
	q := fmt.Sprintf("%s[%dms]", sel.String(), rangeMs)
	stored, err := d.c.reader.QuerySeries(ctx, q, time.UnixMilli(maxT))
	if err != nil {
		return nil, err
	}
	have := make(map[string]map[int64]bool, len(stored))
	for _, s := range stored {
		k := mapKey(s.Labels)
		if have[k] == nil {
			have[k] = map[int64]bool{}
		}
		for _, p := range s.Points {
			have[k][p.T.UnixMilli()] = true
		}
	}
	var out []int
	for i := range req {
		s := &req[i]
		got := have[labelsKey(s.Labels)]
		var keep []remotewrite.Sample
		for _, x := range s.Samples {
			if !got[x.T] {
				keep = append(keep, x)
			}
		}
		if len(keep) > 0 {
			s.Samples = keep
			out = append(out, i)
		}
	}
	return out, nil
}

// alternation is a regular expression matching exactly the given values.
func alternation(set map[string]bool) string {
	vs := make([]string, 0, len(set))
	for v := range set {
		vs = append(vs, regexp.QuoteMeta(v))
	}
	slices.Sort(vs)
	// In a PromQL string literal backslashes are escapes themselves.
	return strings.ReplaceAll(strings.ReplaceAll(strings.Join(vs, "|"), `\`, `\\`), `"`, `\"`)
}

// labelsKey and mapKey give one label set the same key.
func labelsKey(labels []remotewrite.Label) string {
	m := make(map[string]string, len(labels))
	for _, l := range labels {
		if l.Value != "" {
			m[l.Name] = l.Value
		}
	}
	return mapKey(m)
}

func mapKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}
