package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// trace prints, for every series whose name contains match, the steps
// around each firing: why a configuration pages where it does.
func (s *suite) trace(w io.Writer, c candidate, match string, around int, from, to time.Time) error {
	d, err := detector.New(c.cfg)
	if err != nil {
		return err
	}
	type named struct {
		name string
		pts  []detector.Point
	}
	var all []named
	for _, h := range s.healthy {
		all = append(all, named{h.Name + "@" + fmtDur(h.Resolution), h.Points})
	}
	for _, h := range s.incidents {
		all = append(all, named{"incident:" + h.Name + "@" + fmtDur(h.Resolution), h.Points})
	}
	for i, f := range s.corpus.Files {
		all = append(all, named{f.Rel, s.points[i]})
	}
	// The trace is built in memory and written once: one error to check.
	var b strings.Builder
	for _, n := range all {
		if !strings.Contains(n.name, match) {
			continue
		}
		steps := replay(d, c.timing, n.name, n.pts)
		fmt.Fprintf(&b, "== %s: %d points, %d firings\n", n.name, len(steps), len(firings(steps)))
		if !from.IsZero() {
			for j, st := range steps {
				if !st.Time.Before(from) && st.Time.Before(to) {
					fmt.Fprintln(&b, stepLine(j, n.pts[j], st))
				}
			}
			continue
		}
		for _, i := range firings(steps) {
			for j := max(0, i-around); j < min(len(steps), i+around+1); j++ {
				fmt.Fprintln(&b, stepLine(j, n.pts[j], steps[j]))
			}
			fmt.Fprintln(&b, "--")
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func stepLine(i int, p detector.Point, s backtest.Step) string {
	dec := s.Decision
	mark := " "
	switch s.Notification.Kind {
	case alerting.KindFiring:
		mark = "F"
	case alerting.KindResolved:
		mark = "R"
	}
	return fmt.Sprintf("%s %6d %s %-6s x=%-12.5g cur=%-12.5g c=%-12.5g s=%-10.4g raw=%-10.4g z=%-8.2f shift=%-6.2f burst=%v shifted=%v",
		mark, i, p.Time.Format(time.DateTime+" Mon"), dec.Model, p.Value, dec.Value, dec.Center, dec.Spread, dec.RawSpread, dec.Z, dec.Shift, dec.Burst, dec.Shifted)
}
