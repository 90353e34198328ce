package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// Engine prepares and runs restores from one backup store. It shares the
// backup engine's store, runner, audit log and clocks, and takes its
// safety backups through it.
type Engine struct {
	Backup *backup.Engine

	// hooks inject failures in tests: hooks[point] runs at that point and
	// its error fails the step.
	hooks map[string]func() error
	// dirHooks are hooks told a directory (a drill's unpacked data
	// directory): tests damage it there.
	dirHooks map[string]func(dir string) error
}

// New returns a restore engine over a backup engine.
func New(b *backup.Engine) *Engine { return &Engine{Backup: b} }

func (e *Engine) cfg() *config.Config { return e.Backup.Config }

func (e *Engine) now() time.Time {
	if e.Backup.Now != nil {
		return e.Backup.Now()
	}
	return time.Now()
}

// dirHook runs the directory hook of point, if any.
func (e *Engine) dirHook(point, dir string) error {
	if f := e.dirHooks[point]; f != nil {
		return f(dir)
	}
	return nil
}

// hook runs the test hook of point, if any.
func (e *Engine) hook(point string) error {
	if f := e.hooks[point]; f != nil {
		return f()
	}
	return nil
}

// Resolve finds the set a restore of kind reads: id, or with "" or
// "latest" the newest set whose components for kind are all good,
// leaving out the safety backups of earlier restores.
func Resolve(ctx context.Context, st backup.Store, kind, id string) (*backup.Manifest, error) {
	comps, err := componentsOf(kind)
	if err != nil {
		return nil, err
	}
	if id != "" && id != "latest" {
		if !backup.ValidID(id) {
			return nil, fmt.Errorf("%q is not a backup set ID (YYYYMMDD_HHMMSS) — list them with opsdeck backups", id)
		}
		s, err := backup.Get(ctx, st, id)
		if err != nil {
			return nil, err
		}
		if s.Manifest == nil {
			return nil, fmt.Errorf("backup set %s cannot be read: %s", id, s.Err)
		}
		for _, c := range comps {
			comp, ok := s.Manifest.Component(c)
			if !ok {
				return nil, fmt.Errorf("backup set %s has no %s component (it has %s) — pick another set", id, c, strings.Join(s.Manifest.ComponentNames(), ", "))
			}
			if comp.Status != backup.StatusOK {
				return nil, fmt.Errorf("the %s component of set %s failed when it was taken (%s) — pick another set", c, id, comp.Error)
			}
		}
		return s.Manifest, nil
	}
	sets, err := backup.List(ctx, st)
	if err != nil {
		return nil, err
	}
	for _, s := range sets {
		if s.Manifest == nil || slices.Contains(s.Manifest.Tags, PreRestoreTag) {
			continue
		}
		if hasAll(s.Manifest, comps) {
			return s.Manifest, nil
		}
	}
	return nil, fmt.Errorf("no backup set in %s holds %s — take one with opsdeck backup %s", st, strings.Join(comps, ", "), kind)
}

// Candidates lists the sets a restore of kind can read, newest first; for
// a PITR drill, the sets holding a base backup.
func Candidates(sets []backup.Set, kind string) []backup.Set {
	comps, err := componentsOf(kind)
	if err != nil {
		return nil
	}
	if kind == PITR {
		comps = []string{backup.Base}
	}
	var out []backup.Set
	for _, s := range sets {
		if s.Manifest != nil && hasAll(s.Manifest, comps) {
			out = append(out, s)
		}
	}
	return out
}

func hasAll(m *backup.Manifest, comps []string) bool {
	for _, c := range comps {
		comp, ok := m.Component(c)
		if !ok || comp.Status != backup.StatusOK {
			return false
		}
	}
	return true
}

// componentsOf lists the components a restore of kind restores, in the
// order a full restore runs them.
func componentsOf(kind string) ([]string, error) {
	switch kind {
	case Database, Redis, Config:
		return []string{kind}, nil
	case Full:
		return []string{Config, Database, Redis}, nil
	case Table, Merge:
		return []string{Database}, nil
	case PITR:
		return []string{PITR}, nil
	}
	return nil, fmt.Errorf("unknown restore kind %q: choose database, redis, config or full", kind)
}

