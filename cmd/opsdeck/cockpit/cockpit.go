// Package cockpit opens the TUI: it builds the data sources from the
// configuration, hands them to the tabs and cleans them up on exit.
package cockpit

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/logging"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/internal/version"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/ops/kube"
	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/ops/tasks"
	"github.com/opsdeck/opsdeck/tui"
	"github.com/opsdeck/opsdeck/tui/audittab"
	"github.com/opsdeck/opsdeck/tui/backups"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/incidenttab"
	"github.com/opsdeck/opsdeck/tui/maintenance"
	"github.com/opsdeck/opsdeck/tui/metrics"
	"github.com/opsdeck/opsdeck/tui/restore"
	runbookstab "github.com/opsdeck/opsdeck/tui/runbooks"
)

// Sources are the live data sources of one cockpit. Close stops them.
type Sources struct {
	Health   healthtab.Sources
	Metrics  metrics.Sources
	Runbooks runbookstab.Sources
	Backups  backups.Sources
	// Maintenance shares one maintenance engine (its connections) between
	// the sessions.
	Maintenance maintenance.Sources
	// Incident is incident mode: the open incident, its timeline, bundles.
	Incident incidenttab.Sources
	// Tasks are the operations running in this process; every session of a
	// server shares them.
	Tasks *tasks.Registry

	// ctx is the sources' lifetime (the process, or the server).
	ctx     context.Context
	mu      sync.Mutex
	cache   *kube.Cache
	client  *kube.Client
	metrics *opmetrics.Setup
	// audit is the process's one audit log: every engine, the silences
	// and the runbook commands record into it.
	audit *audit.Log

	maintainOnce sync.Once
	maintainEng  *opmaintain.Engine

	backupOnce sync.Once
	backupEng  *backup.Engine
	backupErr  error

	// wal is the WAL streamer this process runs, nil when none.
	wal *walStreamer

	// incidents is the open incident's watcher every session's banner reads.
	incidents *opincident.Watcher
	// background are the goroutines that live until Close (the incident
	// watcher and recorder); Close cancels them with stopBackground and
	// waits.
	background     sync.WaitGroup
	stopBackground context.CancelFunc
	errorKinds     errorKinds
}

// NewSources builds the data sources for cfg. Nothing connects until a tab
// asks; ctx ends the informers. The audit log is opened here, once, and
// handed to every engine; commands (nil: runbook commands can be read, not
// run) runs the runbooks' commands.
func NewSources(ctx context.Context, cfg *config.Config, commands cli.Commands) *Sources {
	s := &Sources{ctx: ctx, Tasks: tasks.New(), audit: cfg.OpenAudit()}
	s.Health = healthtab.Sources{
		Timeout: cfg.Timeouts.Check,
		Checks: func(ctx context.Context) []health.Result {
			return health.RunCheckers(ctx, cfg.Timeouts.Check, health.Checkers(cfg, "postgres", "redis")).Results
		},
		Kube: func(wait context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			return s.connectKube(ctx, wait, cfg)
		},
		Logs: func(ctx context.Context, req kube.LogRequest) (healthtab.LogStream, []kube.LogSource, error) {
			return s.streamLogs(ctx, cfg, req)
		},
		LogLines: cfg.Kubernetes.LogLines,
		Errors: func(ctx context.Context) (*kube.ErrorKinds, error) {
			return s.findErrorKinds(ctx, cfg)
		},
	}
	s.startMetrics(ctx, cfg)
	s.Runbooks = runbookSources(cfg, s.audit, commands)
	s.Maintenance = maintenance.Sources{
		Engine: func() (maintenance.Engine, error) {
			s.maintainOnce.Do(func() { s.maintainEng = opmaintain.New(cfg, version.String(), s.audit) })
			return s.maintainEng, nil
		},
	}
	s.Backups = backups.Sources{
		Engine: func() (*backup.Engine, error) {
			s.backupOnce.Do(func() { s.backupEng, s.backupErr = backup.New(cfg, version.String(), s.audit) })
			return s.backupEng, s.backupErr
		},
	}
	s.startIncidents(ctx, cfg)
	if cfg.Postgres.WAL.Stream && !cfg.ReadOnly {
		if eng, err := s.Backups.Engine(); err == nil {
			s.startWAL(ctx, eng)
			s.Backups.WALState = func() (opwal.State, bool) {
				st, running, _ := s.WALState()
				return st, running
			}
		} else {
			slog.Warn("wal stream not started", logging.Err(err))
		}
	}
	return s
}

