package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/backtest/nab"
)

// checkScorer writes NAB results files for dets under dir and compares
// score.py's figures with the Go scorer's on the whole corpus, the AWS
// subset and each category, to the three decimals score.py prints.
func checkScorer(w io.Writer, nabDir, dir string, c *nab.Corpus, dets map[string][]int) error {
	for _, f := range c.Files {
		ticks := make([]backtest.Tick, len(f.Records))
		for _, i := range dets[f.Rel] {
			ticks[i].Fired = true
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		fh, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := backtest.WriteCSV(fh, f.Records, ticks); err != nil {
			_ = fh.Close() // the write error is the one to report
			return err
		}
		if err := fh.Close(); err != nil {
			return err
		}
	}
	raw, err := os.ReadFile(filepath.Join(nabDir, "labels", "combined_windows.json"))
	if err != nil {
		return err
	}
	var labels map[string]json.RawMessage
	if err := json.Unmarshal(raw, &labels); err != nil {
		return err
	}
	sets := append([]string{"whole"}, c.Categories()...)
	mismatches := 0
	for _, set := range sets {
		sub := map[string]json.RawMessage{}
		for rel, v := range labels {
			if set == "whole" || filepath.Dir(rel) == set {
				sub[rel] = v
			}
		}
		lp := filepath.Join(dir, "labels-"+set+".json")
		b, err := json.Marshal(sub)
		if err != nil {
			return err
		}
		if err := os.WriteFile(lp, b, 0o644); err != nil {
			return err
		}
		py, err := scorePy(nabDir, lp, dir)
		if err != nil {
			return fmt.Errorf("score.py on %s: %w", set, err)
		}
		var goScores [3]float64
		for k, p := range nab.Profiles {
			cnt := c.Score(dets, p, func(f *nab.File) bool { return set == "whole" || f.Category == set })
			goScores[k] = cnt.Normalized(p)
		}
		status := "equal"
		for k := range 3 {
			if !(math.IsNaN(goScores[k]) && math.IsNaN(py[k])) && fmt.Sprintf("%.3f", goScores[k]) != fmt.Sprintf("%.3f", py[k]) {
				status = "DIFFERENT"
				mismatches++
			}
		}
		if _, err := fmt.Fprintf(w, "  %-22s score.py %.3f / %.3f / %.3f   go %.3f / %.3f / %.3f   %s\n", set, py[0], py[1], py[2], goScores[0], goScores[1], goScores[2], status); err != nil {
			return err
		}
	}
	if mismatches > 0 {
		return fmt.Errorf("the Go scorer differs from score.py on %d figures", mismatches)
	}
	return nil
}

var lastLine = regexp.MustCompile(`nab standard=(\S+) low_fp=(\S+) low_fn=(\S+)`)

func scorePy(nabDir, labels, results string) ([3]float64, error) {
	var out [3]float64
	cmd := exec.CommandContext(context.Background(), "python3", filepath.Join(nabDir, "score.py"),
		"--data", filepath.Join(nabDir, "data"), "--labels", labels, "--results", results, "--threshold", "0.5")
	b, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, b)
	}
	m := lastLine.FindSubmatch(b)
	if m == nil {
		return out, fmt.Errorf("no score line in %q", b)
	}
	for k := range 3 {
		s := string(m[k+1])
		if s == "nan" {
			out[k] = math.NaN()
			continue
		}
		if out[k], err = strconv.ParseFloat(s, 64); err != nil {
			return out, err
		}
	}
	return out, nil
}