// Prepare builds the plan of a restore and runs its preflight checks. It
// changes nothing: `--dry-run` stops here, and so does the Restore tab
// until the operator confirms.
func (e *Engine) Prepare(ctx context.Context, opts Options, p progress.Func) (plan *Plan, err error) {
	end := logging.Span(ctx, "restore.prepare", logging.KeyKind, opts.Kind, logging.KeySet, opts.ID)
	defer func() {
		if plan != nil {
			end(err, logging.KeySet, plan.SetID, logging.KeyCount, len(plan.Steps), logging.KeyStatus, planStatus(plan))
		} else {
			end(err)
		}
	}()
	comps, err := componentsOf(opts.Kind)
	if err != nil {
		return nil, err
	}
	var pp *pitr.Plan
	var m *backup.Manifest
	switch {
	case opts.Kind == Merge:
		// From a copy in the live database: no set.
		m = &backup.Manifest{ID: "live"}
	case opts.Drill != "" && opts.Kind == PITR:
		// To the archive's head, from the newest base backup it carries
		// there (or the one named).
		id := opts.ID
		if id == "latest" {
			id = ""
		}
		if pp, err = pitr.Prepare(ctx, e.Backup, pitr.Target{How: "drill: the archive's head"}, id); err != nil {
			return nil, err
		}
		m = pp.Set
	case opts.Drill != "" && opts.PointInTime != nil:
		return nil, &ConfigError{errors.New("a drill recovers to the archive's head: drill pitr takes no target")}
	case opts.PointInTime != nil:
		if opts.Kind != Database && opts.Kind != Table {
			return nil, fmt.Errorf("a point-in-time restore restores the database or tables, not %s", opts.Kind)
		}
		if pp, err = pitr.Prepare(ctx, e.Backup, *opts.PointInTime, opts.ID); err != nil {
			return nil, err
		}
		m = pp.Set
	case opts.Kind == Table:
		return nil, &ConfigError{errors.New("a table restore needs a moment of the WAL archive: --to, --to-lsn or --to-xid")}
	default:
		if m, err = Resolve(ctx, e.Backup.Store, opts.Kind, opts.ID); err != nil {
			return nil, err
		}
	}
	slog.DebugContext(ctx, "restore set resolved", logging.KeyKind, opts.Kind, logging.KeySet, m.ID, logging.KeyComponents, comps)
	plan = &Plan{Options: opts, Set: m, SetID: m.ID, Components: comps, PointInTime: pp}
	ids, idErr := e.Backup.Identities()
	en := &env{eng: e, plan: plan, p: p, ids: ids, pitr: pp}
	if opts.Drill != "" {
		en.drill = &DrillResult{}
	}
	plan.env = en
	if idErr != nil {
		en.check("set", "decryption", health.Crit, idErr.Error()+" — fix backup.encryption.identity_file")
	}
	if err := e.build(ctx, en); err != nil {
		return nil, err
	}
	en.preflight(ctx)
	plan.Prepared = e.now()
	return plan, nil
}

// planStatus is the worst status of a plan's preflight, for the trace.
func planStatus(p *Plan) health.Status {
	st := health.OK
	for _, c := range p.Checks {
		if c.Status.Worse(st) {
			st = c.Status
		}
	}
	return st
}

// build adds the steps of every component, in a safe order: the safety
// backup first, then the Kubernetes objects (the writers may be among
// them), then the data with the writers stopped only around the swaps, and
// the post-checks last.
func (e *Engine) build(ctx context.Context, en *env) error {
	plan := en.plan
	if plan.Options.Drill != "" {
		return e.buildDrill(ctx, en)
	}
	switch plan.Options.Kind {
	case Table:
		return e.buildTable(ctx, en)
	case Merge:
		return e.buildMerge(ctx, en)
	}
	has := func(c string) bool { return slices.Contains(plan.Components, c) }
	var db *dbRestore
	var rd *redisRestore
	var kc *configRestore
	if has(Database) {
		var err error
		if db, err = newDBRestore(ctx, en); err != nil {
			return err
		}
		plan.Target.Database, plan.Target.Postgres = db.target, db.server
		en.db = db
		en.components = append(en.components, db)
		plan.Confirm = db.target
	}
	if has(Redis) {
		var err error
		if rd, err = newRedisRestore(en); err != nil {
			return err
		}
		plan.Target.Redis = rd.server
		en.redis = rd
		en.components = append(en.components, rd)
		if plan.Confirm == "" {
			plan.Confirm = "flushall"
		}
	}
	if has(Config) {
		var err error
		if kc, err = newConfigRestore(en); err != nil {
			return err
		}
		plan.Target.Namespaces = kc.namespaces
		en.components = append(en.components, kc)
		if plan.Confirm == "" && len(kc.namespaces) > 0 {
			plan.Confirm = kc.namespaces[0]
		}
	}
	if plan.Confirm == "" {
		plan.Confirm = "restore"
	}

	add := func(steps ...*Step) { plan.Steps = append(plan.Steps, steps...) }
	add(en.preflightStep())
	// The database's safety backup comes first: the restore into the
	// scratch database may take long, and the old database stays anyway.
	// Redis's is taken once the writers are stopped, right before the
	// flush, so that its undo loses nothing written in between.
	if db != nil && db.exists {
		if s := en.safetyStep("safety-backup", backup.Database, db.targetDSN); s != nil {
			add(s)
		}
	}
	if kc != nil {
		add(kc.steps()...)
	}
	if db != nil {
		add(db.restoreSteps()...)
	}
	// The writers stop only for the swaps: the scratch database is
	// restored and verified while production still serves.
	// A restore into another database than postgres.dsn's leaves them be;
	// a Redis restore stops them too, or their writes would mix with the
	// snapshot's keys (and fail its key counts).
	wr := newWriters(en)
	stop := (db != nil && db.production) || rd != nil
	if stop {
		en.components = append(en.components, wr)
		en.writers = wr
		add(wr.downStep())
	}
	if db != nil {
		add(db.swapStep())
	}
	if rd != nil {
		if s := en.safetyStep("redis.safety", backup.Redis, ""); s != nil {
			add(s)
		}
		add(rd.steps()...)
	}
	if stop {
		add(wr.upStep())
	}
	add(en.postStep(db, rd, kc))
	if logging.Enabled(ctx) {
		var steps []string
		for _, s := range plan.Steps {
			steps = append(steps, s.Name)
		}
		choices := []any{"safety_backup", !plan.Options.NoSafetyBackup, "stop_writers", stop, "update_existing", plan.Options.UpdateExisting}
		if db != nil {
			choices = append(choices, "database", db.target, "scratch", db.scratch, "production", db.production, "database_exists", db.exists)
		}
		slog.DebugContext(ctx, "restore plan", logging.KeySet, plan.SetID, logging.KeyTarget, plan.describeTarget(),
			logging.KeyStep, steps, slog.Group("choices", choices...))
	}
	return nil
}

