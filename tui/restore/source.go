package restore

import (
	"context"
	"time"

	"charm.land/bubbles/v2/spinner"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// Engine is what the tab needs of the restore engine: the catalog, the
// plan with its read-only preflight, and the run. FromBackup wraps the
// real one; tests give a fake.
type Engine interface {
	// List reads the backup sets, newest first.
	List(ctx context.Context) ([]backup.Set, error)
	// Prepare builds the plan and runs the preflight; it changes nothing.
	Prepare(ctx context.Context, o oprestore.Options, p progress.Func) (*oprestore.Plan, error)
	// Run runs a prepared plan, undoing the steps done when one fails.
	Run(ctx context.Context, plan *oprestore.Plan, p progress.Func) (*oprestore.Report, error)
	// WALOverviews reads the WAL archive's coverage for the store's base
	// backups: the point-in-time timeline.
	WALOverviews(ctx context.Context) ([]backup.WALOverview, error)
	// Find reads the WAL archive for destructive transactions (wal find),
	// reporting its progress to p.
	Find(ctx context.Context, o pitr.FindOptions, p progress.Func) (*pitr.Found, error)
	// Tables lists the tables of the database postgres.dsn names, for a
	// table restore's choice.
	Tables(ctx context.Context) ([]postgres.TableName, error)
}

// FromBackup returns the tab's engine over the backup engine the Backups
// tab uses (get is its Sources.Engine): the restore engine shares its
// store, lock, audit log and clock. Nil when get is nil.
func FromBackup(get func() (*backup.Engine, error)) func() (Engine, error) {
	if get == nil {
		return nil
	}
	return func() (Engine, error) {
		b, err := get()
		if err != nil {
			return nil, err
		}
		return engine{oprestore.New(b)}, nil
	}
}

// engine is the real Engine: ops/restore over a backup engine.
type engine struct{ *oprestore.Engine }

// List implements Engine.
func (e engine) List(ctx context.Context) ([]backup.Set, error) {
	return backup.List(ctx, e.Backup.Store)
}

// WALOverviews implements Engine.
func (e engine) WALOverviews(ctx context.Context) ([]backup.WALOverview, error) {
	sets, err := backup.List(ctx, e.Backup.Store)
	if err != nil {
		return nil, err
	}
	return e.Backup.ReadWALOverviews(ctx, backup.WALStarts(sets))
}

// Find implements Engine.
func (e engine) Find(ctx context.Context, o pitr.FindOptions, p progress.Func) (*pitr.Found, error) {
	return pitr.Find(ctx, e.Backup, o, p)
}

// Tables implements Engine.
func (e engine) Tables(ctx context.Context) ([]postgres.TableName, error) {
	cfg := e.Backup.Config
	pool, err := postgres.Connect(ctx, cfg.Postgres.DSN, cfg.Timeouts.Connect)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	return postgres.ListTables(ctx, pool)
}

// Sources are the tab's data sources, built outside the TUI so that the
// sessions of a server share one backup engine.
type Sources struct {
	// Engine returns the restore engine; called in a Cmd. An error (no
	// backup store) shows in the tab.
	Engine func() (Engine, error)
	// ListTimeout bounds reading the catalog (default 30s).
	ListTimeout time.Duration
	// PrepareTimeout bounds the preflight, which re-reads the set's files
	// (default 30m).
	PrepareTimeout time.Duration
	// FindTimeout bounds reading the WAL archive for destructive
	// transactions (default 10m); the timeline works without them.
	FindTimeout time.Duration
	// RunTimeout bounds a restore (default 12h); at the end the engine
	// undoes what was done.
	RunTimeout time.Duration
	// Frame is the spinner's frame interval while something runs (default
	// the spinner's own); negative turns the animation off (tests).
	Frame time.Duration
}

// spin is the spinner drawn for a running step or preflight.
var spin = spinner.MiniDot

// Messages of the Restore tab; other tabs ignore them.
type (
	engineMsg struct {
		eng Engine
		err error
	}
	setsMsg struct {
		sets []backup.Set
		err  error
		at   time.Time
	}
	// walMsg is the WAL archive's coverage, for the timeline.
	walMsg struct {
		ovs []backup.WALOverview
		err error
	}
	// tablesMsg is the database's tables, for a table restore.
	tablesMsg struct {
		tables []postgres.TableName
		err    error
	}
	// frameMsg moves the spinners.
	frameMsg struct{}
)

// What the tab's jobs end with (job.DoneMsg's result): the preflight's
// plan, the run's report.
type (
	planResult struct {
		plan *oprestore.Plan
		err  error
	}
	findResult struct {
		found *pitr.Found
		err   error
	}
	runResult struct {
		rep *oprestore.Report
		err error
	}
)
