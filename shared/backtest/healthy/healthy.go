// Package healthy generates the healthy-pattern suite: 35 days of the
// series every SRE has and no detector may page on — weekday business
// hours, a nightly batch job, a daily sine, a weekly cycle, an hourly cron
// spike, a slowly growing disk, near-zero error counts and an idle queue's
// age — at 1-minute and 5-minute resolution, plus incident series with
// known truth (a burst, a level shift, a metric that drops to zero).
//
// Everything is generated from fixed seeds by a permuted congruential
// generator (math/rand/v2's PCG, whose output is specified) with our own
// Gaussian and Poisson draws, so the suite is the same on every machine and
// Go version; a test pins its checksum. The 5-minute series are the
// 5-minute aggregates of the 1-minute ones (the average, or the sum for
// counts, or the maximum for the queue age), as CloudWatch publishes them.
package healthy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// Point is one sample.
type Point = detector.Point

// Series is one generated series.
type Series struct {
	// Name is the pattern; Resolution the spacing of its points.
	Name       string
	Resolution time.Duration
	Points     []Point
	// Incidents are the anomalous spans of an incident series, empty for a
	// healthy one.
	Incidents []Incident
}

// Incident is a span of a series that is anomalous by construction.
type Incident struct {
	Kind     string
	From, To time.Time
}

// Suite layout.
const (
	Days = 35
	// Judged is the trailing span in which a healthy series must not page:
	// by then every baseline has had three weeks of history.
	Judged = 14 * 24 * time.Hour
)

// Start is the first instant of the suite: a Monday, two weeks before the
// US switch to daylight saving time, so business hours in New York move by
// an hour in UTC during the suite, as they do in production.
var Start = time.Date(2024, time.February, 26, 0, 0, 0, 0, time.UTC)

// JudgedFrom is the start of the judged span.
func JudgedFrom() time.Time { return Start.Add(Days*24*time.Hour - Judged) }

// aggregate says how 1-minute values become 5-minute ones.
type aggregate int

const (
	average aggregate = iota
	sum
	maximum
)

type pattern struct {
	name string
	agg  aggregate
	seed uint64
	gen  func(r *rng, t time.Time, i int) float64
}

// rng is the suite's source of randomness.
type rng struct{ *rand.Rand }

func newRNG(seed uint64) *rng { return &rng{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

// uniform is in (0, 1).
func (r *rng) uniform() float64 { return (float64(r.Uint64()>>11) + 0.5) / (1 << 53) }

// normal is a standard Gaussian draw (Box–Muller).
func (r *rng) normal() float64 {
	return math.Sqrt(-2*math.Log(r.uniform())) * math.Cos(2*math.Pi*r.uniform())
}

// poisson draws from a Poisson law of mean lambda (Knuth's method for small
// means, a rounded Gaussian for large ones).
func (r *rng) poisson(lambda float64) float64 {
	if lambda <= 0 {
		return 0
	}
	if lambda > 50 {
		return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*r.normal()))
	}
	l, k, p := math.Exp(-lambda), 0.0, 1.0
	for {
		p *= r.uniform()
		if p <= l {
			return k
		}
		k++
	}
}

// ar1 is autocorrelated noise: the slow wander every real gauge has.
type ar1 struct {
	phi, sd, x float64
}

func (a *ar1) next(r *rng) float64 {
	a.x = a.phi*a.x + a.sd*math.Sqrt(1-a.phi*a.phi)*r.normal()
	return a.x
}

var newYork = mustLocation("America/New_York")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		// The tzdata import in tzdata.go makes this unreachable.
		panic(err)
	}
	return loc
}

func hourOfDay(t time.Time) float64 {
	return float64(t.Hour()) + float64(t.Minute())/60
}

// smoothstep rises from 0 at a to 1 at b.
func smoothstep(x, a, b float64) float64 {
	u := math.Max(0, math.Min(1, (x-a)/(b-a)))
	return u * u * (3 - 2*u)
}