// env is the state one plan's steps share while it is prepared and run.
type env struct {
	eng  *Engine
	plan *Plan
	p    progress.Func
	ids  []age.Identity
	lock *backup.Lock

	// checksummed is set once the preflight re-hashed the set's files.
	checksummed bool
	// cur is the step running; notes collects what each step found.
	cur   string
	notes map[string][]string
	// safety are the safety backups taken by this run, by component.
	safety map[string]*backup.Manifest
	// components are the restores of the plan, for the preflight.
	components []component
	// db, redis and writers are the plan's parts whose state the journal
	// keeps (nil when not in the plan).
	db      *dbRestore
	redis   *redisRestore
	writers *writers
	// redisDrill is a Redis drill's temporary server (nil otherwise).
	redisDrill *drillRedis
	// journal is the running restore's journal (nil while preparing).
	journal       *Journal
	journalLock   *os.File
	journalWarned bool
	// recovering is set while Recover undoes an interrupted run.
	recovering bool
	// drill is a drill's result as it runs (nil for a restore).
	drill *DrillResult
	// pitr is a point-in-time restore's recovery plan (nil otherwise).
	pitr *pitr.Plan
	// table is a table restore (nil otherwise).
	table *tableRestore
	// mu serializes events, notes and journal writes; bg waits for the
	// staged dump's removal.
	mu sync.Mutex
	bg sync.WaitGroup
}

// component is one component's restore: its preflight checks.
type component interface {
	preflight(ctx context.Context)
}

func (en *env) cfg() *config.Config { return en.eng.cfg() }

// emit shows an event of the running step and, when keep is set, records
// it among the step's notes. A step's parts may run concurrently (the
// scratch database is made while the dump is staged): one at a time here.
func (en *env) emit(e progress.Event, keep string) {
	en.mu.Lock()
	defer en.mu.Unlock()
	if keep != "" {
		if en.notes == nil {
			en.notes = map[string][]string{}
		}
		en.notes[en.cur] = append(en.notes[en.cur], keep)
	}
	e.Op, e.Step = OpRestore, en.cur
	en.p.Emit(e)
}

// note records a finding of the running step and shows it.
func (en *env) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	slog.Debug("restore note", logging.KeyStep, en.cur, logging.KeyReason, msg)
	en.emit(progress.Event{Kind: progress.Info, Message: msg}, msg)
}

// warn shows a warning of the running step and records it.
func (en *env) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	slog.Debug("restore warning", logging.KeyStep, en.cur, logging.KeyWarnings, msg)
	en.emit(progress.Event{Kind: progress.Warn, Message: msg}, "warning: "+msg)
}

// log passes on a line of a tool's output (pg_restore) without keeping it.
func (en *env) log(line string) {
	en.emit(progress.Event{Kind: progress.Info, Message: line}, "")
}

// advance reports progress of the running step.
func (en *env) advance(done, total int64, bytes bool) {
	en.emit(progress.Event{Kind: progress.Advance, Done: done, Total: total, Bytes: bytes}, "")
}

// check records a preflight result.
func (en *env) check(component, name string, st health.Status, detail string) {
	en.plan.Checks = append(en.plan.Checks, Check{Component: component, Name: name, Status: st, Detail: detail})
	slog.Debug("restore check", logging.KeyComponent, component, logging.KeyCheck, name, logging.KeyStatus, st, logging.KeyReason, detail)
}

// runner runs pg_restore: the backup engine's runner, the real one by
// default.
func (e *Engine) runner() runner.Runner {
	if e.Backup.Runner != nil {
		return e.Backup.Runner
	}
	return runner.Exec{}
}
