package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/safefile"
)

// JournalName is the file in the state directory where a running restore
// keeps what it changed, so that a restore killed half-way (SIGKILL, a
// lost machine) can still be undone by `opsdeck restore recover`.
const JournalName = "restore-journal.json"

// Journal is what a run has changed so far.
type Journal struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Who     string    `json:"who"`
	Started time.Time `json:"started"`
	Options Options   `json:"options"`
	Set     string    `json:"set"`
	// Done are the steps finished; Current the one running.
	Done    []string `json:"done"`
	Current string   `json:"current,omitempty"`
	Safety  []string `json:"safety_backups,omitempty"`

	Database *dbJournal `json:"database,omitempty"`
	// RedisDrill is a Redis drill's temporary server.
	RedisDrill *redisDrillJournal `json:"redis_drill,omitempty"`
	// Tables are a table restore's copies.
	Tables  []sideTable     `json:"tables,omitempty"`
	Writers []writerJournal `json:"writers,omitempty"`
}

type dbJournal struct {
	Target  string `json:"target"`
	Scratch string `json:"scratch"`
	Pre     string `json:"pre,omitempty"`
	OldOID  uint32 `json:"old_oid,omitempty"`
	NewOID  uint32 `json:"new_oid,omitempty"`
	// Instance and InstancePID are a point-in-time restore's private
	// instance: its directory and server process.
	Instance    string `json:"instance,omitempty"`
	InstancePID int    `json:"instance_pid,omitempty"`
}

type redisDrillJournal struct {
	Instance string `json:"instance"`
	PID      int    `json:"pid,omitempty"`
}

type writerJournal struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Replicas  int32  `json:"replicas"`
}

// Describe says what the interrupted run left changed.
func (j *Journal) Describe() string {
	parts := []string{fmt.Sprintf("a restore of %s from %s by %s, started %s, stopped in %s", j.Options.Kind, j.Set, j.Who, j.Started.Local().Format("2006-01-02 15:04"), j.stoppedIn())}
	if len(j.Writers) > 0 {
		var ws []string
		for _, w := range j.Writers {
			ws = append(ws, fmt.Sprintf("%s/%s (%d)", w.Namespace, w.Name, w.Replicas))
		}
		parts = append(parts, "writers stopped: "+strings.Join(ws, ", "))
	}
	if d := j.Database; d != nil {
		parts = append(parts, fmt.Sprintf("database %s (scratch %s)", d.Target, d.Scratch))
	}
	return strings.Join(parts, "; ")
}

func (j *Journal) stoppedIn() string {
	if j.Current != "" {
		return j.Current
	}
	if len(j.Done) > 0 {
		return "after " + j.Done[len(j.Done)-1]
	}
	return "preflight"
}

func journalPath(cfg *config.Config) string { return restoreFiles.path(cfg) }

// journalLockPath is held (flock) by the run or recovery that owns the
// journal: the kernel frees it when that process dies, however it dies.
func journalLockPath(cfg *config.Config) string { return restoreFiles.lockPath(cfg) }

// journalFiles name a journal and its lock in the state directory: a
// restore's, or a drill's (which never blocks a restore, nor one the
// other).
type journalFiles struct{ file, lock string }

var (
	restoreFiles = journalFiles{JournalName, "restore-journal.lock"}
	drillFiles   = journalFiles{DrillJournalName, "drill-journal.lock"}
)

func (jf journalFiles) path(cfg *config.Config) string { return filepath.Join(cfg.StateDir, jf.file) }
func (jf journalFiles) lockPath(cfg *config.Config) string {
	return filepath.Join(cfg.StateDir, jf.lock)
}

// jf is the journal of the plan's run.
func (en *env) jf() journalFiles {
	if en.plan != nil && en.plan.Options.Drill != "" {
		return drillFiles
	}
	return restoreFiles
}

// lockJournal takes the restore journal's lock without waiting; nil, nil
// when another run or recovery holds it.
func lockJournal(cfg *config.Config) (*os.File, error) { return lockJournalFiles(cfg, restoreFiles) }

