package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/redact"
)

// Client talks to Alertmanager's API v2. Every request is bounded by the
// client's timeout; errors name the host, never credentials in the URL.
type Client struct {
	base    *url.URL
	host    string
	secrets []string
	http    *http.Client
}

// NewClient returns a client for the Alertmanager at rawURL (basic-auth
// credentials in the URL are used and never shown); timeout bounds each
// request (default 5s).
func NewClient(rawURL string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("alertmanager.url %q is not an http(s) URL — use e.g. http://alertmanager:9093", redact.URL(rawURL))
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: timeout,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{base: u, host: u.Host, secrets: redact.Passwords(rawURL), http: &http.Client{Timeout: timeout, Transport: transport}}, nil
}

// Host is the Alertmanager's host:port, for messages.
func (c *Client) Host() string { return c.host }

// gettableAlert is the API's alert, the fields opsdeck reads.
type gettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State       string   `json:"state"`
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// Alerts returns the active alerts, silenced and inhibited ones included
// (their State says so), sorted with Sort.
func (c *Client) Alerts(ctx context.Context) ([]Alert, error) {
	var raw []gettableAlert
	q := url.Values{"active": {"true"}, "silenced": {"true"}, "inhibited": {"true"}, "unprocessed": {"true"}}
	if err := c.do(ctx, http.MethodGet, "alerts", q, nil, &raw); err != nil {
		return nil, err
	}
	out := make([]Alert, 0, len(raw))
	for _, r := range raw {
		a := Alert{
			Name:        r.Labels["alertname"],
			Severity:    r.Labels["severity"],
			Summary:     r.Annotations["summary"],
			Since:       r.StartsAt,
			Labels:      r.Labels,
			State:       StateFiring,
			SilencedBy:  r.Status.SilencedBy,
			Fingerprint: r.Fingerprint,
			Source:      SourceAlertmanager,
		}
		if a.Summary == "" {
			a.Summary = r.Annotations["description"]
		}
		switch {
		case len(r.Status.SilencedBy) > 0:
			a.State = StateSilenced
		case len(r.Status.InhibitedBy) > 0:
			a.State = StateInhibited
		}
		out = append(out, a)
	}
	Sort(out)
	return out, nil
}

type gettableSilence struct {
	ID       string    `json:"id"`
	Matchers []Matcher `json:"matchers"`
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	Creator  string    `json:"createdBy"`
	Comment  string    `json:"comment"`
	Status   struct {
		State string `json:"state"`
	} `json:"status"`
}

// Silences returns the silences that are active or pending, soonest ending
// first; expired ones are left out.
func (c *Client) Silences(ctx context.Context) ([]Silence, error) {
	var raw []gettableSilence
	if err := c.do(ctx, http.MethodGet, "silences", nil, nil, &raw); err != nil {
		return nil, err
	}
	out := make([]Silence, 0, len(raw))
	for _, r := range raw {
		if r.Status.State == "expired" {
			continue
		}
		out = append(out, Silence{ID: r.ID, State: r.Status.State, Matchers: r.Matchers, StartsAt: r.StartsAt, EndsAt: r.EndsAt, CreatedBy: r.Creator, Comment: r.Comment})
	}
	sortSilences(out)
	return out, nil
}

func sortSilences(s []Silence) {
	slices.SortStableFunc(s, func(a, b Silence) int { return a.EndsAt.Compare(b.EndsAt) })
}

// SilenceSpec is a silence to create.
type SilenceSpec struct {
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

// CreateSilence posts a silence and returns its ID.
func (c *Client) CreateSilence(ctx context.Context, s SilenceSpec) (string, error) {
	var res struct {
		SilenceID string `json:"silenceID"`
	}
	if err := c.do(ctx, http.MethodPost, "silences", nil, s, &res); err != nil {
		return "", err
	}
	if res.SilenceID == "" {
		return "", fmt.Errorf("alertmanager at %s accepted the silence but returned no ID", c.host)
	}
	return res.SilenceID, nil
}

// ExpireSilence ends the silence with id now.
func (c *Client) ExpireSilence(ctx context.Context, id string) error {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return fmt.Errorf("silence ID %q is not valid", id)
	}
	return c.do(ctx, http.MethodDelete, "silence/"+url.PathEscape(id), nil, nil, nil)
}

// PostableAlert is an alert sent to Alertmanager (the tests and the demo
// send some).
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitempty"`
	EndsAt       time.Time         `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// PostAlerts sends alerts to Alertmanager.
func (c *Client) PostAlerts(ctx context.Context, alerts []PostableAlert) error {
	return c.do(ctx, http.MethodPost, "alerts", nil, alerts, nil)
}

// ErrAPI is wrapped by errors Alertmanager answered (as opposed to not answering).
var ErrAPI = errors.New("alertmanager refused the request")

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := c.base.JoinPath("api", "v2", path)
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s request: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("alertmanager request %s %s: %s", method, path, c.scrub(err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("alertmanager unreachable at %s: %s — check that it runs and alertmanager.url", c.host, c.scrub(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("alertmanager at %s: reading the answer: %s", c.host, c.scrub(err))
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		hint := ""
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			hint = " — check the credentials in alertmanager.url"
		case http.StatusNotFound:
			hint = " — is alertmanager.url the Alertmanager itself (API v2, version 0.16 or later)?"
		}
		return fmt.Errorf("%w: %s %s answered %s: %s%s", ErrAPI, method, path, resp.Status, redact.String(msg, c.secrets...), hint)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("alertmanager at %s: unexpected answer to %s: %w", c.host, path, err)
	}
	return nil
}

func (c *Client) scrub(err error) string { return redact.String(err.Error(), c.secrets...) }
