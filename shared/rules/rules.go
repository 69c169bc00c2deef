package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sigmawatch/sigmawatch/shared/anomaly"
	"github.com/sigmawatch/sigmawatch/shared/config"
)

// Defaults of the settings block.
const (
	DefaultInterval                 = config.Duration(time.Minute)
	DefaultRepeatInterval           = config.Duration(4 * time.Hour)
	DefaultResolveRatio             = anomaly.DefaultResolveRatio
	DefaultMaxAlertsPerNotification = 10
	// DefaultLookbackDelta is how old the newest sample of a series may be
	// and still be read as its current value (Prometheus's
	// --query.lookback-delta, 5m by default, is too short for CloudWatch
	// data). With collect's defaults (delay 10m, a 5m schedule) the newest
	// stored point of a 5-minute metric is up to delay + 2 periods +
	// collect interval = 25 minutes old just before the next collect run
	// (11 + 1 + 5 = 17 minutes for a 1-minute metric); 30m covers that at
	// every schedule phase with room for a slow run.
	DefaultLookbackDelta = config.Duration(30 * time.Minute)
	// DefaultEvaluationDelay is none: rules read the newest data stored
	// (see DefaultLookbackDelta), whatever the schedules' phases.
	DefaultEvaluationDelay        = config.Duration(0)
	DefaultDeadMansSwitchAlert    = "SigmawatchCollectStale"
	DefaultDeadMansSwitchSeverity = "critical"
)

// Bounds of the anomaly block: what one rule may ask of the query engine.
const (
	MaxSeasons   = 12
	MaxSmoothing = config.Duration(6 * time.Hour)
	MaxSustained = config.Duration(24 * time.Hour)
)

// Season is the seasonal period of the anomaly block: the same time 1w,
// 2w, … back.
const Season = config.Duration(anomaly.DefaultSeason)

// MissingData is what a rule does with a firing series that has no data.
type MissingData string

// Missing-data behaviours.
const (
	MissingKeep    MissingData = "keep"    // keep the alert state as it is
	MissingResolve MissingData = "resolve" // treat the series as resolved
)

// File is rules.yaml.
type File struct {
	Settings Settings `yaml:"settings"`
	Groups   []Group  `yaml:"groups"`
}

// Settings apply to every rule.
type Settings struct {
	// Interval is the schedule rate of the alert function.
	Interval config.Duration `yaml:"interval"`
	// RepeatInterval is how often a still-firing alert is notified again.
	RepeatInterval config.Duration `yaml:"repeat_interval"`
	// ResolveRatio × threshold is the resolve threshold of an anomaly rule
	// that sets none (hysteresis, so alerts do not flap).
	ResolveRatio float64 `yaml:"resolve_ratio"`
	// MaxAlertsPerNotification caps the series listed in one notification;
	// the rest are summarised as "+N more".
	MaxAlertsPerNotification int `yaml:"max_alerts_per_notification"`
	// LookbackDelta is how old the newest sample of a series may be and
	// still be its current value: every instant selector of a threshold
	// rule reads last_over_time over it, and an anomaly rule is evaluated
	// at the newest data stored within it. A rule may override it.
	LookbackDelta config.Duration `yaml:"lookback_delta"`
	// EvaluationDelay evaluates rules at T − delay. None is needed for
	// CloudWatch data (LookbackDelta finds the newest stored point); it is
	// there for data that is stored in pieces, such as an aggregate over
	// series that several collect runs write.
	EvaluationDelay config.Duration `yaml:"evaluation_delay"`
	// DeadMansSwitch is off unless configured.
	DeadMansSwitch *DeadMansSwitch `yaml:"dead_mans_switch"`
	// Routing is the default grouping and missing-data timeout of every rule.
	Routing `yaml:",inline"`
}

// DeadMansSwitch alerts when the collect function's last success is too old.
type DeadMansSwitch struct {
	MaxAge      config.Duration   `yaml:"max_age"`
	Alert       string            `yaml:"alert"`
	Severity    string            `yaml:"severity"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Group is a named list of rules.
type Group struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
	// RepeatInterval and Routing apply to the group's rules that do not set
	// their own.
	RepeatInterval *config.Duration `yaml:"repeat_interval"`
	Routing        `yaml:",inline"`
}

// Rule is a Prometheus-style alerting rule; with an Anomaly block its expr is
// the series to score instead of a condition.
type Rule struct {
	// Group is filled in by Rules; it is not a YAML key.
	Group         string          `yaml:"-"`
	Alert         string          `yaml:"alert"`
	Expr          string          `yaml:"expr"`
	For           config.Duration `yaml:"for"`
	KeepFiringFor config.Duration `yaml:"keep_firing_for"`
	// RepeatInterval overrides settings.repeat_interval; zero inherits.
	RepeatInterval config.Duration `yaml:"repeat_interval"`
	// LookbackDelta overrides settings.lookback_delta (for example for a
	// metric with a 1-hour or 1-day period); zero inherits.
	LookbackDelta config.Duration   `yaml:"lookback_delta"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
	MissingData   MissingData       `yaml:"missing_data"`
	Anomaly       *Anomaly          `yaml:"anomaly"`
	// Routing overrides the group's and settings' grouping; after Rules it
	// holds the effective values.
	Routing `yaml:",inline"`

	repeatSet bool
}

