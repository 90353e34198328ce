package restore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pitr"
)

// Kinds of restore.
const (
	Database = backup.Database
	Redis    = backup.Redis
	Config   = backup.Config
	Full     = "full"
	// Table copies tables as they were at a moment of the WAL archive
	// beside production; Merge inserts a copy's missing rows back.
	Table = "table"
	Merge = "merge"
)

// Kinds lists what can be restored from a backup set, in the CLI's
// order (the Restore tab's choices).
var Kinds = []string{Database, Redis, Config, Full}

// TableKinds are the restores of tables: from a moment of the WAL
// archive beside the live ones, and a copy merged back (the CLI's).
var TableKinds = []string{Table, Merge}

// Progress event operations.
const (
	OpRestore = "restore"
	OpUndo    = "undo"
)

// PreRestoreTag marks the safety backups a restore takes.
const PreRestoreTag = "pre-restore"

// Options choose what a restore restores.
type Options struct {
	// Kind is database, redis, config or full.
	Kind string
	// ID is the backup set; "" or "latest" is the newest set holding the
	// kind's components (safety backups excluded).
	ID string
	// TargetDB is the database to replace (default: postgres.dsn's).
	TargetDB string
	// NoSafetyBackup skips the safety backup of the current data.
	NoSafetyBackup bool
	// UpdateExisting makes a config restore update the live objects that
	// differ from the backup; by default they are skipped and only missing
	// objects are created.
	UpdateExisting bool
	// PointInTime restores the database as it was at a moment of the WAL
	// archive: a base backup (ID, when set, names its set) recovered to
	// the target in a private instance, then copied. Kind must be
	// database.
	PointInTime *pitr.Target `json:"point_in_time,omitempty"`
	// Tables are a table restore's tables (schema.table or table), or a
	// merge's tables; Into names a table restore's copy (default
	// <table>_at_<time>), From a merge's copies, one per table in the
	// order of Tables.
	Tables []string `json:"tables,omitempty"`
	Into   string   `json:"into,omitempty"`
	From   []string `json:"from,omitempty"`
	// WithDependents makes a table restore also copy the tables that
	// reference Tables by foreign key, transitively (each to a copy of
	// its own), so that a merge can bring parents and children back
	// together.
	WithDependents bool `json:"with_dependents,omitempty"`
	// Overwrite makes a merge also overwrite the live rows whose key the
	// copy has with other values (the copy's values win). The plan then
	// asks for a second confirmation (Plan.ConfirmOverwrite).
	Overwrite bool `json:"overwrite,omitempty"`
	// Drill makes the run a restore drill into an isolated target
	// ("instance" or "server", config.DrillInstance/DrillServer): the set
	// restored, proven and removed, production never touched.
	Drill string `json:"drill,omitempty"`
}

// Check is one preflight result.
type Check struct {
	Component string        `json:"component"`
	Name      string        `json:"name"`
	Status    health.Status `json:"status"`
	Detail    string        `json:"detail"`
}

// Step is one named step of a plan. Its functions run in order:
// Pre (is it safe to start?), Do, Verify (did it do what it says?); Undo
// reverts it and must cope with a Do that stopped half-way.
type Step struct {
	// Name is stable and unique in the plan ("database.swap").
	Name      string `json:"name"`
	Component string `json:"component"`
	// Title says what the step does, Undo what its undo does ("" when it
	// has nothing to undo).
	Title string `json:"title"`
	Undo  string `json:"undo,omitempty"`

	pre    func(ctx context.Context) error
	do     func(ctx context.Context) error
	verify func(ctx context.Context) error
	undo   func(ctx context.Context) error
	// undoTimeout bounds the undo (default UndoTimeout).
	undoTimeout time.Duration
}