// lockJournalFiles takes jf's lock without waiting; nil, nil when another
// run or recovery holds it.
func lockJournalFiles(cfg *config.Config, jf journalFiles) (*os.File, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(jf.lockPath(cfg), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", jf.lockPath(cfg), err)
	}
	// Another process may hold it for a moment only (maintain cleanup
	// asking whether a restore runs): wait that long before giving up.
	for try := 0; ; try++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", jf.lockPath(cfg), err)
		}
		if try == 4 {
			f.Close()
			return nil, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Interrupted returns the journal a restore left when it stopped without
// finishing, nil when there is none or its run is still going.
func Interrupted(cfg *config.Config) (*Journal, error) { return interruptedIn(cfg, restoreFiles) }

// interruptedIn is Interrupted for jf.
func interruptedIn(cfg *config.Config, jf journalFiles) (*Journal, error) {
	data, err := os.ReadFile(jf.path(cfg))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", jf.path(cfg), err)
	}
	l, err := lockJournalFiles(cfg, jf)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, nil // its run (or a recovery) holds the lock
	}
	l.Close()
	return parseJournal(jf.path(cfg), data)
}

// readJournal reads the journal whoever holds its lock.
func readJournal(cfg *config.Config, jf journalFiles) (*Journal, error) {
	data, err := os.ReadFile(jf.path(cfg))
	if err != nil {
		return nil, err
	}
	return parseJournal(jf.path(cfg), data)
}

func parseJournal(path string, data []byte) (*Journal, error) {
	var j Journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%s does not parse (%v): check by hand what the interrupted run changed, then remove it", path, err)
	}
	return &j, nil
}

// persist writes the journal of the run; a failure is a warning (the run
// goes on; only a later kill would need the journal).
func (en *env) persist() {
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.journal == nil {
		return
	}
	j := en.journal
	j.Safety = en.safetyIDs()
	if en.db != nil {
		d := en.db
		j.Database = &dbJournal{Target: d.target, Scratch: d.scratch, Pre: d.pre, OldOID: d.oldOID, NewOID: d.newOID}
		if d.pit != nil {
			j.Database.Instance, j.Database.InstancePID = d.pit.dir, d.pit.pid
		}
		if d.tmp != nil {
			j.Database.Instance, j.Database.InstancePID = d.tmp.dir, d.tmp.pid
		}
	}
	if r := en.redisDrill; r != nil {
		j.RedisDrill = &redisDrillJournal{Instance: r.dir, PID: r.pid}
	}
	if en.table != nil {
		j.Tables = en.table.tables
	}
	j.Writers = j.Writers[:0]
	if en.writers != nil {
		for _, w := range en.writers.stopped() {
			j.Writers = append(j.Writers, writerJournal{Namespace: w.Namespace, Name: w.Name, Replicas: en.writers.replicas[w]})
		}
	}
	if err := writeJSONAtomic(en.jf().path(en.cfg()), j); err != nil && !en.journalWarned {
		en.journalWarned = true
		en.warn("could not write the restore journal (a kill now could not be recovered automatically): %v", err)
	}
}

// forget records that step was undone: a recovery need not undo it again.
func (en *env) forget(step string) {
	if en.journal == nil {
		return
	}
	en.journal.Done = slices.DeleteFunc(en.journal.Done, func(s string) bool { return s == step })
	if en.journal.Current == step {
		en.journal.Current = ""
	}
	en.persist()
}

// startJournal begins the journal of a run, refusing to run over the
// journal of an interrupted one.
func (en *env) startJournal(ctx context.Context) error {
	jf := en.jf()
	l, err := lockJournalFiles(en.cfg(), jf)
	if err != nil {
		return err
	}
	if l == nil {
		if jf == drillFiles {
			return &RefusedError{errors.New("another drill is running from this state directory")}
		}
		return errors.New("another restore or recovery is running from this state directory")
	}
	// With the lock held, a journal on disk is an interrupted run's: a
	// drill's leftovers are removed, a restore's refuse the run.
	if _, err := os.Stat(jf.path(en.cfg())); err == nil && jf == drillFiles {
		if err := en.cleanLeftovers(ctx); err != nil {
			l.Close()
			return fmt.Errorf("a killed drill's leftovers could not be removed: %w", err)
		}
	} else if err == nil {
		l.Close()
		desc := "a restore that did not finish"
		if j, _ := readJournal(en.cfg(), jf); j != nil {
			desc = j.Describe()
		}
		return fmt.Errorf("%s left changes behind — run `opsdeck restore recover` first", desc)
	}
	en.journalLock = l
	host, _ := os.Hostname()
	en.journal = &Journal{PID: os.Getpid(), Host: host, Who: access.Who(ctx), Started: en.eng.now().UTC(), Options: en.plan.Options, Set: en.plan.SetID}
	en.persist()
	return nil
}

