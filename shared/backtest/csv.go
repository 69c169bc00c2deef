package backtest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TimeLayout is NAB's timestamp format.
const TimeLayout = "2006-01-02 15:04:05"

// Record is one CSV row: the parsed point and the row's own text, written
// back unchanged so the output has the same rows as the input.
type Record struct {
	Point
	Timestamp string
	Value     string
}

// ReadCSV reads `timestamp,value` rows after a header. Timestamps are NAB's
// "2006-01-02 15:04:05" (UTC) or RFC 3339; an empty or unparsable value is
// kept as a row with a NaN value (a tick with missing data), a bad
// timestamp is an error.
func ReadCSV(r io.Reader) ([]Record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	ti, vi := slices.Index(header, "timestamp"), slices.Index(header, "value")
	if ti < 0 || vi < 0 {
		return nil, fmt.Errorf("header %q: want columns timestamp and value", strings.Join(header, ","))
	}
	var out []Record
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(row) <= max(ti, vi) {
			return nil, fmt.Errorf("line %d: want %d columns, got %d", line, len(header), len(row))
		}
		ts, err := parseTime(row[ti])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(row[vi]), 64)
		if err != nil {
			v = math.NaN()
		}
		out = append(out, Record{Point: Point{Time: ts, Value: v}, Timestamp: row[ti], Value: row[vi]})
	}
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{TimeLayout, "2006-01-02 15:04:05.999999999", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q: want %q or RFC 3339", s, TimeLayout)
}

// Points returns the points of the records.
func Points(recs []Record) []Point {
	out := make([]Point, len(recs))
	for i, r := range recs {
		out[i] = r.Point
	}
	return out
}

// WriteCSV writes `timestamp,value,anomaly_score` with the records' own
// text, one row per record, anomaly_score 1 where the tick fired.
func WriteCSV(w io.Writer, recs []Record, ticks []Tick) error {
	if len(recs) != len(ticks) {
		return fmt.Errorf("write csv: %d records but %d ticks", len(recs), len(ticks))
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"timestamp", "value", "anomaly_score"}); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for i, r := range recs {
		score := "0"
		if ticks[i].Fired {
			score = "1"
		}
		if err := cw.Write([]string{r.Timestamp, r.Value, score}); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// FileSummary is the outcome of one CSV file.
type FileSummary struct {
	// Path is relative to the input directory, slash-separated.
	Path string
	Summary
}

// RunDir backtests every *.csv under in (recursively), each file one series
// with the rule r (its Fingerprint is the file's relative path), and writes
// `<out>/<relpath>` with the columns `timestamp,value,anomaly_score`. Files
// run concurrently on up to workers goroutines (0: GOMAXPROCS). A failing
// file does not stop the others; the failures are joined.
func RunDir(in, out string, r Rule, workers int) ([]FileSummary, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	rels, err := listCSV(in)
	if err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	sums := make([]FileSummary, len(rels))
	errs := make([]error, len(rels))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(rels), 1)) {
		wg.Go(func() {
			for i := range next {
				sums[i], errs[i] = runFile(in, out, rels[i], r)
			}
		})
	}
	for i := range rels {
		next <- i
	}
	close(next)
	wg.Wait()
	return sums, errors.Join(errs...)
}

func runFile(in, out, rel string, r Rule) (FileSummary, error) {
	res := FileSummary{Path: filepath.ToSlash(rel)}
	f, err := os.Open(filepath.Join(in, rel))
	if err != nil {
		return res, fmt.Errorf("backtest %s: %w", rel, err)
	}
	recs, err := ReadCSV(f)
	_ = f.Close() // read-only: a close error cannot lose data
	if err != nil {
		return res, fmt.Errorf("backtest %s: %w", rel, err)
	}
	r.Fingerprint = res.Path
	ticks, sum, err := Run(Points(recs), r)
	if err != nil {
		return res, fmt.Errorf("backtest %s: %w", rel, err)
	}
	res.Summary = sum
	dst := filepath.Join(out, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return res, fmt.Errorf("backtest %s: %w", rel, err)
	}
	w, err := os.Create(dst)
	if err != nil {
		return res, fmt.Errorf("backtest %s: %w", rel, err)
	}
	if err := WriteCSV(w, recs, ticks); err != nil {
		_ = w.Close()
		return res, fmt.Errorf("backtest %s: %w", rel, err)
	}
	if err := w.Close(); err != nil {
		return res, fmt.Errorf("backtest %s: %w", rel, err)
	}
	return res, nil
}

// listCSV returns the paths, relative to in and sorted, of every .csv file
// under in (subfolders included).
func listCSV(in string) ([]string, error) {
	var rels []string
	err := filepath.WalkDir(in, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".csv") {
			rel, err := filepath.Rel(in, path)
			if err != nil {
				return err
			}
			rels = append(rels, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", in, err)
	}
	slices.Sort(rels)
	return rels, nil
}
