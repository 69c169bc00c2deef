package chart

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one value at one time.
type Point struct {
	T time.Time
	V float64
}

// BandPoint is the baseline a tick was scored against: its centre and the
// values at which it would fire (centre ± threshold × spread).
type BandPoint struct {
	T                    time.Time
	Center, Lower, Upper float64
}

// Interval is a span of time; an alert fired at Start and resolved at End.
type Interval struct {
	Start, End time.Time
}

// Chart is what one picture shows.
type Chart struct {
	// Title names the rule and the series.
	Title string
	// Points is the series, in time order.
	Points []Point
	// Band is the per-tick baseline, in time order; a non-finite entry (no
	// baseline yet, insufficient data) is a gap in the band.
	Band []BandPoint
	// Anomalous are the points over the threshold, marked on the line.
	Anomalous []Point
	// Firing are the intervals the alert was firing, shaded.
	Firing []Interval
	// BandLabel names the band in the legend; empty means
	// "baseline ± threshold" (a threshold rule's band is its threshold line).
	BandLabel string
	// Width and Height in pixels; zero means DefaultWidth × DefaultHeight.
	Width, Height int
}

// Default picture size in pixels: wide, because a backtest spans days of
// 5-minute points.
const (
	DefaultWidth  = 1400
	DefaultHeight = 500
	dpi           = 96
)

// The palette. firingFill is opaque so a firing interval is one exact
// colour wherever nothing is drawn over it (the tests look for it).
var (
	lineColor      = color.RGBA{R: 0x1f, G: 0x4e, B: 0x9a, A: 0xff}
	bandFill       = color.NRGBA{R: 0x6f, G: 0xa8, B: 0xe6, A: 0x66}
	centerColor    = color.RGBA{R: 0x55, G: 0x66, B: 0x77, A: 0xff}
	anomalousColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	firingFill     = color.RGBA{R: 0xfb, G: 0xd5, B: 0xc5, A: 0xff}
)

// Render writes c as a PNG.
func Render(w io.Writer, c Chart) error {
	p, err := build(c)
	if err != nil {
		return err
	}
	width, height := c.Width, c.Height
	if width <= 0 {
		width = DefaultWidth
	}
	if height <= 0 {
		height = DefaultHeight
	}
	canvas := vgimg.NewWith(
		vgimg.UseWH(vg.Length(width)*vg.Inch/dpi, vg.Length(height)*vg.Inch/dpi),
		vgimg.UseDPI(dpi),
		vgimg.UseBackgroundColor(color.White),
	)
	p.Draw(draw.New(canvas))
	if _, err := (vgimg.PngCanvas{Canvas: canvas}).WriteTo(w); err != nil {
		return fmt.Errorf("write png: %w", err)
	}
	return nil
}