// endJournal removes the journal once nothing is left to undo.
func (en *env) endJournal() {
	if en.journal == nil {
		return
	}
	_ = os.Remove(en.jf().path(en.cfg()))
	en.journal = nil
}

// releaseJournal frees the journal's lock; a journal left behind (an
// undo that did not finish) is then reported as interrupted.
func (en *env) releaseJournal() {
	if en.journalLock != nil {
		en.journalLock.Close()
		en.journalLock = nil
	}
}

func writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return safefile.Write(path, data, 0o600)
}

// checkJournal is the preflight's view of an interrupted restore.
func (en *env) checkJournal() {
	j, err := Interrupted(en.cfg())
	switch {
	case err != nil:
		en.check("set", "interrupted restore", health.Crit, err.Error())
	case j != nil:
		en.check("set", "interrupted restore", health.Crit, j.Describe()+" — run `opsdeck restore recover` to undo it first")
	}
}

// Recover undoes what an interrupted restore left changed, from its
// journal: the same undos a failed run does, in reverse, for the steps it
// had done and the one it was in. Config objects it applied are not in the
// journal: compare them with `opsdeck restore config --dry-run`.
func (e *Engine) Recover(ctx context.Context, p progress.Func) (*Report, error) {
	cfg := e.cfg()
	j, err := Interrupted(cfg)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, errors.New("no interrupted restore to recover (no " + journalPath(cfg) + ", or its restore is still running)")
	}
	if err := e.Backup.Refuse(ctx, access.RestoreRun, "recover "+j.Set); err != nil {
		return nil, err
	}
	entry := e.Backup.AuditLog(ctx).Begin("restore.recover", j.Options.Kind+" from "+j.Set, map[string]any{"stopped_in": j.stoppedIn(), "by": j.Who})
	rep, err := e.recover(ctx, j, p)
	if aerr := entry.End(err); aerr != nil && err == nil {
		err = aerr
	}
	return rep, err
}

