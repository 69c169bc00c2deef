package notify

import (
	"github.com/sigmawatch/sigmawatch/shared/endpoint"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Alertmanager posts alerts to an Alertmanager's v2 API.
type Alertmanager struct {
	url string
	hc  *http.Client
}

// NewAlertmanager returns a sink for the Alertmanager at baseURL (for example
// http://alertmanager:9093); hc nil means http.DefaultClient.
func NewAlertmanager(baseURL string, hc *http.Client) (*Alertmanager, error) {
	if _, err := endpoint.Parse(baseURL); err != nil {
		return nil, fmt.Errorf("alertmanager: %w", err)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Alertmanager{url: strings.TrimRight(baseURL, "/") + "/api/v2/alerts", hc: hc}, nil
}

type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Send posts alerts in one request. Alertmanager deduplicates by labels,
// so sending a firing alert again at every run is what keeps it firing.
func (a *Alertmanager) Send(ctx context.Context, alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	body := make([]postableAlert, 0, len(alerts))
	for _, al := range alerts {
		p := postableAlert{Labels: al.Labels, Annotations: al.Annotations, GeneratorURL: al.GeneratorURL}
		if !al.StartsAt.IsZero() {
			p.StartsAt = al.StartsAt.UTC().Format(time.RFC3339Nano)
		}
		if !al.EndsAt.IsZero() {
			p.EndsAt = al.EndsAt.UTC().Format(time.RFC3339Nano)
		}
		body = append(body, p)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("alertmanager: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("alertmanager: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry credentials; name the host only
		}
		return fmt.Errorf("alertmanager %s: %w", req.URL.Host, err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the limit below; nothing to report
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager %s: HTTP %d: %s", req.URL.Host, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}
