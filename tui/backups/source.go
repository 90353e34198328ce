package backups

import (
	"context"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// Sources are the tab's data sources, built outside the TUI so that several
// sessions can share them.
type Sources struct {
	// Engine returns the backup engine (store, config, audit); called in a
	// Cmd. An error (no store, bad S3 settings) shows in the tab.
	Engine func() (*backup.Engine, error)
	// ListTimeout bounds reading the catalog (default 30s).
	ListTimeout time.Duration
	// ActionTimeout bounds a backup, verify or prune (default 6h).
	ActionTimeout time.Duration
	// RefreshEvery re-reads the catalog (default 1m), so ages and sets
	// written by cron or another session show up.
	RefreshEvery time.Duration
	// WALState is the state of the WAL streamer when this process runs
	// one (opsdeck serve with postgres.wal.stream), false or nil when it
	// does not: the tab then says so and when the archive was last
	// written. It is called in a Cmd and must not block.
	WALState func() (opwal.State, bool)
	// StateEvery re-reads WALState (default 2s).
	StateEvery time.Duration

	// readWAL reads the archive's overviews; tests replace it.
	readWAL func(ctx context.Context, eng *backup.Engine, bases []backup.WALStart) ([]backup.WALOverview, error)
}

// Messages of the Backups tab; other tabs ignore them.
type (
	engineMsg struct {
		eng *backup.Engine
		err error
	}
	catalogMsg struct {
		sets []backup.Set
		err  error
		at   time.Time
		// proven maps each set a drill proved to its newest successful
		// drill (state_dir/drills.jsonl); nil when none or unreadable.
		proven map[string]oprestore.DrillRecord
	}
	// actionResult is what an action ends with (job.DoneMsg's result).
	actionResult struct {
		action string
		line   string
		err    error
	}
	refreshTickMsg struct{}
	// walMsg is the WAL archive's overview, read after the catalog.
	walMsg struct {
		ovs []backup.WALOverview
		err error
	}
	// walStateMsg is the streamer's state, read every StateEvery.
	walStateMsg struct {
		st      opwal.State
		running bool
	}
	// planMsg is the dry-run prune plan to confirm.
	planMsg struct {
		plan backup.PrunePlan
		err  error
	}
)