func (e *Engine) recover(ctx context.Context, j *Journal, p progress.Func) (*Report, error) {
	ids, _ := e.Backup.Identities()
	plan := &Plan{Options: j.Options, SetID: j.Set}
	en := &env{eng: e, plan: plan, p: p, ids: ids, recovering: true}
	plan.env = en
	var m *backup.Manifest
	var err error
	if j.Options.PointInTime == nil {
		m, err = Resolve(ctx, e.Backup.Store, j.Options.Kind, j.Set)
	}
	fromJournal := func() {
		plan.Set = &backup.Manifest{ID: j.Set}
		plan.Components = []string{Database}
		d := &dbRestore{en: en, dsn: e.cfg().Postgres.DSN, target: j.Database.Target, scratch: j.Database.Scratch}
		if t := j.Options.PointInTime; t != nil {
			d.pit = &pitSource{plan: &pitr.Plan{Target: *t, Set: plan.Set}, dir: j.Database.Instance, pid: j.Database.InstancePID}
		} else {
			d.comp = &backup.Component{Postgres: &backup.PostgresFacts{}}
		}
		plan.Target.Database = d.target
		wr := newWriters(en)
		en.db, en.writers = d, wr
		plan.Steps = append(d.restoreSteps(), wr.downStep(), d.swapStep(), wr.upStep())
	}
	switch {
	case (j.Options.Kind == Table || j.Options.Kind == Merge) && j.Database != nil:
		// Undone from the journal alone: the instance's directory and the
		// copies made, or the merged rows (by their keys' table).
		plan.Set = &backup.Manifest{ID: j.Set}
		plan.Components = []string{Database}
		if j.Options.Kind == Merge {
			if err := e.buildMerge(ctx, en); err != nil {
				return nil, err
			}
			break
		}
		d := &dbRestore{en: en, dsn: e.cfg().Postgres.DSN, target: j.Database.Target,
			pit: &pitSource{plan: &pitr.Plan{Target: *j.Options.PointInTime, Set: plan.Set}, dir: j.Database.Instance, pid: j.Database.InstancePID}}
		tr := &tableRestore{d: d, tables: j.Tables}
		en.db, en.table = d, tr
		plan.Target.Database = d.target
		plan.Steps = append([]*Step{{Name: "preflight"}}, tr.steps()...)
	case j.Options.PointInTime != nil && j.Database != nil:
		// A point-in-time restore is undone from the journal alone: the
		// private instance's directory, the scratch database, the swap.
		fromJournal()
	case m != nil:
		plan.Set = m
		plan.Components, _ = componentsOf(j.Options.Kind)
		if err := e.build(ctx, en); err != nil {
			return nil, err
		}
	case j.Database != nil:
		// The set is gone (pruned since the run died): the database and
		// the writers are put back from the journal alone.
		p.Emit(progress.Event{Kind: progress.Warn, Op: OpUndo, Message: fmt.Sprintf("the set %s cannot be read (%v): putting the database and the writers back from the journal alone", j.Set, err)})
		fromJournal()
	default:
		return nil, fmt.Errorf("the interrupted restore's set: %w", err)
	}
	lock, err := e.Backup.LockStore(ctx, "recover the restore of "+j.Set)
	if err != nil {
		return nil, fmt.Errorf("recover refused: %w", err)
	}
	defer lock.Release()
	en.lock = lock
	jl, err := lockJournal(e.cfg())
	if err != nil || jl == nil {
		return nil, fmt.Errorf("recover refused: another restore or recovery holds %s (%v)", journalLockPath(e.cfg()), err)
	}
	en.journalLock = jl
	defer en.releaseJournal()
	defer en.bg.Wait()
	// Put the run's state back.
	for _, id := range j.Safety {
		if s, err := backup.Get(ctx, e.Backup.Store, id); err == nil && s.Manifest != nil {
			for _, c := range s.Manifest.Components {
				if en.safety == nil {
					en.safety = map[string]*backup.Manifest{}
				}
				en.safety[c.Name] = s.Manifest
			}
		}
	}
	if d := en.db; d != nil && j.Database != nil {
		d.pre, d.oldOID, d.newOID = j.Database.Pre, j.Database.OldOID, j.Database.NewOID
	}
	if w := en.writers; w != nil {
		for _, wj := range j.Writers {
			w.replicas[config.Writer{Namespace: wj.Namespace, Name: wj.Name}] = wj.Replicas
		}
	}
	if en.redis != nil && (j.Current == "redis.restore" || slices.Contains(j.Done, "redis.restore")) {
		en.redis.flushed = true
	}
	en.journal = j
	rep := &Report{Plan: plan, Start: e.now(), Who: access.Who(ctx), OpsdeckVersion: e.Backup.Version, SafetyBackup: strings.Join(j.Safety, ", ")}
	last := -1
	for i, s := range plan.Steps {
		state := Skipped
		if slices.Contains(j.Done, s.Name) {
			state = Done
		}
		if s.Name == j.Current {
			state = Failed
		}
		if state != Skipped {
			last = i
		}
		rep.Steps = append(rep.Steps, StepResult{Name: s.Name, Title: s.Title, State: state})
	}
	// Undo only what the run reached; steps it never reached are skipped.
	for i := range rep.Steps {
		if rep.Steps[i].State == Skipped {
			plan.Steps[i] = &Step{Name: plan.Steps[i].Name, Title: plan.Steps[i].Title}
		}
	}
	rep.Undone = e.undo(ctx, plan, rep, last)
	rep.End = e.now()
	// The dump the run staged is of no use now: a new restore stages its own.
	removeStaged(e.cfg(), j.Set, p)
	if rep.Undone {
		en.endJournal()
		if slices.Contains(append(j.Done, j.Current), "config.apply") {
			p.Emit(progress.Event{Kind: progress.Warn, Op: OpUndo, Message: "the Kubernetes objects the run applied are not undone: check them with opsdeck restore config --dry-run"})
		}
	}
	if path, werr := e.writeReport(rep); werr == nil {
		rep.Path = path
	}
	if !rep.Undone {
		rep.Err = "the recovery did not finish"
		return rep, errors.New("the recovery did not finish: read the report, fix what it names, and run opsdeck restore recover again")
	}
	rep.OK = true
	return rep, nil
}
