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
	"runtime/pprof"
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
	traceFrom := fl.String("trace-from", "", "with -trace: print every step from this time (2006-01-02 15:04)")
	traceTo := fl.String("trace-to", "", "with -trace-from: up to this time")
	perFile := fl.Bool("per-file", false, "print each NAB file's standard-profile counts")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile")
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
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cands, err := expand(lists)
	if err != nil {
		return err
	}
	s := newSuite(corpus)
	if *traceMatch != "" {
		var from, to time.Time
		if *traceFrom != "" {
			if from, err = time.Parse("2006-01-02 15:04", *traceFrom); err != nil {
				return err
			}
			if to, err = time.Parse("2006-01-02 15:04", *traceTo); err != nil {
				return err
			}
		}
		return s.trace(stdout, cands[0], *traceMatch, *traceAround, from, to)
	}
	var logw *os.File
	if *logPath != "" {
		if logw, err = os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return err
		}
		// Closed (and checked) after the last result; this covers early returns.
		defer func() { _ = logw.Close() }()
	}
	if _, err := fmt.Fprintf(stdout, "%d configurations, %d NAB files, %d healthy and %d incident series\n", len(cands), len(corpus.Files), len(s.healthy), len(s.incidents)); err != nil {
		return err
	}
	for i, c := range cands {
		start := time.Now()
		res, dets, err := s.evaluate(c, *workers)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "%s  (%s)\n", row(corpus, res), time.Since(start).Round(time.Millisecond)); err != nil {
			return err
		}
		if *perFile {
			for _, f := range corpus.Files {
				cnt := f.Score(dets[f.Rel], nab.Standard)
				if _, err := fmt.Fprintf(stdout, "  %-70s TP %2d FN %2d FP %3d raw %7.3f\n", f.Rel, cnt.TP, cnt.FN, cnt.FP, cnt.Raw); err != nil {
					return err
				}
			}
		}
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
	if logw != nil {
		return logw.Close() // the results log is only complete once closed
	}
	return nil
}

// suite is everything a configuration is evaluated on.
type suite struct {
	corpus    *nab.Corpus
	points    [][]backtest.Point
	healthy   []healthy.Series
	incidents []healthy.Series
}

func newSuite(c *nab.Corpus) *suite {
	s := &suite{corpus: c, healthy: healthy.Suite(), incidents: healthy.Incidents()}
	for _, f := range c.Files {
		s.points = append(s.points, f.Points)
	}
	return s
}

// replay runs one series and returns its replay.
func replay(d *detector.Detector, tm alerting.Timing, name string, pts []detector.Point) []backtest.Step {
	return backtest.Replay(pts, d, alerting.Key{Rule: "nabcv", Fingerprint: name}, tm, time.Time{})
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
	causes := make([][5]int, len(s.corpus.Files))
	for i, f := range s.corpus.Files {
		jobs = append(jobs, func() {
			steps := replay(d, c.timing, f.Rel, s.points[i])
			dets[i] = firings(steps)
			for k := 1; k < len(dets[i]); k++ {
				gap := steps[dets[i][k]].Time.Sub(steps[dets[i][k-1]].Time)
				switch {
				case gap <= time.Hour:
					causes[i][3]++
				case gap <= 6*time.Hour:
					causes[i][4]++
				}
			}
			for _, k := range dets[i] {
				switch dec := steps[k].Decision; {
				case dec.Burst && dec.Shifted:
					causes[i][2]++
				case dec.Burst:
					causes[i][0]++
				default:
					causes[i][1]++
				}
			}
		})
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
		res.Notes["nab_firings_burst"] += float64(causes[i][0])
		res.Notes["nab_firings_shift"] += float64(causes[i][1])
		res.Notes["nab_firings_both"] += float64(causes[i][2])
		res.Notes["nab_refire_1h"] += float64(causes[i][3])
		res.Notes["nab_refire_6h"] += float64(causes[i][4])
	}
	for _, cat := range s.corpus.Categories() {
		res.Counts[cat] = map[string]nab.Count{}
		for _, p := range nab.Profiles {
			res.Counts[cat][p.Short] = s.corpus.Score(byRel, p, func(f *nab.File) bool { return f.Category == cat })
		}
	}
	for i, h := range s.healthy {
		pages := healthy.Judge(h, events(hSteps[i])).Pages
		res.Notes["healthy_pages_"+fmtDur(h.Resolution)] += float64(pages)
		if pages > 0 {
			res.Notes["healthy_pages:"+h.Name+"@"+fmtDur(h.Resolution)] = float64(pages)
		}
	}
	res.Notes["incident_missed"], res.Notes["incident_slow_resolve"], res.Notes["incident_false_pages"] = 0, 0, 0
	res.Notes["incident_spread_ratio"] = 0
	for i, h := range s.incidents {
		res.Notes["incident_spread_ratio"] = max(res.Notes["incident_spread_ratio"], spreadRatio(h, iSteps[i]))
		v := healthy.Judge(h, events(iSteps[i]))
		res.Notes["incident_missed"] += float64(v.Missed)
		res.Notes["incident_slow_resolve"] += float64(v.Late)
		res.Notes["incident_false_pages"] += float64(v.Pages + v.Repages)
		res.Notes["incident_resolve_minutes:"+h.Name+"@"+fmtDur(h.Resolution)] = v.Worst.Minutes()
	}
	res.Eligible = res.Notes["healthy_pages_1m"] == 0 && res.Notes["healthy_pages_5m"] == 0 &&
		res.Notes["incident_spread_ratio"] <= maxSpreadRatio &&
		res.Notes["incident_missed"] == 0 && res.Notes["incident_slow_resolve"] == 0 && res.Notes["incident_false_pages"] == 0
	return res, byRel, nil
}

// maxSpreadRatio bounds how much an incident may widen the band at its hour
// a day later: the baseline an incident does not poison (issue 13).
const maxSpreadRatio = 1.5

// spreadRatio is, for a series with several incidents of one kind, the
// largest ratio of the baseline's spread (before the floors) at the start
// of a later incident to that at the start of the first: 1 when the first
// taught the baseline nothing.
func spreadRatio(h healthy.Series, steps []backtest.Step) float64 {
	ratio := 0.0
	var first float64
	for k, in := range h.Incidents {
		for _, st := range steps {
			if st.Time.Equal(in.From) {
				if k == 0 {
					first = st.Decision.RawSpread
				} else if first > 0 && in.Kind == h.Incidents[0].Kind {
					ratio = max(ratio, st.Decision.RawSpread/first)
				}
				break
			}
		}
	}
	return ratio
}

// events are the pages and resolved messages of a replay.
func events(steps []backtest.Step) []healthy.Event {
	var out []healthy.Event
	for _, st := range steps {
		switch st.Notification.Kind {
		case alerting.KindFiring:
			out = append(out, healthy.Event{Time: st.Time})
		case alerting.KindResolved:
			out = append(out, healthy.Event{Time: st.Time, Resolved: true})
		}
	}
	return out
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
				_ = f.Close() // read only: nothing is lost
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
		_ = f.Close() // read only: nothing is lost
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
