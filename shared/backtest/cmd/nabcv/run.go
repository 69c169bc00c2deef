package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/backtest/healthy"
	"github.com/sigmawatch/sigmawatch/shared/backtest/nab"
	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// aws is the category NAB's CloudWatch series are in.
const aws = "realAWSCloudwatch"

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("nabcv", flag.ContinueOnError)
	nabDir := fl.String("nab", "", "NAB folder: data/, labels/combined_windows.json, score.py")
	logPath := fl.String("log", "", "append one JSON line per configuration to this file")
	cvPaths := fl.String("cv", "", "comma-separated sweep logs: cross-validate and report, run nothing")
	check := fl.Bool("check", false, "write results files under -out and compare score.py with the Go scorer")
	out := fl.String("out", "", "results folder for -check")
	workers := fl.Int("workers", 2, "series evaluated in parallel")
	traceMatch := fl.String("trace", "", "print the steps around each firing of the series whose name contains this, for the first configuration")
	traceAround := fl.Int("trace-around", 3, "steps printed either side of a firing")
	lists := gridFlags(fl)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *nabDir == "" {
		return errors.New("-nab is required")
	}
	corpus, err := nab.Load(filepath.Join(*nabDir, "data"), filepath.Join(*nabDir, "labels", "combined_windows.json"))
	if err != nil {
		return err
	}
	if *cvPaths != "" {
		results, err := readLogs(*cvPaths)
		if err != nil {
			return err
		}
		return report(stdout, corpus, results)
	}
	cands, err := expand(lists)
	if err != nil {
		return err
	}
	s := newSuite(corpus)
	if *traceMatch != "" {
		return s.trace(stdout, cands[0], *traceMatch, *traceAround)
	}
	var logw *os.File
	if *logPath != "" {
		if logw, err = os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return err
		}
		defer logw.Close()
	}
	fmt.Fprintf(stdout, "%d configurations, %d NAB files, %d healthy and %d incident series\n", len(cands), len(corpus.Files), len(s.healthy), len(s.incidents))
	for i, c := range cands {
		start := time.Now()
		res, dets, err := s.evaluate(c, *workers)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  (%s)\n", row(corpus, res), time.Since(start).Round(time.Millisecond))
		if logw != nil {
			b, err := json.Marshal(res)
			if err != nil {
				return err
			}
			if _, err := logw.Write(append(b, '\n')); err != nil {
				return err
			}
		}
		if *check {
			if *out == "" {
				return errors.New("-check needs -out")
			}
			if err := checkScorer(stdout, *nabDir, filepath.Join(*out, fmt.Sprint(i)), corpus, dets); err != nil {
				return err
			}
		}
	}
	return nil
}

// suite is everything a configuration is evaluated on.
type suite struct {
	corpus    *nab.Corpus
	points    [][]detector.Point
	healthy   []healthy.Series
	incidents []healthy.Series
}

func newSuite(c *nab.Corpus) *suite {
	s := &suite{corpus: c, healthy: healthy.Suite(), incidents: healthy.Incidents()}
	for _, f := range c.Files {
		pts := make([]detector.Point, len(f.Points))
		for i, p := range f.Points {
			pts[i] = detector.Point{Time: p.Time, Value: p.Value}
		}
		s.points = append(s.points, pts)
	}
	return s
}

// replay runs one series and returns its replay.
func replay(d *detector.Detector, tm alerting.Timing, name string, pts []detector.Point) []backtest.Step {
	return backtest.Replay(pts, d, alerting.Key{Rule: "nabcv", Fingerprint: name}, tm)
}

func firings(steps []backtest.Step) []int {
	var out []int
	for i, s := range steps {
		if s.Notification.Kind == alerting.KindFiring {
			out = append(out, i)
		}
	}
	return out
}

