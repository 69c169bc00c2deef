package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// flushMarkers numbers the marker series Flush writes to VictoriaMetrics.
var flushMarkers atomic.Int64

// flushMarker is the series Flush writes; no test's selector matches it.
const flushMarker = "testenv_flush_marker"

// Flush makes everything written so far queryable at once, new series
// included, also by a query whose label matchers were asked before.
// Prometheus needs nothing.
//
// On VictoriaMetrics (1.79, Debian's) /internal/force_flush alone is not
// enough. Its background flusher (each second, once the last flush is 1–2 s
// old) may make a new series' index entries searchable first, and that does
// not reset the tag-filters cache until a ticker 10 s later; force_flush,
// finding nothing left to flush, does not reset it either. So for up to
// 10 s a query with matchers asked before the series existed is answered
// from the cache, without it. Which flush comes first is the time between
// the write and the flush: milliseconds on a quiet machine, seconds on a
// loaded one (the collector's scenario matrix once missed a new instance
// that way, TestFlushShowsNewSeries).
//
// So Flush also writes a series never written before and flushes it at
// once (force_flush has just reset the background flusher's clock): its
// index entries are force_flush's own, and their flush resets the cache.
// The markers are asked for with one selector, so the newest marker in the
// answer proves the reset; until it is there (the background flusher won
// again), another is written.
func (r *Receiver) Flush(ctx context.Context) error {
	if r.Kind != "victoriametrics" {
		return nil
	}
	if err := r.forceFlush(ctx); err != nil {
		return err
	}
	// A day old: a marker stamped now was not found after force_flush
	// (VictoriaMetrics 1.79 updates its set of the current hour's series
	// every 10 s, and force_flush does not).
	at := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := flushMarkers.Add(1)
		line := fmt.Sprintf("%s{n=\"%d\"} 1 %d\n", flushMarker, n, at.UnixMilli())
		if err := r.call(ctx, http.MethodPost, "/api/v1/import/prometheus", strings.NewReader(line), nil); err != nil {
			return fmt.Errorf("flush marker: %w", err)
		}
		if err := r.forceFlush(ctx); err != nil {
			return err
		}
		var answer struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
				} `json:"result"`
			} `json:"data"`
		}
		q := url.Values{"query": {flushMarker}, "time": {fmt.Sprint(at.Unix())}}
		if err := r.call(ctx, http.MethodGet, "/api/v1/query?"+q.Encode(), nil, &answer); err != nil {
			return fmt.Errorf("flush marker: %w", err)
		}
		for _, s := range answer.Data.Result {
			if s.Metric["n"] == fmt.Sprint(n) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("flush: VictoriaMetrics does not show marker %d after 15 s: its tag-filters cache was not reset", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *Receiver) forceFlush(ctx context.Context) error {
	if err := r.call(ctx, http.MethodGet, "/internal/force_flush", nil, nil); err != nil {
		return fmt.Errorf("force flush: %w", err)
	}
	return nil
}

// call sends one request to the receiver and decodes a JSON answer into
// out when out is not nil.
func (r *Receiver) call(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, r.URL+path, body)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
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