func patterns() []pattern {
	return []pattern{
		{name: "business_hours", agg: sum, seed: 1, gen: func() func(*rng, time.Time, int) float64 {
			// Requests per minute of an internal tool used in New York office
			// hours: 2 at night, 60 from 9 to 17 on weekdays with a lunch dip,
			// Poisson counts around a slowly wandering level.
			level := &ar1{phi: 0.999, sd: 0.1}
			return func(r *rng, t time.Time, _ int) float64 {
				l := t.In(newYork)
				h := hourOfDay(l)
				rate := 2.0
				if wd := l.Weekday(); wd != time.Saturday && wd != time.Sunday {
					day := smoothstep(h, 8, 9.5) * (1 - smoothstep(h, 16.5, 18))
					noon := (h - 12.5) / 0.6
					lunch := 1 - 0.3*math.Exp(-noon*noon)
					rate += 58 * day * lunch
				}
				return r.poisson(rate * math.Exp(level.next(r)))
			}
		}()},
		{name: "nightly_batch", agg: average, seed: 2, gen: func() func(*rng, time.Time, int) float64 {
			// CPU % of a database host: 12 % by day, a batch job from 02:00
			// to 04:00 UTC at 80 %, starting within a few minutes of 02:00.
			noise := &ar1{phi: 0.9, sd: 2}
			var jitter float64
			return func(r *rng, t time.Time, _ int) float64 {
				h := hourOfDay(t)
				if t.Hour() == 0 && t.Minute() == 0 {
					jitter = r.uniform() * 0.1
				}
				v := 12 + noise.next(r)
				if h >= 2+jitter && h < 4+jitter {
					v = 80 + 2*noise.x + 3*r.normal()
				}
				return math.Max(0, math.Min(100, v))
			}
		}()},
		{name: "daily_sine", agg: average, seed: 3, gen: func() func(*rng, time.Time, int) float64 {
			// A daily cycle: 100 ± 50, peak at 15:00 UTC, 5 % noise.
			noise := &ar1{phi: 0.8, sd: 5}
			return func(r *rng, t time.Time, _ int) float64 {
				return 100 + 50*math.Sin(2*math.Pi*(hourOfDay(t)-9)/24) + noise.next(r)
			}
		}()},
		{name: "weekly_cycle", agg: average, seed: 4, gen: func() func(*rng, time.Time, int) float64 {
			// Orders per minute of a shop: busy weekends, quiet Tuesdays, a
			// mild daily cycle.
			noise := &ar1{phi: 0.95, sd: 8}
			return func(r *rng, t time.Time, _ int) float64 {
				week := float64(t.Weekday()) + hourOfDay(t)/24
				return 200 + 80*math.Cos(2*math.Pi*(week-6.2)/7) + 25*math.Sin(2*math.Pi*(hourOfDay(t)-10)/24) + noise.next(r)
			}
		}()},
		{name: "hourly_cron", agg: average, seed: 5, gen: func() func(*rng, time.Time, int) float64 {
			// CPU % with a cron job in the first two minutes of every hour.
			noise := &ar1{phi: 0.7, sd: 1.5}
			return func(r *rng, t time.Time, _ int) float64 {
				v := 20 + noise.next(r)
				if t.Minute() < 2 {
					v = 75 + 8*r.normal()
				}
				return math.Max(0, math.Min(100, v))
			}
		}()},
		{name: "disk_growth", agg: average, seed: 6, gen: func() func(*rng, time.Time, int) float64 {
			// Bytes used on a 1 TB volume: 420 GB growing 3 GB a day, logs
			// rotated at midnight (a 1 GB drop), a few MB of noise.
			noise := &ar1{phi: 0.99, sd: 5e6}
			return func(r *rng, t time.Time, _ int) float64 {
				days := t.Sub(Start).Hours() / 24
				return math.Round(420e9 + 3e9*days - 1e9*math.Floor(days) + noise.next(r))
			}
		}()},
		{name: "error_count", agg: sum, seed: 7, gen: func(r *rng, _ time.Time, _ int) float64 {
			// 5xx count of a healthy service: an error every ~2 hours,
			// sometimes two together (a retried request).
			n := r.poisson(1.0 / 120)
			if n > 0 && r.uniform() < 0.2 {
				n++
			}
			return n
		}},
		{name: "queue_age", agg: maximum, seed: 8, gen: func(r *rng, _ time.Time, _ int) float64 {
			// Age in seconds of the oldest message of an almost idle queue:
			// 0, and a few seconds when a message waits for its poller.
			if r.uniform() < 3.0/60 {
				return math.Ceil(20 * r.uniform())
			}
			return 0
		}},
	}
}

// latency is the base of the level-shift incident: a request latency in
// milliseconds, 120 ± 6, with no daily pattern.
var latency = pattern{name: "latency", agg: average, seed: 9, gen: func() func(*rng, time.Time, int) float64 {
	noise := &ar1{phi: 0.8, sd: 6}
	return func(r *rng, _ time.Time, _ int) float64 { return 120 + noise.next(r) }
}()}

// Resolutions of the suite.
var Resolutions = []time.Duration{time.Minute, 5 * time.Minute}