// evaluate runs c over the suite and returns its result and its NAB
// detections by file.
func (s *suite) evaluate(c candidate, workers int) (nab.Result, map[string][]int, error) {
	d, err := detector.New(c.cfg)
	if err != nil {
		return nab.Result{}, nil, err
	}
	type job func()
	var jobs []job
	dets := make([][]int, len(s.corpus.Files))
	for i, f := range s.corpus.Files {
		jobs = append(jobs, func() { dets[i] = firings(replay(d, c.timing, f.Rel, s.points[i])) })
	}
	hSteps := make([][]backtest.Step, len(s.healthy))
	for i, h := range s.healthy {
		jobs = append(jobs, func() { hSteps[i] = replay(d, c.timing, h.Name, h.Points) })
	}
	iSteps := make([][]backtest.Step, len(s.incidents))
	for i, h := range s.incidents {
		jobs = append(jobs, func() { iSteps[i] = replay(d, c.timing, h.Name, h.Points) })
	}
	next := make(chan job)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for j := range next {
				j()
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()

	res := nab.Result{Name: name(c.params), Params: c.params, Counts: map[string]map[string]nab.Count{}, Notes: map[string]float64{}}
	byRel := map[string][]int{}
	for i, f := range s.corpus.Files {
		byRel[f.Rel] = dets[i]
	}
	for _, cat := range s.corpus.Categories() {
		res.Counts[cat] = map[string]nab.Count{}
		for _, p := range nab.Profiles {
			res.Counts[cat][p.Short] = s.corpus.Score(byRel, p, func(f *nab.File) bool { return f.Category == cat })
		}
	}
	judged := healthy.JudgedFrom()
	for i, h := range s.healthy {
		pages := 0
		for _, st := range hSteps[i] {
			if st.Notification.Kind == alerting.KindFiring && !st.Time.Before(judged) {
				pages++
			}
		}
		res.Notes["healthy_pages_"+fmtDur(h.Resolution)] += float64(pages)
		if pages > 0 {
			res.Notes["healthy_pages:"+h.Name+"@"+fmtDur(h.Resolution)] = float64(pages)
		}
	}
	res.Notes["incident_missed"], res.Notes["incident_slow_resolve"], res.Notes["incident_false_pages"] = 0, 0, 0
	for i, h := range s.incidents {
		missed, slow, false_, worst := judgeIncidents(h, iSteps[i], judged)
		res.Notes["incident_missed"] += float64(missed)
		res.Notes["incident_slow_resolve"] += float64(slow)
		res.Notes["incident_false_pages"] += float64(false_)
		key := "incident_resolve_minutes:" + h.Name + "@" + fmtDur(h.Resolution)
		res.Notes[key] = worst.Minutes()
	}
	res.Eligible = res.Notes["healthy_pages_1m"] == 0 && res.Notes["healthy_pages_5m"] == 0 &&
		res.Notes["incident_missed"] == 0 && res.Notes["incident_slow_resolve"] == 0 && res.Notes["incident_false_pages"] == 0
	return res, byRel, nil
}

// resolveWithin is the promise: a resolved message within 30 minutes of an
// incident's end.
const resolveWithin = 30 * time.Minute

// judgeIncidents counts the incidents that did not page while they lasted,
// those not resolved within resolveWithin of their end, and the pages in
// the judged span outside every incident; worst is the longest time from
// an incident's end to its resolved message.
func judgeIncidents(h healthy.Series, steps []backtest.Step, judged time.Time) (missed, slow, falsePages int, worst time.Duration) {
	for _, in := range h.Incidents {
		paged, resolved := false, time.Time{}
		for _, st := range steps {
			if st.Time.Before(in.From) {
				continue
			}
			if st.Notification.Kind == alerting.KindFiring && st.Time.Before(in.To) {
				paged = true
			}
			if paged && st.Notification.Kind == alerting.KindResolved && !st.Time.Before(in.To) {
				resolved = st.Time
				break
			}
		}
		switch {
		case !paged:
			missed++
		case resolved.IsZero() || resolved.Sub(in.To) > resolveWithin:
			slow++
			worst = max(worst, 24*time.Hour)
		default:
			worst = max(worst, resolved.Sub(in.To))
		}
	}
	for _, st := range steps {
		if st.Notification.Kind != alerting.KindFiring || st.Time.Before(judged) {
			continue
		}
		inside := false
		for _, in := range h.Incidents {
			if !st.Time.Before(in.From) && st.Time.Before(in.To.Add(resolveWithin)) {
				inside = true
			}
		}
		if !inside {
			falsePages++
		}
	}
	return missed, slow, falsePages, worst
}

func readLogs(paths string) ([]nab.Result, error) {
	var out []nab.Result
	index := map[string]int{}
	for _, p := range splitList(paths) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var r nab.Result
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			// A configuration run twice keeps its latest result.
			if i, ok := index[r.Name]; ok {
				out[i] = r
				continue
			}
			index[r.Name] = len(out)
			out = append(out, r)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
