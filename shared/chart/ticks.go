package chart

import (
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
)

// timeTicks puts labelled ticks on round UTC times (whole hours, midnights)
// rather than on round numbers of Unix seconds, which read as random times.
type timeTicks struct{}

var timeSteps = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// maxTimeLabels keeps labels such as "Feb 14 06:00" from overlapping on a
// default-width chart.
const maxTimeLabels = 9

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration((hi - lo) * 1e9)
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= maxTimeLabels {
			step = s
			break
		}
	}
	minor := step / 4
	if step >= 24*time.Hour {
		minor = step / 2
	}
	if step == 24*time.Hour {
		minor = 6 * time.Hour
	}
	layout := "Jan 02 15:04"
	if step >= 24*time.Hour {
		layout = "Mon Jan 02"
	}
	start := time.Unix(0, int64(lo*1e9)).UTC().Truncate(minor)
	var ticks []plot.Tick
	for t := start; !t.After(time.Unix(0, int64(hi*1e9))); t = t.Add(minor) {
		v := unix(t)
		if v < lo {
			continue
		}
		tick := plot.Tick{Value: v}
		// Truncate on a UTC time aligns days to UTC midnight.
		if t.Equal(t.Truncate(step)) {
			tick.Label = t.Format(layout)
		}
		ticks = append(ticks, tick)
		if len(ticks) > 1000 {
			break
		}
	}
	return ticks
}

// valueTicks labels about six round values with SI suffixes, so bytes and
// request counts read as 1.5M rather than 1.5e+06.
type valueTicks struct{}

func (valueTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || !finite(lo) || !finite(hi) {
		return []plot.Tick{{Value: lo, Label: siLabel(lo)}}
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: siLabel(v)})
		if half := v + step/2; half < hi {
			ticks = append(ticks, plot.Tick{Value: half})
		}
		if len(ticks) > 100 {
			break
		}
	}
	return ticks
}

func siLabel(v float64) string {
	a := math.Abs(v)
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= u.div {
			return strconv.FormatFloat(v/u.div, 'g', 4, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