// Suite returns every healthy series, 1-minute then 5-minute, in pattern
// order.
func Suite() []Series {
	var out []Series
	for _, p := range patterns() {
		minute := p.minutes()
		for _, res := range Resolutions {
			out = append(out, Series{Name: p.name, Resolution: res, Points: resample(minute, res, p.agg)})
		}
	}
	return out
}

// Incidents returns the incident series, 1-minute then 5-minute: each a
// healthy pattern with anomalies laid on it in the judged span.
//
//   - burst: the daily sine with 30 minutes at +100 on day 28 at 14:00 and
//     the same burst a day later (the second must page as well: the first
//     may not poison the baseline);
//   - level_shift: the latency 30 ms higher for 8 hours from day 30 at
//     09:00 — within its old range at no single point, so only a shift
//     detector sees it;
//   - drop_to_zero: business-hours requests that stop for an hour on the
//     Monday of day 28 at 11:00 New York time.
func Incidents() []Series {
	day := func(d int, h, m int) time.Time {
		return Start.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	byName := map[string]pattern{}
	for _, p := range patterns() {
		byName[p.name] = p
	}
	ny := time.Date(2024, time.March, 25, 11, 0, 0, 0, newYork)
	type incident struct {
		name  string
		base  pattern
		spans []Incident
		apply func(v float64) float64
	}
	incidents := []incident{
		{name: "burst", base: byName["daily_sine"], spans: []Incident{
			{Kind: "burst", From: day(28, 14, 0), To: day(28, 14, 30)},
			{Kind: "burst", From: day(29, 14, 0), To: day(29, 14, 30)},
		}, apply: func(v float64) float64 { return v + 100 }},
		{name: "level_shift", base: latency, spans: []Incident{
			{Kind: "shift", From: day(30, 9, 0), To: day(30, 17, 0)},
		}, apply: func(v float64) float64 { return v + 30 }},
		{name: "drop_to_zero", base: byName["business_hours"], spans: []Incident{
			{Kind: "drop", From: ny, To: ny.Add(time.Hour)},
		}, apply: func(float64) float64 { return 0 }},
	}
	var out []Series
	for _, in := range incidents {
		minute := in.base.minutes()
		for i := range minute {
			for _, sp := range in.spans {
				if !minute[i].Time.Before(sp.From) && minute[i].Time.Before(sp.To) {
					minute[i].Value = in.apply(minute[i].Value)
				}
			}
		}
		for _, res := range Resolutions {
			out = append(out, Series{Name: in.name, Resolution: res, Points: resample(minute, res, in.base.agg), Incidents: in.spans})
		}
	}
	return out
}

func (p pattern) minutes() []Point {
	r := newRNG(p.seed)
	n := Days * 24 * 60
	pts := make([]Point, n)
	for i := range n {
		t := Start.Add(time.Duration(i) * time.Minute)
		pts[i] = Point{Time: t, Value: p.gen(r, t, i)}
	}
	return pts
}

// resample aggregates 1-minute points into res buckets stamped at their
// start, as CloudWatch stamps a period.
func resample(minute []Point, res time.Duration, agg aggregate) []Point {
	k := int(res / time.Minute)
	if k <= 1 {
		return minute
	}
	out := make([]Point, 0, len(minute)/k)
	for i := 0; i+k <= len(minute); i += k {
		v := minute[i].Value
		for _, q := range minute[i+1 : i+k] {
			switch agg {
			case maximum:
				v = math.Max(v, q.Value)
			default:
				v += q.Value
			}
		}
		if agg == average {
			v /= float64(k)
		}
		out = append(out, Point{Time: minute[i].Time, Value: v})
	}
	return out
}

// Checksum is a SHA-256 over every series' name, resolution, times and
// value bits: it changes if and only if the suite does.
func Checksum(series []Series) string {
	h := sha256.New()
	var b [8]byte
	for _, s := range series {
		h.Write([]byte(s.Name))
		binary.LittleEndian.PutUint64(b[:], uint64(s.Resolution))
		h.Write(b[:])
		for _, p := range s.Points {
			binary.LittleEndian.PutUint64(b[:], uint64(p.Time.UnixNano()))
			h.Write(b[:])
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(p.Value))
			h.Write(b[:])
		}
		for _, in := range s.Incidents {
			h.Write([]byte(in.Kind))
			binary.LittleEndian.PutUint64(b[:], uint64(in.From.UnixNano()))
			h.Write(b[:])
			binary.LittleEndian.PutUint64(b[:], uint64(in.To.UnixNano()))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
