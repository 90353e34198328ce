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
	Safety  string   `json:"safety_backup,omitempty"`

	Database *dbJournal      `json:"database,omitempty"`
	Writers  []writerJournal `json:"writers,omitempty"`
}

type dbJournal struct {
	Target  string `json:"target"`
	Scratch string `json:"scratch"`
	Pre     string `json:"pre,omitempty"`
	OldOID  uint32 `json:"old_oid,omitempty"`
	NewOID  uint32 `json:"new_oid,omitempty"`
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

func journalPath(cfg *config.Config) string { return filepath.Join(cfg.StateDir, JournalName) }

// Interrupted returns the journal a restore left when it stopped without
// finishing, nil when there is none or that restore is still running.
func Interrupted(cfg *config.Config) (*Journal, error) {
	data, err := os.ReadFile(journalPath(cfg))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", journalPath(cfg), err)
	}
	var j Journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%s does not parse (%v): check by hand what the interrupted restore changed, then remove it", journalPath(cfg), err)
	}
	if host, _ := os.Hostname(); j.Host == host && alive(j.PID) {
		return nil, nil
	}
	return &j, nil
}

// alive reports whether a process with pid runs on this host.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// persist writes the journal of the run; a failure is a warning (the run
// goes on; only a later kill would need the journal).
func (en *env) persist() {
	if en.journal == nil {
		return
	}
	j := en.journal
	j.Safety = en.safetyID
	if en.db != nil {
		d := en.db
		j.Database = &dbJournal{Target: d.target, Scratch: d.scratch, Pre: d.pre, OldOID: d.oldOID, NewOID: d.newOID}
	}
	j.Writers = j.Writers[:0]
	if en.writers != nil {
		for _, w := range en.writers.list {
			if n, ok := en.writers.replicas[w]; ok {
				j.Writers = append(j.Writers, writerJournal{Namespace: w.Namespace, Name: w.Name, Replicas: n})
			}
		}
	}
	if err := writeJSONAtomic(journalPath(en.cfg()), j); err != nil && !en.journalWarned {
		en.journalWarned = true
		en.warn("could not write the restore journal (a kill now could not be recovered automatically): %v", err)
	}
}

// startJournal begins the journal of a run, refusing to run over the
// journal of an interrupted one.
func (en *env) startJournal(ctx context.Context) error {
	if j, err := Interrupted(en.cfg()); err != nil {
		return err
	} else if j != nil {
		return fmt.Errorf("%s left changes behind — run `opsdeck restore recover` first", j.Describe())
	}
	host, _ := os.Hostname()
	en.journal = &Journal{PID: os.Getpid(), Host: host, Who: whoOf(ctx), Started: en.eng.now().UTC(), Options: en.plan.Options, Set: en.plan.SetID}
	en.persist()
	return nil
}

// endJournal removes the journal once nothing is left to undo.
func (en *env) endJournal() {
	if en.journal == nil {
		return
	}
	_ = os.Remove(journalPath(en.cfg()))
	en.journal = nil
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
	m, err := Resolve(ctx, e.Backup.Store, j.Options.Kind, j.Set)
	if err != nil {
		return nil, fmt.Errorf("the interrupted restore's set: %w", err)
	}
	plan := &Plan{Options: j.Options, Set: m, SetID: m.ID}
	plan.Components, _ = componentsOf(j.Options.Kind)
	ids, _ := e.Backup.Identities()
	en := &env{eng: e, plan: plan, p: p, ids: ids, recovering: true}
	plan.env = en
	if err := e.build(ctx, en); err != nil {
		return nil, err
	}
	lock, err := e.Backup.LockStore(ctx, "recover the restore of "+j.Set)
	if err != nil {
		return nil, fmt.Errorf("recover refused: %w", err)
	}
	defer lock.Release()
	en.lock = lock
	// Put the run's state back.
	if j.Safety != "" {
		en.safetyID = j.Safety
		if s, err := backup.Get(ctx, e.Backup.Store, j.Safety); err == nil {
			en.safety = s.Manifest
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
	rep := &Report{Plan: plan, Start: e.now(), Who: whoOf(ctx), SafetyBackup: j.Safety}
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