// Anomaly scores expr with a z-score against its own history. After Load every
// field holds its effective value; the defaults are anomaly.DefaultParams,
// and alerting.SpecOf maps the block to the anomaly.Params that the deployed
// evaluation and the backtest both run.
type Anomaly struct {
	Method   anomaly.Method  `yaml:"method"`
	Baseline config.Duration `yaml:"baseline"`
	// Threshold is the |z| that makes a point anomalous.
	Threshold float64 `yaml:"threshold"`
	// ResolveThreshold is the |z| under which a firing alert resolves;
	// default Threshold × settings.resolve_ratio.
	ResolveThreshold float64           `yaml:"resolve_threshold"`
	Direction        anomaly.Direction `yaml:"direction"`
	// MinHistory: with less history the series is "insufficient data".
	MinHistory config.Duration `yaml:"min_history"`
	// MinStddev and MinRelativeStddev (× |baseline level|) floor σ, so flat
	// series do not page on noise.
	MinStddev         float64 `yaml:"min_stddev"`
	MinRelativeStddev float64 `yaml:"min_relative_stddev"`
	// Smoothing is the window of the current value: the mean of the points
	// of the last Smoothing (0: the latest point alone).
	Smoothing Window `yaml:"smoothing"`
	// Seasons is how many weeks back a seasonal baseline looks.
	Seasons int `yaml:"seasons"`
	// ExcludeRecent leaves this much time between the baseline and now, so an
	// ongoing anomaly does not pull its own baseline.
	ExcludeRecent config.Duration `yaml:"exclude_recent"`
	// Sustained and SustainedThreshold add a second, longer average: the
	// mean of the last Sustained is scored against the same baseline and
	// fires at |z| >= SustainedThreshold, so a shift that lasts is caught
	// at a lower |z| than a short burst. Set both or neither; 0 is off.
	Sustained          Window  `yaml:"sustained"`
	SustainedThreshold float64 `yaml:"sustained_threshold"`
	// SustainedPoints is the key sustained replaced; it is refused with
	// the duration to write instead.
	SustainedPoints removedPoints `yaml:"sustained_points"`
}

// DefaultSettings returns the settings of a file without a settings block.
func DefaultSettings() Settings {
	return Settings{
		Interval:                 DefaultInterval,
		RepeatInterval:           DefaultRepeatInterval,
		ResolveRatio:             DefaultResolveRatio,
		MaxAlertsPerNotification: DefaultMaxAlertsPerNotification,
		LookbackDelta:            DefaultLookbackDelta,
		EvaluationDelay:          DefaultEvaluationDelay,
	}
}

// Load parses rules.yaml strictly (unknown keys are errors with their line),
// fills in defaults and validates every rule, expr included.
func Load(data []byte) (*File, error) {
	f := &File{Settings: DefaultSettings()}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// Unknown keys and mistyped values (yaml.TypeError) leave the rest of
	// the document decoded: validate it too, so one run reports every problem.
	var decodeErr error
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		var typeErr *yaml.TypeError
		if !errors.As(err, &typeErr) {
			return nil, fmt.Errorf("parse yaml: %w", err)
		}
		// A YAML alias (anomaly: *tuned) reports its anchor's problems once
		// per use: once is enough.
		typeErr.Errors = slices.Compact(slices.Clone(typeErr.Errors))
		seen := map[string]bool{}
		typeErr.Errors = slices.DeleteFunc(typeErr.Errors, func(e string) bool {
			dup := seen[e]
			seen[e] = true
			return dup
		})
		decodeErr = fmt.Errorf("parse yaml: %w", typeErr)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("parse yaml: %w", err)
		}
		return nil, errors.New("parse yaml: only one YAML document is allowed")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	f.applyDefaults(&root)
	if err := errors.Join(decodeErr, f.Validate()); err != nil {
		return nil, err
	}
	return f, nil
}

