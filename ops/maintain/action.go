package maintain

import (
	"fmt"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// ActionKind says what an Action changes.
type ActionKind string

// The actions opsdeck can take for a finding.
const (
	// ActVacuum runs VACUUM (ANALYZE) on a table.
	ActVacuum ActionKind = "vacuum"
	// ActCancel cancels a session's running statement.
	ActCancel ActionKind = "cancel"
	// ActTerminate ends a session.
	ActTerminate ActionKind = "terminate"
	// ActDropDatabase drops a <db>_pre_* database left by a restore.
	ActDropDatabase ActionKind = "drop-database"
	// ActDeleteFile deletes log archives past retention.
	ActDeleteFile ActionKind = "delete-file"
	// ActDeleteStagedDumps deletes dumps killed restores left in the
	// restore work directory.
	ActDeleteStagedDumps ActionKind = "delete-staged-dumps"
	// ActPruneBackups applies backup retention and removes the leftovers
	// of interrupted backups (ops/backup's prune).
	ActPruneBackups ActionKind = "prune-backups"
)

// Action is a change opsdeck can make for a finding. Only the fields of its
// Kind are set; they are what Apply re-checks before acting.
type Action struct {
	Kind ActionKind `json:"kind"`
	// Label says in a few words what will happen, for the confirmation.
	Label string `json:"label"`

	// ActVacuum.
	Schema string `json:"schema,omitempty"`
	Table  string `json:"table,omitempty"`
	// ActCancel, ActTerminate: the session and when it started, so that a
	// reused pid is never signalled.
	PID          int       `json:"pid,omitempty"`
	BackendStart time.Time `json:"backend_start,omitzero"`
	// ActDropDatabase.
	Database string `json:"database,omitempty"`
	// ActDeleteFile: the pattern and the files as they were listed;
	// ActDeleteStagedDumps: the dumps as they were listed.
	Pattern string    `json:"pattern,omitempty"`
	Files   []FileRef `json:"files,omitempty"`
	// ActPruneBackups: what the dry run listed.
	Backups   []string `json:"backups,omitempty"`
	Leftovers []string `json:"leftovers,omitempty"`
}

// Target names what the action changes, for the audit log.
func (a Action) Target() string {
	switch a.Kind {
	case ActVacuum:
		return postgres.QualifiedName(a.Schema, a.Table)
	case ActCancel, ActTerminate:
		return fmt.Sprintf("pid %d", a.PID)
	case ActDropDatabase:
		return a.Database
	case ActDeleteFile:
		return a.Pattern
	case ActDeleteStagedDumps:
		return "restore work directory"
	case ActPruneBackups:
		return "backup store"
	}
	return string(a.Kind)
}

// Permission is what the session's role must allow (ops/access): vacuum
// is maintenance, cancel and terminate end other people's work, deleting
// and dropping is cleanup, pruning backups is the backups' own.
func (a Action) Permission() access.Action {
	switch a.Kind {
	case ActVacuum:
		return access.MaintainRun
	case ActCancel, ActTerminate:
		return access.MaintainCancel
	case ActDeleteFile, ActDropDatabase, ActDeleteStagedDumps:
		return access.MaintainClean
	case ActPruneBackups:
		return access.BackupPrune
	}
	return access.Action("maintain." + string(a.Kind))
}

// AuditAction is the action's name in the audit log, e.g. "maintain.vacuum".
func (a Action) AuditAction() string { return "maintain." + string(a.Kind) }

// Destructive reports whether the action deletes or ends something (the
// confirmation says so more loudly than for a VACUUM).
func (a Action) Destructive() bool { return a.Kind != ActVacuum && a.Kind != ActCancel }

// ActionResult is what applying one action did.
type ActionResult struct {
	Action Action `json:"action"`
	// FindingKey is the finding the action belonged to.
	FindingKey string `json:"finding"`
	OK         bool   `json:"ok"`
	// Unresolved is set when the action ran but did not fix its finding
	// (a VACUUM that could not remove the dead tuples an old snapshot
	// still sees).
	Unresolved bool `json:"unresolved,omitempty"`
	// Refused is set when the action was not attempted (read-only mode, a
	// re-check failed).
	Refused bool `json:"refused,omitempty"`
	// Detail says what happened: "120000 dead tuples → 0 in 2.1s".
	Detail string        `json:"detail,omitempty"`
	Error  string        `json:"error,omitempty"`
	Took   time.Duration `json:"took_ns"`
}