// connectKube starts the informers (they live as long as ctx) and waits for
// them to sync within wait. Sources that fail keep their error for the tab to
// show; only a cluster that cannot be reached at all is an error.
func (s *Sources) connectKube(ctx, wait context.Context, cfg *config.Config) (healthtab.KubeSource, common.KubeInfoMsg, error) {
	cache, client, err := s.kubeCache(ctx, cfg)
	if err != nil {
		return nil, common.KubeInfoMsg{}, err
	}
	info := common.KubeInfoMsg{Context: client.ContextName(), Server: client.Host(), Namespaces: client.Namespaces()}
	if err := cache.WaitSynced(wait); err != nil {
		slog.Warn("kubernetes sources not all synced", "err", err)
		if allUnreachable(cache) {
			return nil, info, err
		}
	}
	// The first list of a large cluster leaves its decoding garbage behind;
	// hand it back to the system now rather than keep it resident.
	go debug.FreeOSMemory()
	return cache, info, nil
}

// allUnreachable reports whether every source failed to reach the server,
// the case where the tab should say "cannot reach" rather than show empty
// tables.
func allUnreachable(c *kube.Cache) bool {
	states := c.Sources()
	for _, st := range states {
		if st.Synced {
			return false
		}
		if kind, _ := kube.Classify(st.Err); st.Err != nil && kind != kube.KindUnreachable {
			return false
		}
	}
	return len(states) > 0
}

// Close stops the samplers and the informers and waits for them.
func (s *Sources) Close() {
	s.stopMetrics()
	s.stopWAL()
	s.maintainOnce.Do(func() {}) // waits for an engine being built
	if s.maintainEng != nil {
		s.maintainEng.Close()
	}
	s.backupOnce.Do(func() {}) // waits for an engine being built
	s.mu.Lock()
	c := s.cache
	s.cache = nil
	s.mu.Unlock()
	if c != nil {
		c.Stop()
	}
	if s.stopBackground != nil {
		s.stopBackground()
	}
	s.background.Wait()
	_ = s.audit.Close()
}

// NewModel builds the cockpit's root model on src for the user whose
// identity src's context carries (the local user: the command attached it).
func NewModel(cfg *config.Config, src *Sources) *tui.Model {
	return NewSessionModel(src.ctx, cfg, src)
}

// tabs builds the tabs of one session; c carries the session's identity and
// src its sources.
func tabs(c *common.Common, src *Sources) *tui.Model {
	return tui.New(c,
		healthtab.New(c, src.Health),
		metrics.New(c, src.Metrics),
		backups.New(c, src.Backups),
		restore.New(c, restore.Sources{Engine: restore.FromBackup(src.Backups.Engine)}),
		maintenance.New(c, src.Maintenance),
		runbookstab.New(c, src.Runbooks),
		audittab.New(c, audittab.Sources{Path: AuditPath(c.Config)}),
		incidenttab.New(c, src.Incident),
	)
}

// gcPercent keeps the heap closer to what is live: the informer cache of a
// large cluster is most of the heap, and an operator's bastion session should
// not hold twice that.
const gcPercent = 50

// Run opens the cockpit on the terminal and returns when the user quits.
func Run(ctx context.Context, cfg *config.Config, commands cli.Commands, opts ...tea.ProgramOption) error {
	debug.SetGCPercent(gcPercent)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := NewSources(ctx, cfg, commands)
	defer src.Close()
	p := tea.NewProgram(NewModel(cfg, src), append([]tea.ProgramOption{tea.WithContext(ctx)}, opts...)...)
	_, err := p.Run()
	waitForTasks(src.Tasks, cancel)
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("cockpit: %w", err)
	}
	return nil
}

// waitForTasks stops the backups and restores still running when the
// cockpit closes and waits for them to end: a restore interrupted this way
// undoes what it changed, which must not be cut short by the process
// exiting. A second Ctrl-C leaves at once (the restore's journal then lets
// `opsdeck restore recover` finish the undo).
func waitForTasks(reg *tasks.Registry, stop context.CancelFunc) {
	running := reg.Running()
	if len(running) == 0 {
		return
	}
	var names []string
	for _, t := range running {
		names = append(names, t.Name)
	}
	fmt.Fprintf(os.Stderr, "opsdeck: stopping %s — waiting while it undoes what it changed (Ctrl-C again leaves it half-done)\n", strings.Join(names, ", "))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	ctx, done := context.WithCancel(context.Background())
	defer done()
	changed := reg.Subscribe(ctx)
	stop()
	for len(reg.Running()) > 0 {
		select {
		case <-changed:
		case <-sig:
			fmt.Fprintln(os.Stderr, "opsdeck: left without waiting; run opsdeck restore recover if a restore was running")
			return
		case <-time.After(time.Second):
		}
	}
	fmt.Fprintln(os.Stderr, "opsdeck: stopped")
}
