package incident

import (
	"context"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
)

// NewSources returns the timeline's sources for cfg: the audit log and the
// error templates of its state dir, kc (nil when Kubernetes is not
// reachable) and Alertmanager's alerts when alertmanager.url is set. A
// process that evaluates alerts itself replaces Alerts.
func NewSources(cfg *config.Config, kc *kube.Client) Sources {
	return Sources{
		Kube:          kc,
		Alerts:        AlertmanagerAlerts(cfg),
		AuditPath:     audit.PathIn(cfg.StateDir),
		TemplatesPath: oplogs.StorePath(cfg.StateDir),
		Lookback:      cfg.Incident.Lookback,
		Timeout:       cfg.Timeouts.Check,
	}
}

// AlertmanagerAlerts returns the reader of alertmanager.url's alerts, or
// nil when none is configured (or its URL is wrong: the check says so).
func AlertmanagerAlerts(cfg *config.Config) func(context.Context) ([]alerts.Alert, error) {
	if cfg.Alertmanager.URL == "" {
		return nil
	}
	c, err := alerts.NewClient(cfg.Alertmanager.URL, cfg.Timeouts.Check)
	if err != nil {
		return func(context.Context) ([]alerts.Alert, error) { return nil, err }
	}
	return c.Alerts
}
