package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Receiver kinds: what the remote-write store does with a request.
const (
	// ReceiverPrometheus applies a request as a whole (a refused sample rolls
	// back all of it) and refuses samples more than about an hour older than
	// its newest one, unless its out-of-order window reaches further.
	ReceiverPrometheus = "prometheus"
	// ReceiverVictoriaMetrics takes any sample within its retention, and
	// stores a resent one a second time.
	ReceiverVictoriaMetrics = "victoriametrics"
	// ReceiverMimir is Grafana Mimir, Cortex and Amazon Managed Service for
	// Prometheus (Cortex inside): they apply a request series by series and
	// answer 400 for the rejected series after storing the rest, with
	// Prometheus's limits on sample age.
	ReceiverMimir = "mimir"
)

// PrometheusHeadWindow is how far behind its newest sample a Prometheus
// TSDB head (Prometheus, Mimir, Cortex) still takes a sample without an
// out-of-order window: half of its two-hour block range.
const PrometheusHeadWindow = time.Hour

// ReceiverAgeMargin is kept under a receiver's age limit: the store's
// newest sample may be ahead of the scheduled time by the run's start lag
// and other writers' clocks.
const ReceiverAgeMargin = 5 * time.Minute

// Receiver describes the store the collector writes to.
type Receiver struct {
	// Kind is ReceiverPrometheus, ReceiverVictoriaMetrics or ReceiverMimir.
	// Empty is decided from the remote-write URL at start (ResolveReceiver):
	// mimir for an Amazon Managed Service for Prometheus workspace,
	// prometheus otherwise.
	Kind string `yaml:"kind"`
	// OutOfOrderWindow is the store's out-of-order window
	// (storage.tsdb.out_of_order_time_window in Prometheus,
	// out_of_order_time_window in Mimir and Cortex); 0 is their default.
	OutOfOrderWindow Duration `yaml:"out_of_order_window"`
}

// kind is the receiver kind to check and run with.
func (r Receiver) kind() string {
	if r.Kind == "" {
		return ReceiverPrometheus
	}
	return r.Kind
}

// PerSeries reports whether the receiver may store part of a request it
// answers with an error.
func (r Receiver) PerSeries() bool { return r.kind() == ReceiverMimir }

// MaxAge is how old, relative to the scheduled time, a sample may be and
// still be taken (with ReceiverAgeMargin to spare); 0 means no limit.
func (r Receiver) MaxAge() time.Duration {
	if r.kind() == ReceiverVictoriaMetrics {
		return 0
	}
	return max(PrometheusHeadWindow, r.OutOfOrderWindow.D()) - ReceiverAgeMargin
}

// IsAMPURL reports whether a remote-write URL points at an Amazon Managed
// Service for Prometheus workspace.
func IsAMPURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return strings.HasPrefix(h, "aps-workspaces.") && (strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn"))
}

// ResolveReceiver settles an empty receiver kind from the remote-write URL
// and refuses a kind that cannot be right for it: Amazon Managed Service for
// Prometheus applies requests series by series, and a collector that took
// it for an all-or-nothing store could mark data covered that it refused.
func (c *Collect) ResolveReceiver(remoteWriteURL string) error {
	amp := IsAMPURL(remoteWriteURL)
	switch {
	case c.Receiver.Kind == "" && amp:
		c.Receiver.Kind = ReceiverMimir
	case c.Receiver.Kind == "":
		c.Receiver.Kind = ReceiverPrometheus
	case amp && c.Receiver.Kind != ReceiverMimir:
		return fmt.Errorf("receiver.kind: %s, but SIGMAWATCH_REMOTE_WRITE_URL is an Amazon Managed Service for Prometheus workspace, which stores series by series: use %s", c.Receiver.Kind, ReceiverMimir)
	}
	return nil
}

// DefaultRegions gives every job without regions the function's own region
// (AWS_REGION in Lambda). It fails, naming the jobs, when region is empty.
func (c *Collect) DefaultRegions(region string) error {
	var missing []string
	for i := range c.Jobs {
		if len(c.Jobs[i].Regions) > 0 {
			continue
		}
		if region == "" {
			missing = append(missing, fmt.Sprintf("jobs[%d].regions", i))
			continue
		}
		c.Jobs[i].Regions = []string{region}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: not set, and there is no default region (set AWS_REGION, or list the regions)", strings.Join(missing, ", "))
	}
	return nil
}

// validateReceiver checks the receiver block.
func (c *Collect) validateReceiver() []error {
	var errs []error
	switch c.Receiver.Kind {
	case "", ReceiverPrometheus, ReceiverVictoriaMetrics, ReceiverMimir:
	default:
		errs = append(errs, fmt.Errorf("receiver.kind: unknown kind %q (want %s, %s or %s)", c.Receiver.Kind, ReceiverPrometheus, ReceiverVictoriaMetrics, ReceiverMimir))
	}
	if c.Receiver.OutOfOrderWindow < 0 {
		errs = append(errs, fmt.Errorf("receiver.out_of_order_window: must be >= 0 (got %s)", c.Receiver.OutOfOrderWindow))
	}
	return errs
}

// receiverProblem says why the receiver would refuse a metric's samples in
// the steady state: a period's value is first written by the first run
// after the period and the delay have passed, up to one interval later.
func (c *Collect) receiverProblem(period, delay Duration, timestamp string) string {
	maxAge := c.Receiver.MaxAge()
	if timestamp == TimestampScheduled || maxAge == 0 || period <= 0 || delay < 0 || c.Interval <= 0 {
		return ""
	}
	age := period.D() + delay.D() + c.Interval.D()
	if age <= maxAge {
		return ""
	}
	need := Duration(age + ReceiverAgeMargin)
	return fmt.Sprintf("a %s period's value is up to %s old when written (period + delay + interval), and a %s receiver refuses samples older than %s: "+
		"set timestamp: %s (stamped at the scheduled time), or receiver.out_of_order_window: %s or more, or receiver.kind: %s",
		period, Duration(age), c.Receiver.kind(), Duration(maxAge+ReceiverAgeMargin), TimestampScheduled, need, ReceiverVictoriaMetrics)
}