// LoadFile reads and loads path; every error starts with the path.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// applyDefaults fills what the YAML left out. root tells an absent key from
// an explicit zero, so that "min_stddev: 0" is kept and validated as written.
func (f *File) applyDefaults(root *yaml.Node) {
	if d := f.Settings.DeadMansSwitch; d != nil {
		if d.Alert == "" {
			d.Alert = DefaultDeadMansSwitchAlert
		}
		if d.Severity == "" {
			d.Severity = DefaultDeadMansSwitchSeverity
		}
	}
	groups := config.MappingValue(config.DocumentRoot(root), "groups")
	for i := range f.Groups {
		var rulesNode *yaml.Node
		if groups != nil && groups.Kind == yaml.SequenceNode && i < len(groups.Content) {
			rulesNode = config.MappingValue(groups.Content[i], "rules")
		}
		for k := range f.Groups[i].Rules {
			r := &f.Groups[i].Rules[k]
			var ruleNode *yaml.Node
			if rulesNode != nil && rulesNode.Kind == yaml.SequenceNode && k < len(rulesNode.Content) {
				ruleNode = rulesNode.Content[k]
			}
			keys := config.MappingKeys(ruleNode)
			r.repeatSet = keys["repeat_interval"]
			if r.MissingData == "" {
				r.MissingData = MissingKeep
			}
			if r.Anomaly != nil {
				r.Anomaly.applyDefaults(config.MappingKeys(config.MappingValue(ruleNode, "anomaly")), f.Settings.ResolveRatio)
			}
		}
	}
}

func (a *Anomaly) applyDefaults(set map[string]bool, resolveRatio float64) {
	if !set["method"] {
		a.Method = anomaly.DefaultMethod
	}
	d := anomaly.DefaultParamsFor(a.Method)
	if a.Method == anomaly.MethodSeasonal {
		switch {
		case !set["seasons"] && !set["baseline"]:
			a.Seasons = d.Seasons
			a.Baseline = config.Duration(d.Seasons) * Season
		case set["seasons"] && !set["baseline"]:
			a.Baseline = config.Duration(a.Seasons) * Season
		case !set["seasons"] && set["baseline"] && a.Baseline%Season == 0:
			a.Seasons = int(a.Baseline / Season)
		}
	} else if !set["baseline"] {
		a.Baseline = config.Duration(d.Baseline)
	}
	if !set["threshold"] {
		a.Threshold = d.Threshold
	}
	if !set["resolve_threshold"] {
		a.ResolveThreshold = a.Threshold * resolveRatio
	}
	if !set["direction"] {
		a.Direction = d.Direction
	}
	if !set["min_history"] {
		a.MinHistory = min(config.Duration(d.MinHistory), a.Baseline)
		if a.Method == anomaly.MethodSeasonal {
			a.MinHistory = min(Season, a.Baseline)
		}
	}
	if !set["min_stddev"] {
		a.MinStddev = d.MinStdDev
	}
	if !set["min_relative_stddev"] {
		a.MinRelativeStddev = d.MinRelativeStdDev
	}
	if !set["smoothing"] {
		a.Smoothing = Window(d.Smoothing)
	}
	// The sustained check is on unless the rule says otherwise (setting
	// either field, e.g. sustained: 0s to turn it off) or its own
	// smoothing is already as long.
	if !set["sustained"] && !set["sustained_threshold"] && a.Smoothing < Window(d.Sustained) {
		a.Sustained = Window(d.Sustained)
		a.SustainedThreshold = d.SustainedThreshold
	}
}

// Detector is the anomaly.Params this block stands for: the one mapping
// from rules.yaml's words to the detector's, which alerting.SpecOf hands to
// the deployed evaluation and the backtest alike. What the block cannot
// set (the minimum point count, the seasonal window) comes from
// anomaly.DefaultParams; min_stddev 0 becomes anomaly.DefaultMinStdDev, the
// tiny positive floor that keeps z finite.
func (a *Anomaly) Detector() anomaly.Params {
	p := anomaly.DefaultParamsFor(a.Method)
	p.Method, p.Direction = a.Method, a.Direction
	p.Baseline, p.Gap = time.Duration(a.Baseline), time.Duration(a.ExcludeRecent)
	if a.Method == anomaly.MethodSeasonal {
		p.Seasons = a.Seasons
	}
	p.MinHistory = time.Duration(a.MinHistory)
	p.Threshold, p.ResolveThreshold = a.Threshold, a.ResolveThreshold
	p.MinStdDev = max(a.MinStddev, anomaly.DefaultMinStdDev)
	p.MinRelativeStdDev = a.MinRelativeStddev
	p.Smoothing = time.Duration(a.Smoothing)
	p.Sustained, p.SustainedThreshold = time.Duration(a.Sustained), a.SustainedThreshold
	return p
}

// Rules returns every rule in file order with its Group set and its
// effective RepeatInterval and LookbackDelta (the settings unless
// overridden).
func (f *File) Rules() []Rule {
	var out []Rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			r.Group = g.Name
			r.RepeatInterval = f.effectiveRepeat(g, r)
			r.Routing = f.effectiveRouting(g, r)
			if r.LookbackDelta == 0 {
				r.LookbackDelta = f.Settings.LookbackDelta
			}
			if r.MissingData == "" {
				r.MissingData = MissingKeep
			}
			if r.Anomaly != nil {
				a := *r.Anomaly
				r.Anomaly = &a
			}
			out = append(out, r)
		}
	}
	return out
}

// IsAnomaly reports whether r scores its series instead of testing a condition.
func (r *Rule) IsAnomaly() bool { return r.Anomaly != nil }