func build(c Chart) (*plot.Plot, error) {
	var tmin, tmax time.Time
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, pt := range c.Points {
		if tmin.IsZero() || pt.T.Before(tmin) {
			tmin = pt.T
		}
		if pt.T.After(tmax) {
			tmax = pt.T
		}
		if finite(pt.V) {
			ymin, ymax = min(ymin, pt.V), max(ymax, pt.V)
		}
	}
	if math.IsInf(ymin, 1) {
		return nil, errors.New("chart: no finite points to draw")
	}
	lo, hi := yRange(ymin, ymax, c.Band)

	p := plot.New()
	p.Title.Text = c.Title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = "time (UTC)"
	p.X.Min, p.X.Max = unix(tmin), unix(tmax)
	if p.X.Max == p.X.Min {
		p.X.Max = p.X.Min + 60
	}
	p.X.Tick.Marker = timeTicks{}
	p.Y.Min, p.Y.Max = lo, hi
	p.Y.Tick.Marker = valueTicks{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.ThumbnailWidth = vg.Points(18)
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(10), -vg.Points(4)
	p.Add(plotter.NewGrid())

	// Drawing order is back to front: firing shading, band, centre, series,
	// marks.
	for _, iv := range c.Firing {
		x0, x1 := max(unix(iv.Start), p.X.Min), min(unix(iv.End), p.X.Max)
		if !(x1 >= x0) {
			continue
		}
		if x1 == x0 {
			// A firing that resolved at the next tick is still worth seeing.
			x1 = x0 + (p.X.Max-p.X.Min)/500
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: lo}, {X: x1, Y: lo}, {X: x1, Y: hi}, {X: x0, Y: hi}})
		if err != nil {
			return nil, fmt.Errorf("chart: firing interval: %w", err)
		}
		poly.Color = firingFill
		poly.Width = 0
		p.Add(poly)
	}
	if len(c.Firing) > 0 {
		p.Legend.Add("firing", &plotter.Polygon{Color: firingFill})
	}

	bandShown := false
	for _, seg := range bandSegments(c.Band) {
		ring := make(plotter.XYs, 0, 2*len(seg))
		for _, b := range seg {
			ring = append(ring, plotter.XY{X: unix(b.T), Y: clamp(b.Upper, lo, hi)})
		}
		for i := len(seg) - 1; i >= 0; i-- {
			ring = append(ring, plotter.XY{X: unix(seg[i].T), Y: clamp(seg[i].Lower, lo, hi)})
		}
		poly, err := plotter.NewPolygon(ring)
		if err != nil {
			return nil, fmt.Errorf("chart: band: %w", err)
		}
		poly.Color = bandFill
		poly.Width = 0
		centre := make(plotter.XYs, len(seg))
		for i, b := range seg {
			centre[i] = plotter.XY{X: unix(b.T), Y: clamp(b.Center, lo, hi)}
		}
		line, err := plotter.NewLine(centre)
		if err != nil {
			return nil, fmt.Errorf("chart: baseline: %w", err)
		}
		line.Color = centerColor
		line.Width = vg.Points(0.8)
		line.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		p.Add(poly, line)
		if !bandShown {
			label := c.BandLabel
			if label == "" {
				label = "baseline ± threshold"
			}
			p.Legend.Add(label, &plotter.Polygon{Color: bandFill}, line)
			bandShown = true
		}
	}

	for i, seg := range pointSegments(c.Points) {
		line, err := plotter.NewLine(seg)
		if err != nil {
			return nil, fmt.Errorf("chart: series: %w", err)
		}
		line.Color = lineColor
		line.Width = vg.Points(1)
		p.Add(line)
		if i == 0 {
			p.Legend.Add("value", line)
		}
	}

	var marks plotter.XYs
	for _, pt := range c.Anomalous {
		if finite(pt.V) {
			marks = append(marks, plotter.XY{X: unix(pt.T), Y: clamp(pt.V, lo, hi)})
		}
	}
	if len(marks) > 0 {
		sc, err := plotter.NewScatter(marks)
		if err != nil {
			return nil, fmt.Errorf("chart: anomalous points: %w", err)
		}
		sc.Color = anomalousColor
		sc.Radius = vg.Points(2.2)
		sc.Shape = draw.CircleGlyph{}
		p.Add(sc)
		p.Legend.Add("over threshold", sc)
	}
	return p, nil
}

// yRange fits the series and as much of the band as stays within half the
// series' own span around it: a band many times wider than the data (a
// noisy baseline) would otherwise flatten the line the reader came for.
func yRange(ymin, ymax float64, band []BandPoint) (lo, hi float64) {
	span := ymax - ymin
	if span == 0 {
		span = max(math.Abs(ymax), 1)
	}
	bandLo, bandHi := ymin, ymax
	for _, b := range band {
		if finite(b.Lower) && finite(b.Upper) {
			bandLo, bandHi = min(bandLo, b.Lower), max(bandHi, b.Upper)
		}
	}
	lo = max(bandLo, ymin-span/2)
	hi = min(bandHi, ymax+span/2)
	pad := (hi - lo) * 0.04
	if pad == 0 {
		pad = span * 0.04
	}
	return lo - pad, hi + pad
}

// bandSegments splits the band at entries without a finite baseline.
func bandSegments(band []BandPoint) [][]BandPoint {
	var out [][]BandPoint
	start := -1
	for i, b := range band {
		ok := finite(b.Center) && finite(b.Lower) && finite(b.Upper)
		switch {
		case ok && start < 0:
			start = i
		case !ok && start >= 0:
			out = append(out, band[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, band[start:])
	}
	return out
}

// pointSegments splits the series at non-finite values, which plotter
// rejects and which are gaps in the data anyway.
func pointSegments(points []Point) []plotter.XYs {
	var (
		out []plotter.XYs
		cur plotter.XYs
	)
	for _, pt := range points {
		if !finite(pt.V) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: unix(pt.T), Y: pt.V})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
