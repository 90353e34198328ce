package backups

import (
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
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
	}
	// actionResult is what an action ends with (job.DoneMsg's result).
	actionResult struct {
		action string
		line   string
		err    error
	}
	refreshTickMsg struct{}
	// planMsg is the dry-run prune plan to confirm.
	planMsg struct {
		plan backup.PrunePlan
		err  error
	}
)
