package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sigmawatch/sigmawatch/shared/config"
)

// Defaults of the settings block.
const (
	DefaultInterval                 = config.Duration(time.Minute)
	DefaultRepeatInterval           = config.Duration(4 * time.Hour)
	DefaultResolveRatio             = 0.75
	DefaultMaxAlertsPerNotification = 10
	// DefaultEvaluationDelay matches collect's defaults: CloudWatch values
	// are collected 10 minutes late (delay) and stamped at the start of
	// their period, so the newest point of a 5-minute metric is 15 minutes
	// old when it lands. Evaluating at T−15m sees it within PromQL's lookback.
	DefaultEvaluationDelay        = config.Duration(15 * time.Minute)
	DefaultDeadMansSwitchAlert    = "SigmawatchCollectStale"
	DefaultDeadMansSwitchSeverity = "critical"
)

// Defaults of the anomaly block: the configuration with the best low-FP score
// on NAB's real, labelled CloudWatch data (BENCHMARKS.md, "Detection
// quality"), which infra/examples/rules.yaml ships. Tests that check
// behaviour set their parameters explicitly rather than rely on these.
const (
	DefaultMethod             = MethodWindow
	DefaultBaseline           = config.Duration(7 * 24 * time.Hour)
	DefaultThreshold          = 6.0
	DefaultDirection          = DirectionBoth
	DefaultMinHistory         = config.Duration(24 * time.Hour) // capped at the baseline
	DefaultMinStddev          = 0.0
	DefaultMinRelativeStddev  = 0.05
	DefaultSmoothing          = 3
	DefaultSustainedPoints    = 18
	DefaultSustainedThreshold = 1.5
	DefaultSeasons            = 3
	// Season is the seasonal period: the same time 1w, 2w, … back.
	Season = config.Duration(7 * 24 * time.Hour)
	// MaxSeasons, MaxSmoothing and MaxSustainedPoints bound what one rule
	// may ask of Prometheus.
	MaxSeasons         = 12
	MaxSmoothing       = 60
	MaxSustainedPoints = 288
)

// Method is how the baseline of an anomaly rule is computed.
type Method string

// Baseline methods.
const (
	MethodWindow   Method = "window"   // trailing mean and standard deviation
	MethodRobust   Method = "robust"   // trailing median and MAD
	MethodSeasonal Method = "seasonal" // the same time 1w, 2w, … back
)

// Direction is which deviations count as anomalous.
type Direction string

// Directions.
const (
	DirectionUp   Direction = "up"
	DirectionDown Direction = "down"
	DirectionBoth Direction = "both"
)

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
	// EvaluationDelay evaluates rules at T − delay, for data that arrives late.
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
	RepeatInterval config.Duration   `yaml:"repeat_interval"`
	Labels         map[string]string `yaml:"labels"`
	Annotations    map[string]string `yaml:"annotations"`
	MissingData    MissingData       `yaml:"missing_data"`
	Anomaly        *Anomaly          `yaml:"anomaly"`
	// Routing overrides the group's and settings' grouping; after Rules it
	// holds the effective values.
	Routing `yaml:",inline"`

	repeatSet bool
}

// Anomaly scores expr with a z-score against its own history. After Load every
// field holds its effective value.
type Anomaly struct {
	Method   Method          `yaml:"method"`
	Baseline config.Duration `yaml:"baseline"`
	// Threshold is the |z| that makes a point anomalous.
	Threshold float64 `yaml:"threshold"`
	// ResolveThreshold is the |z| under which a firing alert resolves;
	// default Threshold × settings.resolve_ratio.
	ResolveThreshold float64   `yaml:"resolve_threshold"`
	Direction        Direction `yaml:"direction"`
	// MinHistory: with less history the series is "insufficient data".
	MinHistory config.Duration `yaml:"min_history"`
	// MinStddev and MinRelativeStddev (× |baseline level|) floor σ, so flat
	// series do not page on noise.
	MinStddev         float64 `yaml:"min_stddev"`
	MinRelativeStddev float64 `yaml:"min_relative_stddev"`
	// Smoothing averages the current value over this many last points.
	Smoothing int `yaml:"smoothing"`
	// Seasons is how many weeks back a seasonal baseline looks.
	Seasons int `yaml:"seasons"`
	// ExcludeRecent leaves this much time between the baseline and now, so an
	// ongoing anomaly does not pull its own baseline.
	ExcludeRecent config.Duration `yaml:"exclude_recent"`
	// SustainedPoints and SustainedThreshold add a second, longer average:
	// the mean of the last SustainedPoints points is scored against the same
	// baseline and fires at |z| >= SustainedThreshold, so a shift that lasts
	// is caught at a lower |z| than a short burst. Off (0) by default; set
	// both or neither.
	SustainedPoints    int     `yaml:"sustained_points"`
	SustainedThreshold float64 `yaml:"sustained_threshold"`
}

// DefaultSettings returns the settings of a file without a settings block.
func DefaultSettings() Settings {
	return Settings{
		Interval:                 DefaultInterval,
		RepeatInterval:           DefaultRepeatInterval,
		ResolveRatio:             DefaultResolveRatio,
		MaxAlertsPerNotification: DefaultMaxAlertsPerNotification,
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
		decodeErr = fmt.Errorf("parse yaml: %w", err)
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
		a.Method = DefaultMethod
	}
	if a.Method == MethodSeasonal {
		switch {
		case !set["seasons"] && !set["baseline"]:
			a.Seasons = DefaultSeasons
			a.Baseline = config.Duration(DefaultSeasons) * Season
		case set["seasons"] && !set["baseline"]:
			a.Baseline = config.Duration(a.Seasons) * Season
		case !set["seasons"] && set["baseline"] && a.Baseline%Season == 0:
			a.Seasons = int(a.Baseline / Season)
		}
	} else if !set["baseline"] {
		a.Baseline = DefaultBaseline
	}
	if !set["threshold"] {
		a.Threshold = DefaultThreshold
	}
	if !set["resolve_threshold"] {
		a.ResolveThreshold = a.Threshold * resolveRatio
	}
	if !set["direction"] {
		a.Direction = DefaultDirection
	}
	if !set["min_history"] {
		a.MinHistory = min(DefaultMinHistory, a.Baseline)
		if a.Method == MethodSeasonal {
			a.MinHistory = min(Season, a.Baseline)
		}
	}
	if !set["min_stddev"] {
		a.MinStddev = DefaultMinStddev
	}
	if !set["min_relative_stddev"] {
		a.MinRelativeStddev = DefaultMinRelativeStddev
	}
	if !set["smoothing"] {
		a.Smoothing = DefaultSmoothing
	}
	// The sustained check is on unless the rule says otherwise (setting
	// either field, e.g. sustained_points: 0 to turn it off) or its own
	// smoothing is already as long.
	if !set["sustained_points"] && !set["sustained_threshold"] && a.Smoothing < DefaultSustainedPoints {
		a.SustainedPoints = DefaultSustainedPoints
		a.SustainedThreshold = DefaultSustainedThreshold
	}
}

// Rules returns every rule in file order with its Group set and its
// effective RepeatInterval (settings.repeat_interval unless overridden).
func (f *File) Rules() []Rule {
	var out []Rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			r.Group = g.Name
			r.RepeatInterval = f.effectiveRepeat(g, r)
			r.Routing = f.effectiveRouting(g, r)
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
