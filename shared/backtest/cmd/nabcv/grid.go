package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/alerting"
	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/backtest"
	"github.com/sigmawatch/sigmawatch/shared/detector"
)

// candidate is one configuration: the detector's and the alert timing.
type candidate struct {
	cfg    detector.Config
	timing alerting.Timing
	params map[string]string
}

// defaultTiming is the alert timing the sweep starts from: the shipped
// rules' (for 0s, keep_firing_for 0s, the default repeat interval).
func defaultTiming() alerting.Timing { return backtest.DefaultRule().Timing }

type param struct {
	name, usage string
	def         func(c candidate) string
	set         func(c *candidate, v string) error
}

func floatParam(name, usage string, field func(c *candidate) *float64) param {
	return param{name: name, usage: usage,
		def: func(c candidate) string { return strconv.FormatFloat(*field(&c), 'g', -1, 64) },
		set: func(c *candidate, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			*field(c) = f
			return err
		}}
}

func durParam(name, usage string, field func(c *candidate) *time.Duration) param {
	return param{name: name, usage: usage,
		def: func(c candidate) string { return fmtDur(*field(&c)) },
		set: func(c *candidate, v string) error {
			d, err := time.ParseDuration(v)
			*field(c) = d
			return err
		}}
}

func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var params = []param{
	floatParam("threshold", "least |z| of the smoothed residual that fires", func(c *candidate) *float64 { return &c.cfg.Threshold }),
	intParam("peak-rank", "a page also needs more than peak-factor × the k-th largest hourly peak of the look-back (0: off)", func(c *candidate) *int { return &c.cfg.PeakRank }),
	floatParam("peak-factor", "factor of that peak", func(c *candidate) *float64 { return &c.cfg.PeakFactor }),
	floatParam("resolve-ratio", "hysteresis ratio", func(c *candidate) *float64 { return &c.cfg.ResolveRatio }),
	durParam("smoothing", "the burst check averages residuals over this span", func(c *candidate) *time.Duration { return &c.cfg.Smoothing }),
	durParam("baseline", "look-back of the recent and daily baselines", func(c *candidate) *time.Duration { return &c.cfg.Baseline }),
	intParam("weeks", "weeks of the weekly baseline", func(c *candidate) *int { return &c.cfg.Weeks }),
	durParam("min-history", "history before any decision", func(c *candidate) *time.Duration { return &c.cfg.MinHistory }),
	durParam("daily-after", "history before the daily baseline", func(c *candidate) *time.Duration { return &c.cfg.DailyAfter }),
	durParam("weekly-after", "history before the weekly baseline", func(c *candidate) *time.Duration { return &c.cfg.WeeklyAfter }),
	floatParam("seasonal-gain", "residual variance ratio a seasonal model must beat", func(c *candidate) *float64 { return &c.cfg.SeasonalGain }),
	floatParam("pool", "weight of the pooled residual variance in a bucket's spread", func(c *candidate) *float64 { return &c.cfg.Pool }),
	intParam("tolerance", "hours a seasonal pattern may come early or late", func(c *candidate) *int { return &c.cfg.Tolerance }),
	floatParam("trust", "points beyond trust spreads are learned with weight (trust/|z|)² (0: off)", func(c *candidate) *float64 { return &c.cfg.Trust }),
	floatParam("rare", "share of points beyond trust up to which they are down-weighted", func(c *candidate) *float64 { return &c.cfg.Rare }),
	floatParam("shift-slack", "CUSUM slack k", func(c *candidate) *float64 { return &c.cfg.ShiftSlack }),
	floatParam("shift-limit", "CUSUM decision limit h (0: off)", func(c *candidate) *float64 { return &c.cfg.ShiftLimit }),
	floatParam("shift-clip", "CUSUM input clipped at ±this", func(c *candidate) *float64 { return &c.cfg.ShiftClip }),
	durParam("shift-period", "CUSUM reference period", func(c *candidate) *time.Duration { return &c.cfg.ShiftPeriod }),
	floatParam("min-stddev", "absolute floor under the spread", func(c *candidate) *float64 { return &c.cfg.MinStdDev }),
	floatParam("min-rel-stddev", "floor under the spread relative to |centre|", func(c *candidate) *float64 { return &c.cfg.MinRelativeStdDev }),
	{name: "direction", usage: "up, down or both",
		def: func(c candidate) string { return string(c.cfg.Direction) },
		set: func(c *candidate, v string) error { c.cfg.Direction = anomaly.Direction(v); return nil }},
	durParam("for", "pending duration before firing", func(c *candidate) *time.Duration { return &c.timing.For }),
	durParam("keep-firing-for", "keep firing after the condition clears", func(c *candidate) *time.Duration { return &c.timing.KeepFiringFor }),
}

func intParam(name, usage string, field func(c *candidate) *int) param {
	return param{name: name, usage: usage,
		def: func(c candidate) string { return strconv.Itoa(*field(&c)) },
		set: func(c *candidate, v string) error {
			n, err := strconv.Atoi(v)
			*field(c) = n
			return err
		}}
}

// gridFlags registers one list flag per parameter, defaulting to the
// shipped value.
func gridFlags(fl *flag.FlagSet) map[string]*string {
	base := candidate{cfg: detector.DefaultConfig(), timing: defaultTiming()}
	out := map[string]*string{}
	for _, p := range params {
		out[p.name] = fl.String(p.name, p.def(base), p.usage+" (comma-separated list)")
	}
	return out
}

// expand returns the product of the lists, in flag order.
func expand(lists map[string]*string) ([]candidate, error) {
	cands := []candidate{{cfg: detector.DefaultConfig(), timing: defaultTiming(), params: map[string]string{}}}
	for _, p := range params {
		vals := strings.Split(*lists[p.name], ",")
		next := make([]candidate, 0, len(cands)*len(vals))
		for _, c := range cands {
			for _, v := range vals {
				v = strings.TrimSpace(v)
				n := c
				n.params = map[string]string{}
				for k, x := range c.params {
					n.params[k] = x
				}
				if err := p.set(&n, v); err != nil {
					return nil, fmt.Errorf("-%s %q: %w", p.name, v, err)
				}
				n.params[p.name] = p.def(n)
				next = append(next, n)
			}
		}
		cands = next
	}
	for _, c := range cands {
		if err := c.cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name(c.params), err)
		}
	}
	return cands, nil
}

// name lists the parameters that differ from the shipped defaults.
func name(ps map[string]string) string {
	base := candidate{cfg: detector.DefaultConfig(), timing: defaultTiming()}
	var parts []string
	for _, p := range params {
		if v, ok := ps[p.name]; ok && v != p.def(base) {
			parts = append(parts, p.name+"="+v)
		}
	}
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, " ")
}
