package cockpit

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/tui/metrics"
)

// startMetrics builds the samplers once for every session: the Kubernetes
// sampler reads the informer cache the Health tab shares, and the engine
// runs until ctx ends or Close.
func (s *Sources) startMetrics(ctx context.Context, cfg *config.Config) {
	ks := opmetrics.KubeFromCache(func(wait context.Context) (*kube.Cache, *kube.Client, error) {
		return s.kubeCache(ctx, cfg)
	})
	setup, err := opmetrics.Build(cfg, &ks)
	if err != nil {
		slog.Warn("metrics not started", "err", err)
		s.Metrics = metrics.Sources{Absent: []string{err.Error()}}
		return
	}
	setup.Engine.Start(ctx)
	s.metrics = setup
	s.Metrics = metrics.Sources{Engine: setup.Engine, Absent: setup.Absent, Timeout: cfg.Timeouts.Check}
	if cfg.Alertmanager.URL == "" {
		return
	}
	am, err := alerts.NewClient(cfg.Alertmanager.URL, cfg.Timeouts.Check)
	if err != nil {
		s.Metrics.Absent = append(s.Metrics.Absent, "alertmanager: "+err.Error())
		return
	}
	s.Metrics.Alertmanager, s.Metrics.AlertmanagerHost = am, am.Host()
	if cfg.ReadOnly {
		return
	}
	if err := s.audit.Err(); err != nil {
		// Without an audit log no silence is changed from the cockpit.
		slog.Warn("audit log unavailable: silences are read-only", "err", err)
		s.Metrics.Absent = append(s.Metrics.Absent, fmt.Sprintf("silence actions: %v", err))
		return
	}
	s.Metrics.Silencer = alerts.Silencer{Client: am, Audit: s.audit, Env: cfg.Env()}
}

// kubeCache returns the shared informer cache, building and starting it on
// first use; the Health tab and the metrics share it.
func (s *Sources) kubeCache(ctx context.Context, cfg *config.Config) (*kube.Cache, *kube.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache != nil {
		return s.cache, s.client, nil
	}
	client, err := kube.NewClient(cfg.Kubernetes, cfg.Timeouts.Check)
	if err != nil {
		return nil, nil, err
	}
	c, err := kube.NewCache(client, client.Namespaces())
	if err != nil {
		return nil, nil, err
	}
	c.Start(ctx)
	s.cache, s.client = c, client
	return c, client, nil
}

// stopMetrics stops the samplers.
func (s *Sources) stopMetrics() {
	if s.metrics != nil {
		s.metrics.Close()
	}
}
