package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

const (
	promInstall = "apt-get install -y --no-install-recommends prometheus"
	vmInstall   = "apt-get install -y --no-install-recommends victoria-metrics"
	amInstall   = "apt-get install -y --no-install-recommends prometheus-alertmanager"
)

// Receiver is a running remote-write receiver with a PromQL API.
type Receiver struct {
	*Process
	URL            string // PromQL API base (…/api/v1/query lives under it)
	RemoteWriteURL string
	DataDir        string
	Kind           string // "prometheus", "victoriametrics" or "cortex"
	// Tenant is the tenant a multi-tenant receiver (Cortex) expects in
	// TenantHeader on every request; empty when it needs none.
	Tenant string
}

// PrometheusOptions configure StartPrometheus.
type PrometheusOptions struct {
	// OutOfOrderWindow enables TSDB out-of-order ingestion for that long;
	// zero is a stock Prometheus that rejects any sample older than the
	// newest of its series.
	OutOfOrderWindow time.Duration
}

// StartPrometheus starts a fresh Prometheus (own data directory) with the
// remote-write receiver enabled.
func StartPrometheus(t TB, opts PrometheusOptions) *Receiver {
	t.Helper()
	dir := t.TempDir()
	cfg := "global:\n  scrape_interval: 1m\n"
	if opts.OutOfOrderWindow > 0 {
		cfg += fmt.Sprintf("storage:\n  tsdb:\n    out_of_order_time_window: %s\n", opts.OutOfOrderWindow)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	data := filepath.Join(dir, "data")
	p := startT(t, spec{
		name:    "prometheus",
		binary:  "prometheus",
		install: promInstall,
		args: func(port int) []string {
			return []string{
				"--web.enable-remote-write-receiver",
				"--storage.tsdb.path=" + data,
				fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
				"--config.file=" + cfgPath,
				"--log.level=warn",
			}
		},
		ready: httpOK("/-/ready"),
	})
	base := "http://" + p.Addr
	return &Receiver{Process: p, URL: base, RemoteWriteURL: base + "/api/v1/write", DataDir: data, Kind: "prometheus"}
}

// StartVictoriaMetrics starts a fresh single-node VictoriaMetrics. It shows
// the newest data at once (-search.latencyOffset=0s), unlike a production
// one, which hides the newest 30 s.
func StartVictoriaMetrics(t TB) *Receiver {
	t.Helper()
	data := filepath.Join(t.TempDir(), "vm")
	p := startT(t, spec{
		name:    "victoria-metrics",
		binary:  "victoria-metrics",
		install: vmInstall,
		args: func(port int) []string {
			return []string{
				fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", port),
				"-storageDataPath=" + data,
				"-retentionPeriod=100y",
				"-search.latencyOffset=0s",
				"-search.disableCache",
				"-loggerLevel=WARN",
			}
		},
		ready: httpOK("/health"),
	})
	base := "http://" + p.Addr
	return &Receiver{Process: p, URL: base, RemoteWriteURL: base + "/api/v1/write", DataDir: data, Kind: "victoriametrics"}
}

// Flush makes recently written data queryable at once. Prometheus needs
// nothing; VictoriaMetrics buffers for about a second.
func (r *Receiver) Flush(ctx context.Context) error {
	if r.Kind != "victoriametrics" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/internal/force_flush", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("force flush: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("force flush: %s", resp.Status)
	}
	return nil
}

// Alertmanager is a running Alertmanager.
type Alertmanager struct {
	*Process
	URL string
}

// StartAlertmanager starts an Alertmanager with a receiver that sends
// nothing; tests read alerts back through its v2 API.
func StartAlertmanager(t TB) *Alertmanager {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	cfg := "route:\n  receiver: blackhole\n  group_wait: 0s\nreceivers:\n  - name: blackhole\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p := startT(t, spec{
		name:    "alertmanager",
		binary:  "prometheus-alertmanager",
		install: amInstall,
		args: func(port int) []string {
			return []string{
				"--config.file=" + cfgPath,
				"--storage.path=" + filepath.Join(dir, "data"),
				fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
				"--cluster.listen-address=",
				"--log.level=warn",
			}
		},
		ready: httpOK("/-/ready"),
	})
	return &Alertmanager{Process: p, URL: "http://" + p.Addr}
}
