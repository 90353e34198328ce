package restore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/runner"
)

// A drill is a restore whose target is isolated: the same plan of steps,
// journal, report and audit record, but the set goes into a temporary
// instance on this machine (or a scratch database on the production
// server with drill.target: server), is proven there — every table's
// fingerprint recomputed from the restored copy (ops/fingerprint), or for
// a set taken before opsdeck recorded them the row counts — and is then
// removed, whatever happened. Production is never touched. It holds the
// store lock as a reader (a backup runs beside it, a prune does not), and
// its own journal, drill-journal.json: a drill killed outright leaves it,
// and the next drill removes what it names before it starts.

// DrillJournalName is the drill's journal in the state directory.
const DrillJournalName = "drill-journal.json"

// DrillKinds are what a drill proves, in the CLI's order.
var DrillKinds = []string{Database, Redis, Config, PITR, Full}

// Drill outcomes.
const (
	Proven  = "proven"
	Failing = "failed"
	Refused = "refused"
)

// Proofs a drill gives.
const (
	ProofFingerprints = "fingerprints"
	ProofCounts       = "counts"
)

// RefusedError is a run refused before anything was tried (exit 2): the
// store lock, a missing extension package or server binaries, another
// drill running.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// DrillResult is what a drill proved and how long it took.
type DrillResult struct {
	Outcome string `json:"outcome"`
	// Target names where the set was restored ("temporary instance
	// 127.0.0.1:54321", "database app_drill_… on db:5432").
	Target string `json:"target"`
	// Proof is fingerprints or counts; Tables and Rows what it covered;
	// Differ names the tables that do not match.
	Proof  string   `json:"proof,omitempty"`
	Tables int      `json:"tables"`
	Rows   int64    `json:"rows"`
	Differ []string `json:"differ,omitempty"`
	// Head and Reached are a PITR drill's: where the archive's last record
	// starts and where the instance's replay ended (past it); Databases
	// how many databases pg_amcheck checked (Tables counts relations).
	Head      string `json:"head_lsn,omitempty"`
	Reached   string `json:"reached_lsn,omitempty"`
	Databases int    `json:"databases,omitempty"`
	// Missing are the namespaces a config drill found missing live.
	Missing []string `json:"missing_namespaces,omitempty"`
	// Parts are a full drill's proofs by component (each with its own
	// Proof, counts and Differ); the whole's Differ names them all.
	Parts map[string]*DrillResult `json:"parts,omitempty"`
	// RTO is the wall time from the start to the proof (the cleanup
	// after it left out); RPO the set's age when the drill started, the
	// data a restore of it would have lost (for a PITR drill, the age of
	// the archive's last write).
	RTO time.Duration `json:"rto_ns"`
	RPO time.Duration `json:"rpo_ns"`
	// Cleaned says the temporary servers and files were removed.
	Cleaned bool `json:"cleaned"`
}

// drillDB is a database drill: the dump restore's steps pointed at an
// isolated target.
type drillDB struct {
	en *env
	d  *dbRestore
	// server is true for drill.target: server.
	server bool
	major  int
	binDir string
	binErr error
}

// drillInstance is a drill's temporary PostgreSQL: the instance, and its
// directory and pid for the journal.
type drillInstance struct {
	inst *pgtemp.Instance
	dir  string
	pid  int
}

