package cockpit

import (
	"context"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/tui"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
)

// AuditPath is where the audit log of cfg lives.
func AuditPath(cfg *config.Config) string { return audit.PathIn(cfg.StateDir) }

// NewSessionModel builds one session's cockpit on the shared sources. The
// identity ctx carries decides which actions the tabs offer (ops checks
// again) and travels with every action into ops; everything the tabs wait
// on ends with ctx, so a closed session leaves nothing behind. A ctx
// without an identity gives a session that offers no action.
func NewSessionModel(ctx context.Context, cfg *config.Config, src *Sources) *tui.Model {
	c := common.New(ctx, cfg)
	c.Tasks = src.Tasks
	c.Incidents = src.incidents
	sess := src.forSession(ctx)
	return tabs(c, sess)
}

// forSession returns a copy of the tabs' sources whose waits end with ctx.
// The shared parts (the informer cache, the samplers, the engines) stay
// shared; the kube view gets a change channel of its own.
func (s *Sources) forSession(ctx context.Context) *Sources {
	out := &Sources{
		Health:      s.Health,
		Metrics:     s.Metrics,
		Runbooks:    s.Runbooks,
		Backups:     s.Backups,
		Maintenance: s.Maintenance,
		Incident:    s.Incident,
		Tasks:       s.Tasks,
		incidents:   s.incidents,
		ctx:         ctx,
	}
	connect := s.Health.Kube
	if connect != nil {
		out.Health.Kube = func(wait context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			src, info, err := connect(wait)
			if c, ok := src.(*kube.Cache); ok && err == nil {
				return sessionView{Cache: c, changes: c.Subscribe(ctx)}, info, nil
			}
			return src, info, err
		}
	}
	return out
}

// sessionView is a shared cache seen by one session: its own change signal,
// everything else shared.
type sessionView struct {
	*kube.Cache
	changes <-chan struct{}
}

// Changes implements healthtab.KubeSource.
func (v sessionView) Changes() <-chan struct{} { return v.changes }