// Plan is a restore ready to run: the set, the target and the steps.
type Plan struct {
	Options Options `json:"options"`
	// Set is the backup set restored from.
	Set *backup.Manifest `json:"-"`
	// SetID is Set.ID.
	SetID string `json:"set"`
	// Components restored, in plan order.
	Components []string `json:"components"`
	// Target names what is replaced, for the operator.
	Target Target `json:"target"`
	// Confirm is what the operator types to confirm.
	Confirm string `json:"confirm"`
	// ConfirmOverwrite is what the operator types a second time before a
	// merge overwrites changed rows ("overwrite 12 rows"); "" when the
	// plan overwrites nothing. AcknowledgeOverwrite records it; Run
	// refuses the plan without it.
	ConfirmOverwrite string `json:"confirm_overwrite,omitempty"`
	// PointInTime is a point-in-time restore's recovery: the base backup
	// chosen, the WAL after it, the target (nil otherwise).
	PointInTime *pitr.Plan `json:"point_in_time,omitempty"`
	// Copies are a table restore's copies (schema.name), and Copied the
	// tables they copy, in the same order: Options.Tables, then the
	// dependents found with Options.WithDependents.
	Copies []string `json:"copies,omitempty"`
	Copied []string `json:"copied,omitempty"`
	// Merges are a merge's tables in the order it merges them (parents
	// before children): what it inserts and overwrites, with a preview
	// of the changed rows.
	Merges []MergeStats `json:"merges,omitempty"`
	// Steps, in order.
	Steps []*Step `json:"steps"`
	// Checks are the preflight results.
	Checks []Check `json:"checks"`
	// Objects is the config diff: what the restore does to each object.
	Objects []ObjectChange `json:"objects,omitempty"`
	// Prepared is when the preflight ran.
	Prepared time.Time `json:"prepared"`

	env *env
	// overwriteTyped is the second confirmation as typed.
	overwriteTyped string
}

// AcknowledgeOverwrite records the second confirmation of a merge that
// overwrites changed rows: typed must be ConfirmOverwrite.
func (p *Plan) AcknowledgeOverwrite(typed string) error {
	if p.ConfirmOverwrite == "" {
		return nil
	}
	if strings.TrimSpace(typed) != p.ConfirmOverwrite {
		return fmt.Errorf("the overwrite was not confirmed: type %q (the number of changed rows the plan shows) — nothing was changed", p.ConfirmOverwrite)
	}
	p.overwriteTyped = p.ConfirmOverwrite
	return nil
}

// overwriteAcknowledged is whether a plan that overwrites rows had its
// second confirmation.
func (p *Plan) overwriteAcknowledged() error {
	if p.ConfirmOverwrite == "" || p.overwriteTyped == p.ConfirmOverwrite {
		return nil
	}
	return fmt.Errorf("restore refused, nothing was changed: overwriting changed rows needs its own confirmation, %q (--confirm-overwrite)", p.ConfirmOverwrite)
}

// Target is what a plan replaces.
type Target struct {
	Database   string   `json:"database,omitempty"`
	Postgres   string   `json:"postgres,omitempty"` // host:port
	Redis      string   `json:"redis,omitempty"`    // host:port
	Namespaces []string `json:"namespaces,omitempty"`
}

// Blocked returns why the plan must not run: a critical preflight check.
func (p *Plan) Blocked() error {
	for _, c := range p.Checks {
		if c.Status == health.Crit {
			return fmt.Errorf("preflight: %s %s: %s", c.Component, c.Name, c.Detail)
		}
	}
	return nil
}

// Step returns the named step.
func (p *Plan) Step(name string) (*Step, bool) {
	for _, s := range p.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// StepState is where a step is in a run.
type StepState string

// Step states.
const (
	Pending    StepState = "pending"
	Running    StepState = "running"
	Done       StepState = "done"
	Failed     StepState = "failed"
	Undone     StepState = "undone"
	UndoFailed StepState = "undo-failed"
	Skipped    StepState = "skipped"
)

// StepResult is how one step went.
type StepResult struct {
	Name  string        `json:"name"`
	Title string        `json:"title"`
	State StepState     `json:"state"`
	Took  time.Duration `json:"took_ns"`
	Err   string        `json:"error,omitempty"`
	// Notes are what the step found and checked (verification results).
	Notes   []string `json:"notes,omitempty"`
	UndoErr string   `json:"undo_error,omitempty"`
}

// Object actions of a config restore.
const (
	ObjectCreate    = "create"    // missing live: created
	ObjectUpdate    = "update"    // differs and UpdateExisting: updated
	ObjectSkip      = "skip"      // differs, left as it is
	ObjectUnchanged = "unchanged" // live already matches the backup
	ObjectError     = "error"     // the dry run was refused
)

// ObjectChange is what a config restore does to one object, from a
// server-side dry-run apply against what is live.
type ObjectChange struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Action    string `json:"action"`
	// Fields are the paths that differ ("spec.replicas", "data.LOG_LEVEL").
	Fields []string `json:"fields,omitempty"`
	Err    string   `json:"error,omitempty"`
}

// ConfigError is a restore the configuration does not allow (a target
// not configured, a DSN that does not parse): fix the configuration.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// FieldManager is the field manager of everything a restore writes to
// the Kubernetes API.
const FieldManager = "opsdeck"

// Ref names the object as kubectl does: "Kind namespace/name".
func (o ObjectChange) Ref() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Detail is the differing fields, or the refusal.
func (o ObjectChange) Detail() string {
	if o.Err != "" {
		return o.Err
	}
	return strings.Join(o.Fields, ", ")
}
