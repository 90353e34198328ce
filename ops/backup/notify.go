package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// MetricsFile is the textfile-collector file written into backup.metrics_dir.
const MetricsFile = "opsdeck_backup.prom"

// componentMetrics is the last run of one component, kept in the state dir
// so that a run of one component does not erase the others' metrics.
type componentMetrics struct {
	LastRun     time.Time `json:"last_run"`
	LastSuccess time.Time `json:"last_success"`
	Success     bool      `json:"success"`
	Duration    float64   `json:"duration_seconds"`
	Size        int64     `json:"size_bytes"`
}

// afterRun writes metrics and calls the webhook; failures there are
// logged, never turned into a failed backup.
func (e *Engine) afterRun(ctx context.Context, comps []string, res Result, runErr error, metrics bool) {
	ctx = context.WithoutCancel(ctx)
	if metrics {
		if err := e.writeMetrics(comps, res, runErr); err != nil {
			slog.Warn("backup metrics not written", logging.Err(err))
		}
	}
	if e.Config.Backup.WebhookURL != "" {
		if err := e.notify(ctx, comps, res, runErr); err != nil {
			slog.Warn("backup webhook failed", logging.Err(err))
		}
	}
}

func (e *Engine) writeMetrics(comps []string, res Result, runErr error) error {
	if e.Config.Backup.MetricsDir == "" {
		return nil
	}
	state := filepath.Join(e.Config.StateDir, "backup-metrics.json")
	all := map[string]componentMetrics{}
	if b, err := os.ReadFile(state); err == nil {
		_ = json.Unmarshal(b, &all)
	}
	now := e.now()
	for _, name := range comps {
		m := all[name]
		m.LastRun = now
		m.Success = false
		m.Duration = res.Took.Seconds()
		if res.Manifest != nil && res.Verified {
			if c, ok := res.Manifest.Component(name); ok && c.Status == StatusOK {
				m.Success = true
				m.LastSuccess = now
				m.Duration = c.End.Sub(c.Start).Seconds()
				m.Size = 0
				for _, f := range c.Files {
					m.Size += f.Size
				}
			}
		}
		all[name] = m
	}
	b, _ := json.MarshalIndent(all, "", "  ")
	if err := safefile.Write(state, b, 0o600); err != nil {
		return err
	}
	return safefile.Write(filepath.Join(e.Config.Backup.MetricsDir, MetricsFile), RenderMetrics(all), 0o644)
}

// RenderMetrics renders the per-component state in the Prometheus text format.
func RenderMetrics(all map[string]componentMetrics) []byte {
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	metric := func(name, help, typ string, val func(componentMetrics) (float64, bool)) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, n := range names {
			if v, ok := val(all[n]); ok {
				fmt.Fprintf(&b, "%s{component=%q} %g\n", name, n, v)
			}
		}
	}
	metric("opsdeck_backup_last_success_timestamp_seconds", "Unix time of the last successful backup of the component.", "gauge",
		func(m componentMetrics) (float64, bool) {
			return float64(m.LastSuccess.Unix()), !m.LastSuccess.IsZero()
		})
	metric("opsdeck_backup_last_run_timestamp_seconds", "Unix time of the last backup run of the component.", "gauge",
		func(m componentMetrics) (float64, bool) { return float64(m.LastRun.Unix()), !m.LastRun.IsZero() })
	metric("opsdeck_backup_last_run_success", "1 if the last backup run of the component succeeded, 0 if it failed.", "gauge",
		func(m componentMetrics) (float64, bool) {
			if m.Success {
				return 1, true
			}
			return 0, true
		})
	metric("opsdeck_backup_last_duration_seconds", "Duration of the last backup run of the component.", "gauge",
		func(m componentMetrics) (float64, bool) { return m.Duration, true })
	metric("opsdeck_backup_last_size_bytes", "Stored size of the last successful backup of the component.", "gauge",
		func(m componentMetrics) (float64, bool) { return float64(m.Size), !m.LastSuccess.IsZero() })
	return b.Bytes()
}

// notify posts a Slack-compatible message about the run.
func (e *Engine) notify(ctx context.Context, comps []string, res Result, runErr error) error {
	timeout := e.HTTPTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	host := hostname()
	var text string
	if runErr == nil && res.Manifest != nil {
		text = fmt.Sprintf(":white_check_mark: opsdeck backup %s on %s: %s, %s in %s",
			res.Manifest.ID, host, strings.Join(comps, ", "), progress.Bytes(res.Manifest.Size()), res.Took.Round(time.Second))
	} else {
		msg := "unknown error"
		if runErr != nil {
			msg = runErr.Error()
		}
		if len(msg) > 600 {
			msg = msg[:597] + "..."
		}
		text = fmt.Sprintf(":x: opsdeck backup of %s on %s FAILED: %s", strings.Join(comps, ", "), host, msg)
	}
	body, _ := json.Marshal(map[string]string{"text": text})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Config.Backup.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %s", redactURLErr(err, e.Config.Backup.WebhookURL))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// redactURLErr removes the webhook URL (its path is a secret) from err.
func redactURLErr(err error, url string) string {
	return strings.ReplaceAll(err.Error(), url, "<webhook_url>")
}