// buildDrill makes the steps of a drill: the preflight, then each
// component's (a full drill: the database, Redis and the config the set
// holds, in that order).
func (e *Engine) buildDrill(ctx context.Context, en *env) error {
	plan := en.plan
	plan.Confirm = "drill"
	if plan.Options.Kind == PITR {
		return e.buildPITRDrill(en)
	}
	plan.Steps = append(plan.Steps, en.preflightStep())
	kinds := []string{plan.Options.Kind}
	if plan.Options.Kind == Full {
		kinds = nil
		for _, k := range []string{Database, Redis, Config} {
			if _, ok := plan.Set.Component(k); ok {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) == 0 {
			return fmt.Errorf("backup set %s holds no database, Redis or config component", plan.SetID)
		}
		plan.Components = kinds
	}
	for _, k := range kinds {
		var err error
		switch k {
		case Database:
			err = e.buildDatabaseDrill(en)
		case Redis:
			err = e.buildRedisDrill(en)
		case Config:
			err = e.buildConfigDrill(en)
		default:
			err = &ConfigError{fmt.Errorf("a drill of %s is not available: drill database, redis, config or full", k)}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// buildDatabaseDrill adds a database drill's steps.
func (e *Engine) buildDatabaseDrill(en *env) error {
	plan := en.plan
	comp, ok := plan.Set.Component(backup.Database)
	if !ok || len(comp.Files) == 0 || comp.Postgres == nil {
		return fmt.Errorf("backup set %s has no database dump", plan.SetID)
	}
	d := &dbRestore{en: en, comp: comp, file: comp.Files[0]}
	dd := &drillDB{en: en, d: d, server: plan.Options.Drill == config.DrillServer}
	db := comp.Postgres.Database
	if db == "" {
		db = postgres.DatabaseOf(en.cfg().Postgres.DSN)
	}
	d.target = db
	d.stagePath = filepath.Join(en.cfg().Restore.WorkDirIn(en.cfg().StateDir), "drill-"+plan.SetID+stagedExt)
	if dd.server {
		d.dsn = en.cfg().Postgres.DSN
		pc, err := pgx.ParseConfig(d.dsn)
		if err != nil {
			return &ConfigError{errors.New("postgres.dsn does not parse — fix it (see opsdeck config validate)")}
		}
		d.server = fmt.Sprintf("%s:%d", pc.Host, pc.Port)
		d.scratch = db + "_drill_" + plan.SetID
		plan.Target.Database, plan.Target.Postgres = d.scratch, d.server
	} else {
		// The set holds no roles: the objects belong to the instance's
		// superuser, without the dumped grants.
		d.scratch = db
		dd.major = backup.ServerMajor(comp.Postgres.ServerVersionNum)
		dd.binDir, dd.binErr = pitr.ServerBinDir(en.cfg().Backup.PgBinDir, dd.major)
		plan.Target.Database, plan.Target.Postgres = db, "a temporary instance"
	}
	if s := comp.Postgres.Session; s != nil {
		d.encoding = s.Encoding
		if !dd.server {
			d.collate, d.ctype = "C", "C"
		}
	}
	d.beforeRestore = dd.checkExtensions
	en.db = d
	en.components = append(en.components, dd)
	add := func(steps ...*Step) { plan.Steps = append(plan.Steps, steps...) }
	restore := &Step{
		Name: "database.restore", Component: backup.Database,
		Title: fmt.Sprintf("Restore the dump into %s (pg_restore --jobs %d)", plan.Target.Database, en.cfg().Restore.Jobs),
		do:    d.restore,
	}
	if dd.server {
		restore.Undo, restore.undo = "Drop the scratch database "+d.scratch, d.dropScratch
	} else {
		// The instance starts while the dump is staged.
		d.prepareTarget = dd.startInstance
		restore.Title = fmt.Sprintf("Start a temporary PostgreSQL %d on 127.0.0.1 in restore.work_dir while the dump is staged, then restore the dump into it (pg_restore --jobs %d)", dd.major, en.cfg().Restore.Jobs)
		restore.Undo = "Stop the temporary instance and remove its directory"
		restore.undo = func(context.Context) error { return d.tmp.remove(en) }
	}
	add(restore, &Step{
		Name: "database.prove", Component: backup.Database,
		Title: "Recompute every table's fingerprint from the restored copy and compare it with the set's",
		do:    dd.prove,
	})
	return nil
}

// preflight checks what the drill needs: the server binaries and a work
// directory their user reaches, or the production server's privileges.
func (dd *drillDB) preflight(ctx context.Context) {
	en, d := dd.en, dd.d
	chk := func(name string, st health.Status, format string, args ...any) {
		en.check(backup.Database, name, st, fmt.Sprintf(format, args...))
	}
	if d.comp.Postgres.Session == nil {
		chk("proof", health.Warn, "set %s was taken before opsdeck recorded fingerprints: it is proven by its row counts", en.plan.SetID)
	} else {
		chk("proof", health.OK, "every table's fingerprint (%d tables)", len(d.comp.Postgres.Tables))
	}
	if dd.server {
		if len(d.scratch) > maxIdentifier {
			chk("name", health.Crit, "%q is longer than PostgreSQL's %d characters", d.scratch, maxIdentifier)
			return
		}
		pool, err := d.connect(ctx, "")
		if err != nil {
			chk("reachable", health.Crit, "%s", d.redact(err.Error()))
			return
		}
		defer pool.Close()
		role, err := postgres.CurrentRolePrivileges(ctx, pool)
		switch {
		case err != nil:
			chk("privileges", health.Crit, "read the role: %s", d.redact(err.Error()))
		case !role.Superuser && !role.CreateDB:
			chk("privileges", health.Crit, "the role may not create databases (CREATEDB): a drill on the server needs it, or use drill.target: instance")
		default:
			d.superuser = role.Superuser
			chk("target", health.OK, "scratch database %s on %s, dropped after", d.scratch, d.server)
		}
		return
	}
	if dd.binErr != nil {
		chk("server binaries", health.Crit, "%v", dd.binErr)
		return
	}
	chk("server binaries", health.OK, "PostgreSQL %d's server in %s", dd.major, dd.binDir)
	checkWorkDir(en, chk)
}

// startInstance starts the temporary instance (while the dump is staged:
// dbRestore.prepareTarget); the restore step's undo, which every drill
// runs at the end, stops it and removes its directory.
func (dd *drillDB) startInstance(ctx context.Context) error {
	d := dd.d
	if dd.binErr != nil {
		return &RefusedError{dd.binErr}
	}
	d.tmp = &drillInstance{}
	cfg := dd.en.cfg()
	inst, err := pgtemp.Start(ctx, pgtemp.Options{
		BinDir: dd.binDir, BaseDir: cfg.Restore.WorkDirIn(cfg.StateDir),
		// A throwaway cluster: nothing needs to survive a crash.
		Settings: map[string]string{
			"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
			"wal_level": "minimal", "max_wal_senders": "0", "max_wal_size": "4GB",
			"maintenance_work_mem": "256MB", "autovacuum": "off",
		},
		Hooks: pgtemp.Hooks{
			Dir:     func(dir string) error { d.tmp.dir = dir; dd.en.persist(); return nil },
			Started: func(pid int) { d.tmp.pid = pid; dd.en.persist() },
		},
	})
	if err != nil {
		return fmt.Errorf("start the temporary instance: %w", err)
	}
	d.tmp.inst = inst
	d.dsn = inst.DSN("postgres")
	d.server = fmt.Sprintf("127.0.0.1:%d", inst.Port)
	dd.en.plan.Target.Postgres = d.server
	dd.en.note("temporary instance on %s (pid %d, %s)", d.server, inst.PID(), inst.Dir)
	return dd.en.eng.hook("instance")
}

// remove stops the instance and removes its directory; after a kill it
// works from the journal's directory and pid.
func (t *drillInstance) remove(en *env) error {
	if t == nil {
		return nil
	}
	if t.inst != nil {
		err := t.inst.Remove()
		t.inst = nil
		if err != nil {
			return fmt.Errorf("remove the temporary instance: %w", err)
		}
		en.note("stopped the temporary instance and removed %s", t.dir)
		t.dir, t.pid = "", 0
		en.persist()
		return nil
	}
	killLeftover(t.pid, t.dir)
	if t.dir != "" {
		if err := os.RemoveAll(t.dir); err != nil {
			return fmt.Errorf("remove the temporary instance's directory %s: %w", t.dir, err)
		}
		en.note("removed the temporary instance's directory %s", t.dir)
	}
	t.dir, t.pid = "", 0
	en.persist()
	return nil
}

// killLeftover kills a server a killed run left (it dies with its parent;
// this is for one that did not) — only when pid is still a server in dir.
func killLeftover(pid int, dir string) {
	if pid <= 0 || dir == "" {
		return
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && strings.HasPrefix(cwd, dir+string(os.PathSeparator)) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for range 50 {
			if syscall.Kill(pid, 0) != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// extensionRE finds the extensions in pg_restore --list's output.
var extensionRE = regexp.MustCompile(`(?m)^\d+; \d+ \d+ EXTENSION - (\S+)`)

// checkExtensions refuses a dump whose extensions the target cannot
// create: a missing package is the machine's shortcoming, not the set's.
func (dd *drillDB) checkExtensions(ctx context.Context) error {
	d := dd.d
	bin := backup.PgBin(dd.en.cfg().Backup.PgBinDir, "pg_restore")
	out, err := runner.Output(ctx, dd.en.eng.runner(), runner.Cmd{Path: bin, Args: []string{"--list", d.dumpPath}})
	if err != nil {
		return fmt.Errorf("pg_restore --list: %w", err)
	}
	var want []string
	for _, m := range extensionRE.FindAllStringSubmatch(out, -1) {
		want = append(want, m[1])
	}
	if len(want) == 0 {
		return nil
	}
	pool, err := d.connect(ctx, "")
	if err != nil {
		return err
	}
	defer pool.Close()
	have, err := postgres.AvailableExtensions(ctx, pool)
	if err != nil {
		return fmt.Errorf("read the available extensions: %s", d.redact(err.Error()))
	}
	var missing []string
	for _, x := range want {
		if !have[x] {
			missing = append(missing, x)
		}
	}
	if len(missing) > 0 {
		return &RefusedError{fmt.Errorf("the dump needs the extension(s) %s, which %s cannot create: install their packages on this machine (e.g. postgresql-%d-<extension>) — the set was not judged", strings.Join(missing, ", "), d.server, dd.major)}
	}
	dd.en.note("extensions %s available", strings.Join(want, ", "))
	return nil
}

// cleanLeftovers removes what a drill killed outright left, from its
// journal: its temporary instance, its scratch database on the server,
// its staged dump. The caller holds the drill journal's lock.
func (en *env) cleanLeftovers(ctx context.Context) error {
	cfg := en.cfg()
	j, err := readJournal(cfg, drillFiles)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	en.note("a drill of %s from %s by %s (pid %d), started %s, did not finish: removing what it left", j.Options.Kind, j.Set, j.Who, j.PID, j.Started.Local().Format("2006-01-02 15:04"))
	if db := j.Database; db != nil {
		if db.Instance != "" {
			if err := (&drillInstance{dir: db.Instance, pid: db.InstancePID}).remove(en); err != nil {
				return err
			}
		}
		if j.Options.Drill == config.DrillServer && db.Scratch != "" && strings.Contains(db.Scratch, "_drill_") {
			d := &dbRestore{en: en, dsn: cfg.Postgres.DSN, target: db.Target, scratch: db.Scratch}
			if err := d.dropScratch(ctx); err != nil {
				return fmt.Errorf("drop the scratch database %s the killed drill left: %w", db.Scratch, err)
			}
		}
	}
	if r := j.RedisDrill; r != nil && r.Instance != "" && strings.Contains(filepath.Base(r.Instance), "opsdeck-redis-") {
		if err := (&drillRedis{en: en, dir: r.Instance, pid: r.PID}).remove(); err != nil {
			return err
		}
	}
	if path := filepath.Join(cfg.Restore.WorkDirIn(cfg.StateDir), "drill-"+j.Set+stagedExt); j.Set != "" {
		if err := os.Remove(path); err == nil {
			en.note("removed the staged dump %s", path)
		}
	}
	return os.Remove(drillFiles.path(cfg))
}

// cleanup runs the undos of the steps a drill reached, newest first, on a
// context that is not cancelled: a drill removes its temporary servers
// and files whether it proved the set, failed or was interrupted. The
// steps keep their states.
func (e *Engine) cleanup(ctx context.Context, plan *Plan, rep *Report, last int) bool {
	return e.revert(ctx, plan, rep, last, "cleanup")
}

// drillOutcome classifies a drill's error.
func drillOutcome(err error) string {
	var r *RefusedError
	switch {
	case err == nil:
		return Proven
	case errors.As(err, &r):
		return Refused
	}
	return Failing
}

// drillPart is where a component's proof goes: the drill's result, or
// for a full drill the component's part of it.
func (en *env) drillPart(component string) *DrillResult {
	if en.plan.Options.Kind != Full {
		return en.drill
	}
	if en.drill.Parts == nil {
		en.drill.Parts = map[string]*DrillResult{}
	}
	p := en.drill.Parts[component]
	if p == nil {
		p = &DrillResult{}
		en.drill.Parts[component] = p
	}
	return p
}

// sumParts fills a full drill's result from its parts: the proofs
// joined, the counts summed, the differences and missing namespaces
// named by component.
func (d *DrillResult) sumParts() {
	if len(d.Parts) == 0 {
		return
	}
	var proofs []string
	d.Tables, d.Rows, d.Differ, d.Missing = 0, 0, nil, nil
	for _, c := range slices.Sorted(maps.Keys(d.Parts)) {
		p := d.Parts[c]
		if p.Proof != "" {
			proofs = append(proofs, c+": "+p.Proof)
		}
		d.Tables += p.Tables
		d.Rows += p.Rows
		for _, x := range p.Differ {
			d.Differ = append(d.Differ, c+" "+x)
		}
		d.Missing = append(d.Missing, p.Missing...)
	}
	d.Proof = strings.Join(proofs, "; ")
}

// sortedDiffer keeps the differing names in a stable order.
func sortedDiffer(names []string) []string {
	slices.Sort(names)
	return names
}

// endDrill ends a drill's run: the recovery time is taken at the proof
// (or the failure), then everything the drill made is removed.
func (e *Engine) endDrill(ctx context.Context, plan *Plan, rep *Report, last int, failed error) error {
	en := plan.env
	en.drill.RTO = e.now().Sub(rep.Start)
	for i := last + 1; i < len(plan.Steps); i++ {
		rep.Steps[i].State = Skipped
	}
	en.drill.Cleaned = e.cleanup(ctx, plan, rep, last)
	if en.drill.Cleaned {
		en.endJournal()
	}
	switch {
	case failed != nil && !en.drill.Cleaned:
		return fmt.Errorf("%w — and the cleanup did not finish: the next drill removes what is left", failed)
	case failed != nil:
		return failed
	case !en.drill.Cleaned:
		return errors.New("the set was proven, but the cleanup did not finish: the next drill removes what is left")
	}
	return nil
}
