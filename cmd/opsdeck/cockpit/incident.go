package cockpit

import (
	"context"
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/bundle"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/ops/kube"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/tui/incidenttab"
)

// startIncidents starts incident mode for every session of the process:
// the watcher that keeps the open incident at hand (read as the system job
// "incidents", a viewer) and, unless read-only, the recorder of alert and
// check changes (the system job "incident-recorder", an operator: it may
// note, nothing more). Both end with ctx or Close, which waits for them.
func (s *Sources) startIncidents(ctx context.Context, cfg *config.Config) {
	ctx, s.stopBackground = context.WithCancel(ctx)
	store := opincident.NewStore(cfg, s.audit)
	w := opincident.NewWatcher(store)
	s.incidents = w
	readCtx := access.WithIdentity(ctx, access.System("incidents", access.Viewer))
	w.Refresh(readCtx)
	s.background.Go(func() { w.Run(readCtx) })

	alertsNow := s.alertsNow(cfg)
	if !cfg.ReadOnly {
		rec := &opincident.Recorder{Store: store, Alerts: alertsNow, Every: cfg.Incident.Record,
			Checks: func(ctx context.Context) health.Report { return health.Run(ctx, cfg) }}
		recCtx := access.WithIdentity(ctx, access.System("incident-recorder", access.Operator))
		s.background.Go(func() { rec.Run(recCtx) })
	}
	s.Incident = incidenttab.Sources{
		Watcher: w,
		Timeline: func(ctx context.Context, inc opincident.Incident) []opincident.Entry {
			src := opincident.NewSources(cfg, s.kubeClient(cfg))
			src.Alerts = alertsNow
			src.Templates = s.newErrorKinds
			return opincident.Timeline(ctx, inc, src, time.Now())
		},
		Bundle: func(ctx context.Context) (incidenttab.BundleResult, error) {
			return s.writeBundle(ctx, cfg, store)
		},
	}
}

// writeBundle writes a diagnostic bundle with this process's clients and
// metrics window, and records it on the open incident.
func (s *Sources) writeBundle(ctx context.Context, cfg *config.Config, store *opincident.Store) (incidenttab.BundleResult, error) {
	var eng *opmetrics.Engine
	if s.metrics != nil {
		eng = s.metrics.Engine
	}
	res, err := bundle.Collect(ctx, bundle.Sources{Config: cfg, Kube: s.kubeClient(cfg), Metrics: eng, Audit: s.audit}, bundle.Options{})
	if err != nil {
		return incidenttab.BundleResult{}, err
	}
	out := incidenttab.BundleResult{Path: res.Path, Size: res.Size, Parts: len(res.Parts)}
	for _, p := range res.Failed() {
		out.Failed = append(out.Failed, p.Name)
	}
	if _, _, err := store.RecordBundle(ctx, res.Path, res.Size); err != nil {
		return out, fmt.Errorf("written to %s, but not recorded on the incident: %w", res.Path, err)
	}
	return out, nil
}

// newErrorKinds are the new kinds of errors the Health tab's last scan
// found (it does not record them in the store).
func (s *Sources) newErrorKinds() []oplogs.Template {
	e := &s.errorKinds
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.res == nil {
		return nil
	}
	return e.res.NewTemplates()
}

// alertsNow reads the alerts firing now: Alertmanager's when configured,
// else opsdeck's own evaluation of the metrics this process samples.
func (s *Sources) alertsNow(cfg *config.Config) func(context.Context) ([]alerts.Alert, error) {
	if am := opincident.AlertmanagerAlerts(cfg); am != nil {
		return am
	}
	if s.metrics == nil {
		return nil
	}
	eng := s.metrics.Engine
	return func(context.Context) ([]alerts.Alert, error) { return alerts.Evaluate(eng.Snapshot(0)), nil }
}

// kubeClient is the shared client when the Health tab built it, else a new
// one; nil when Kubernetes is not configured (the timeline says so).
func (s *Sources) kubeClient(cfg *config.Config) *kube.Client {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c != nil {
		return c
	}
	c, err := kube.NewClient(cfg.Kubernetes, cfg.Timeouts.Check)
	if err != nil {
		return nil
	}
	return c
}
