package nab

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/backtest"
)

// File is one labelled data file with what scoring needs of its rows.
type File struct {
	// Rel is the labels' key, "category/name.csv".
	Rel      string
	Category string
	Points   []backtest.Point
	// Records are the rows as read, for writing results files.
	Records []backtest.Record

	probation int
	windows   int
	scorable  []bool
	window    []int     // per row: the window it lies in, or −1
	value     []float64 // per row: σ of its position, unweighted
}

// Rows is the number of data rows.
func (f *File) Rows() int { return len(f.Points) }

// Probation is the number of leading rows whose detections are ignored.
func (f *File) Probation() int { return f.probation }

// Corpus is a set of labelled files, sorted by Rel.
type Corpus struct {
	Files []*File
}

// Load reads the windows JSON at labels and every data file it names under
// data. A window edge that is not a row's timestamp is an error naming the
// file, as in score.py.
func Load(data, labels string) (*Corpus, error) {
	raw, err := os.ReadFile(labels)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	var windows map[string][][2]string
	if err := json.Unmarshal(raw, &windows); err != nil {
		return nil, fmt.Errorf("labels %s: %w", labels, err)
	}
	rels := make([]string, 0, len(windows))
	for rel := range windows {
		rels = append(rels, rel)
	}
	slices.Sort(rels)
	c := &Corpus{}
	for _, rel := range rels {
		f, err := loadFile(data, rel, windows[rel])
		if err != nil {
			return nil, err
		}
		c.Files = append(c.Files, f)
	}
	return c, nil
}

func loadFile(data, rel string, windows [][2]string) (*File, error) {
	fh, err := os.Open(filepath.Join(data, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", rel, err)
	}
	recs, err := backtest.ReadCSV(fh)
	_ = fh.Close() // read-only
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", rel, err)
	}
	f := &File{Rel: rel, Category: path.Dir(rel), Records: recs, Points: backtest.Points(recs)}
	if err := f.label(windows); err != nil {
		return nil, fmt.Errorf("data file %s: %w", rel, err)
	}
	return f, nil
}

type edge struct{ start, end time.Time }

// label lays the windows over the rows exactly as score.py's build_file.
func (f *File) label(windows [][2]string) error {
	n := len(f.Points)
	first := make(map[time.Time]int, n)
	for i, p := range f.Points {
		if _, ok := first[p.Time]; !ok {
			first[p.Time] = i
		}
	}
	edges := make([]edge, 0, len(windows))
	for _, w := range windows {
		a, errA := parseLabelTime(w[0])
		b, errB := parseLabelTime(w[1])
		if errA != nil || errB != nil {
			return fmt.Errorf("window %s..%s: bad timestamp", w[0], w[1])
		}
		_, okA := first[a]
		_, okB := first[b]
		if !okA || !okB {
			return fmt.Errorf("window %s..%s does not match data timestamps", w[0], w[1])
		}
		edges = append(edges, edge{a, b})
	}
	slices.SortFunc(edges, func(x, y edge) int {
		if c := x.start.Compare(y.start); c != 0 {
			return c
		}
		return x.end.Compare(y.end)
	})
	f.probation = min(int(math.Floor(ProbationFraction*float64(n))), ProbationMaxRows)
	f.windows = len(edges)
	f.scorable = make([]bool, len(edges))
	f.window = make([]int, n)
	f.value = make([]float64, n)
	var (
		open      bool
		right     int
		width     float64
		curEnd    time.Time
		prevOK    bool
		prevRight int
		prevWidth float64
		id, next  = -1, 0
		pending   = edges
	)
	for i, p := range f.Points {
		if len(pending) > 0 && p.Time.Equal(pending[0].start) {
			start := pending[0].start
			curEnd = pending[0].end
			pending = pending[1:]
			right = first[curEnd]
			width = float64(right - first[start] + 1)
			open = true
			id = next
			next++
		}
		switch {
		case open:
			f.value[i] = sigma(-float64(right-i+1) / width)
			f.window[i] = id
		case !prevOK:
			f.value[i] = -1
			f.window[i] = -1
		case prevWidth > 1:
			f.value[i] = sigma(math.Abs(float64(prevRight-i)) / (prevWidth - 1))
			f.window[i] = -1
		default: // a one-row window: NAB divides by zero here
			f.value[i] = -1
			f.window[i] = -1
		}
		if i >= f.probation && open {
			f.scorable[id] = true
		}
		if open && p.Time.Equal(curEnd) {
			prevOK, prevRight, prevWidth = true, i, width
			open = false
		}
	}
	return nil
}

func parseLabelTime(s string) (time.Time, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "Z")
	s = strings.Replace(s, "T", " ", 1)
	var err error
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// Categories returns the categories in name order.
func (c *Corpus) Categories() []string {
	var out []string
	for _, f := range c.Files {
		if !slices.Contains(out, f.Category) {
			out = append(out, f.Category)
		}
	}
	slices.Sort(out)
	return out
}

// Score pools the scores of the files for which keep returns true.
// detections maps a file's Rel to its detection row indices.
func (c *Corpus) Score(detections map[string][]int, p Profile, keep func(*File) bool) Count {
	var total Count
	for _, f := range c.Files {
		if keep != nil && !keep(f) {
			continue
		}
		total = total.Add(f.Score(detections[f.Rel], p))
	}
	return total
}
