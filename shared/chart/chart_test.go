package chart

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// synthetic is two days of 5-minute points with a daily wave, a spike at
// the 400th point and the alert firing from there for two hours.
func synthetic() Chart {
	const n = 576
	var c Chart
	c.Title = "CPUHigh — instance=i-0abc"
	for i := range n {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		v := 50 + 10*math.Sin(2*math.Pi*float64(i)/288)
		if i >= 400 && i < 410 {
			v = 120
		}
		if i == 100 {
			v = math.NaN() // a gap
		}
		c.Points = append(c.Points, Point{T: at, V: v})
		if i >= 288 { // the first day is insufficient data
			c.Band = append(c.Band, BandPoint{T: at, Center: 50, Lower: 50 - 3*7, Upper: 50 + 3*7})
		} else {
			c.Band = append(c.Band, BandPoint{T: at, Center: math.NaN(), Lower: math.NaN(), Upper: math.NaN()})
		}
		if i >= 400 && i < 410 {
			c.Anomalous = append(c.Anomalous, Point{T: at, V: v})
		}
	}
	c.Firing = []Interval{{Start: t0.Add(400 * 5 * time.Minute), End: t0.Add(424 * 5 * time.Minute)}}
	return c
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	return img
}

func colours(img image.Image) map[color.RGBA]int {
	out := map[color.RGBA]int{}
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			out[color.RGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: uint8(a >> 8)}]++
		}
	}
	return out
}

// over composites a non-premultiplied src over an opaque dst.
func over(src color.NRGBA, dst color.RGBA) color.RGBA {
	a := float64(src.A) / 255
	mix := func(s, d uint8) uint8 { return uint8(math.Round(float64(s)*a + float64(d)*(1-a))) }
	return color.RGBA{R: mix(src.R, dst.R), G: mix(src.G, dst.G), B: mix(src.B, dst.B), A: 0xff}
}

// near counts the pixels within tol of want in every channel.
func near(cs map[color.RGBA]int, want color.RGBA, tol int) int {
	n := 0
	for c, k := range cs {
		if abs(int(c.R)-int(want.R)) <= tol && abs(int(c.G)-int(want.G)) <= tol && abs(int(c.B)-int(want.B)) <= tol {
			n += k
		}
	}
	return n
}

func abs(x int) int { return max(x, -x) }

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		chart         func() Chart
		width, height int
		wantFiring    bool
		wantAnomalous bool
		// firingUnderBand: the band covers the whole plot, so the firing
		// shading shows through it, blended.
		firingUnderBand bool
	}{
		{name: "firing", chart: synthetic, width: DefaultWidth, height: DefaultHeight, wantFiring: true, wantAnomalous: true},
		{name: "quiet", chart: func() Chart {
			c := synthetic()
			c.Firing, c.Anomalous = nil, nil
			return c
		}, width: DefaultWidth, height: DefaultHeight},
		{name: "custom size", chart: func() Chart {
			c := synthetic()
			c.Width, c.Height = 640, 300
			return c
		}, width: 640, height: 300, wantFiring: true, wantAnomalous: true},
		{name: "constant series", chart: func() Chart {
			c := synthetic()
			for i := range c.Points {
				c.Points[i].V = 7
			}
			return c
		}, width: DefaultWidth, height: DefaultHeight, wantFiring: true, wantAnomalous: true},
		{name: "band far wider than the data", chart: func() Chart {
			c := synthetic()
			for i := range c.Band {
				c.Band[i].Lower, c.Band[i].Upper = -1e12, 1e12
			}
			return c
		}, width: DefaultWidth, height: DefaultHeight, wantFiring: true, wantAnomalous: true, firingUnderBand: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			require.NoError(t, Render(&buf, tt.chart()))
			img := decode(t, buf.Bytes())
			require.Equal(t, image.Rect(0, 0, tt.width, tt.height), img.Bounds())
			cs := colours(img)
			// A blank or single-colour image would pass the size check;
			// text, anti-aliasing, band and line give hundreds of colours.
			require.Greater(t, len(cs), 50, "distinct colours")
			white := cs[color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}]
			require.Less(t, white, tt.width*tt.height*97/100, "mostly blank image")
			switch {
			case tt.firingUnderBand:
				require.Greater(t, near(cs, over(bandFill, firingFill), 3), 2000, "firing shading under the band")
			case tt.wantFiring:
				// The shaded interval is 24 of 576 ticks wide (~4% of the
				// plot): thousands of pixels of the exact fill colour.
				require.Greater(t, cs[firingFill], 2000, "firing shading")
			default:
				require.Zero(t, cs[firingFill], "no firing shading")
			}
			if tt.wantAnomalous {
				require.Positive(t, cs[anomalousColor], "anomalous marks")
			} else {
				require.Zero(t, cs[anomalousColor], "no anomalous marks")
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		chart Chart
	}{
		{name: "no points", chart: Chart{Title: "x"}},
		{name: "only NaN", chart: Chart{Points: []Point{{T: t0, V: math.NaN()}, {T: t0.Add(time.Minute), V: math.Inf(1)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			require.ErrorContains(t, Render(&buf, tt.chart), "no finite points")
			require.Zero(t, buf.Len())
		})
	}
}

func TestRenderSinglePoint(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, Chart{Points: []Point{{T: t0, V: 1}}, Firing: []Interval{{Start: t0, End: t0}}}))
	require.Equal(t, image.Rect(0, 0, DefaultWidth, DefaultHeight), decode(t, buf.Bytes()).Bounds())
}

func TestTimeTicks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		span      time.Duration
		wantLabel string
	}{
		{name: "two hours", span: 2 * time.Hour, wantLabel: "Mar 01 00:15"},
		{name: "two days", span: 48 * time.Hour, wantLabel: "Mar 01 06:00"},
		{name: "two weeks", span: 14 * 24 * time.Hour, wantLabel: "Mon Mar 02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ticks := timeTicks{}.Ticks(unix(t0), unix(t0.Add(tt.span)))
			var labels []string
			for _, tk := range ticks {
				if tk.Label != "" {
					labels = append(labels, tk.Label)
				}
			}
			require.Contains(t, labels, tt.wantLabel)
			require.LessOrEqual(t, len(labels), maxTimeLabels+1)
			require.GreaterOrEqual(t, len(labels), 3)
		})
	}
}

func TestSILabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		want string
	}{{0, "0"}, {0.25, "0.25"}, {950, "950"}, {1500, "1.5k"}, {2.5e6, "2.5M"}, {-3e9, "-3G"}, {4e12, "4T"}}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, siLabel(tt.v))
		})
	}
}

func BenchmarkRender(b *testing.B) {
	c := synthetic()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Render(&buf, c); err != nil {
			b.Fatal(err)
		}
	}
}
