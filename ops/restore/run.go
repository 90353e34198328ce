package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// UndoTimeout bounds the undo of one step. Undos run even when the run's
// context was canceled: an interrupted restore still puts things back.
var UndoTimeout = 5 * time.Minute

// Report is how a run went: every step, the verification results, and
// where the Markdown report was written.
type Report struct {
	Plan  *Plan        `json:"plan"`
	Steps []StepResult `json:"steps"`
	Start time.Time    `json:"start"`
	End   time.Time    `json:"end"`
	Who   string       `json:"who"`
	// OpsdeckVersion is the version of the opsdeck that ran the restore.
	OpsdeckVersion string `json:"opsdeck_version"`
	// OK is true when every step finished.
	OK bool `json:"ok"`
	// Err is the failure, "" when OK.
	Err string `json:"error,omitempty"`
	// Undone is true when a failure was undone completely.
	Undone bool `json:"undone"`
	// SafetyBackup names the safety backups taken ("" when none).
	SafetyBackup string `json:"safety_backup,omitempty"`
	// Path is the Markdown report ("" when it could not be written).
	Path string `json:"report,omitempty"`
	// Drill is a drill's outcome, proof, RTO and RPO (nil for a restore).
	Drill *DrillResult `json:"drill,omitempty"`
}

// Run runs a prepared plan: it checks the session may restore, takes the
// store lock for the whole run, records an audit entry, and runs each step
// (precondition, action, verification). When a step fails or ctx ends, the
// steps done so far, and the failed one, are undone in reverse. The report
// is returned (and written as Markdown) whether the run succeeded or not.
func (e *Engine) Run(ctx context.Context, plan *Plan, p progress.Func) (*Report, error) {
	en := plan.env
	if en == nil || en.plan != plan {
		return nil, errors.New("restore: the plan was not prepared by this engine")
	}
	en.p = p
	target := plan.describeTarget()
	action := access.RestoreRun
	if en.drill != nil {
		action = access.DrillRun
	}
	if err := e.Backup.Refuse(ctx, action, target); err != nil {
		return nil, err
	}
	if err := plan.overwriteAcknowledged(); err != nil {
		return nil, err
	}
	rep := &Report{Plan: plan, Start: e.now(), Who: access.Who(ctx), OpsdeckVersion: e.Backup.Version}
	details := map[string]any{
		"kind": plan.Options.Kind, "set": plan.SetID, "components": plan.Components,
		"no_safety_backup": plan.Options.NoSafetyBackup, "update_existing": plan.Options.UpdateExisting,
	}
	if len(plan.Options.Tables) > 0 {
		details["tables"] = plan.Options.Tables
	}
	if len(plan.Copies) > 0 {
		details["copies"] = plan.Copies
	}
	if len(plan.Options.From) > 0 {
		details["from"], details["overwrite"] = plan.Options.From, plan.Options.Overwrite
	}
	if plan.Options.Drill != "" {
		details["drill"] = plan.Options.Drill
	}
	if pt := plan.PointInTime; pt != nil {
		details["point_in_time"] = pt.Target.String()
		details["target_chosen"] = pt.Target.How
		details["wal_until"] = pt.Until.String()
	}
	entry := e.Backup.AuditLog(ctx).Begin(string(action), target, details)
	end := logging.Span(ctx, "restore", logging.KeySet, plan.SetID, logging.KeyKind, plan.Options.Kind, logging.KeyTarget, target)
	err := e.run(ctx, plan, rep)
	end(err, slog.Group("result", "undone", rep.Undone, "safety_backups", en.safetyIDs()))
	rep.End = e.now()
	if err != nil {
		rep.Err = err.Error()
	}
	rep.OK = err == nil
	rep.SafetyBackup = strings.Join(en.safetyIDs(), ", ")
	if en.drill != nil {
		en.drill.sumParts()
		en.drill.Outcome = drillOutcome(err)
		en.drill.Target = target
		en.drill.RPO = rep.Start.Sub(plan.Set.Start)
		if en.pitr != nil {
			en.drill.RPO = rep.Start.Sub(en.pitr.Coverage.ToTime)
		}
		rep.Drill = en.drill
	}
	if path, werr := e.writeReport(rep); werr != nil {
		p.Emit(progress.Event{Kind: progress.Warn, Op: OpRestore, Message: "could not write the restore report: " + werr.Error()})
	} else {
		rep.Path = path
	}
	if aerr := entry.End(err); aerr != nil {
		slog.Warn("audit write failed", logging.Err(aerr))
	}
	if rep.Drill != nil {
		if herr := AppendDrill(e.cfg().StateDir, RecordOf(rep)); herr != nil {
			p.Emit(progress.Event{Kind: progress.Warn, Op: OpRestore, Message: "could not record the drill in its history: " + herr.Error()})
		} else if merr := e.writeDrillMetrics(); merr != nil {
			p.Emit(progress.Event{Kind: progress.Warn, Op: OpRestore, Message: "could not write the drill metrics: " + merr.Error()})
		}
	}
	return rep, err
}

// run takes the lock and runs the steps.
func (e *Engine) run(ctx context.Context, plan *Plan, rep *Report) error {
	en := plan.env
	var lock *backup.Lock
	var err error
	if en.drill != nil {
		lock, err = e.Backup.LockStoreFor(ctx, backup.LockReader, "drill "+plan.Options.Kind+" from "+plan.SetID)
	} else {
		lock, err = e.Backup.LockStore(ctx, "restore "+plan.Options.Kind+" from "+plan.SetID)
	}
	slog.DebugContext(ctx, "restore lock", logging.KeyPath, e.Backup.Store.LockPath(), logging.KeyOutcome, logging.Outcome(err), logging.Err(err))
	if err != nil {
		if en.drill != nil {
			return &RefusedError{fmt.Errorf("drill refused, nothing was started: %w", err)}
		}
		return fmt.Errorf("restore refused, nothing was changed: %w", err)
	}
	en.lock = lock
	defer func() {
		lock.Release()
		en.lock = nil
	}()
	if len(plan.Steps) > 0 {
		en.cur = plan.Steps[0].Name // a killed drill's cleanup is noted there
	}
	if err := en.startJournal(ctx); err != nil {
		slog.DebugContext(ctx, "restore journal refused", logging.Err(err))
		if en.drill != nil {
			var r *RefusedError
			if errors.As(err, &r) {
				return err
			}
			return fmt.Errorf("drill stopped before it started: %w", err)
		}
		return fmt.Errorf("restore refused, nothing was changed: %w", err)
	}
	defer en.releaseJournal()
	defer en.bg.Wait() // the staged dump's removal

	rep.Steps = make([]StepResult, len(plan.Steps))
	for i, s := range plan.Steps {
		rep.Steps[i] = StepResult{Name: s.Name, Title: s.Title, State: Pending}
	}
	var failed error
	last := -1
	for i, s := range plan.Steps {
		if err := ctx.Err(); err != nil {
			failed = fmt.Errorf("restore interrupted before %s: %w", s.Name, err)
			break
		}
		last = i
		start := e.now()
		rep.Steps[i].State = Running
		en.cur = s.Name
		en.journal.Current = s.Name
		en.persist()
		en.p.Emit(progress.Event{Kind: progress.Start, Op: OpRestore, Step: s.Name, Message: s.Title})
		err := e.runStep(ctx, s)
		rep.Steps[i].Took = e.now().Sub(start)
		rep.Steps[i].Notes = en.notes[s.Name]
		if err != nil {
			rep.Steps[i].State = Failed
			rep.Steps[i].Err = err.Error()
			en.p.Emit(progress.Event{Kind: progress.Fail, Op: OpRestore, Step: s.Name, Err: err.Error()})
			failed = fmt.Errorf("%s failed: %w", s.Name, err)
			break
		}
		rep.Steps[i].State = Done
		en.journal.Done = append(en.journal.Done, s.Name)
		en.journal.Current = ""
		en.persist()
		en.p.Emit(progress.Event{Kind: progress.Finish, Op: OpRestore, Step: s.Name, Message: s.Title})
	}
	if en.drill != nil {
		return e.endDrill(ctx, plan, rep, last, failed)
	}
	if failed == nil {
		en.endJournal()
		return nil
	}
	for i := last + 1; i < len(plan.Steps); i++ {
		rep.Steps[i].State = Skipped
		slog.DebugContext(ctx, "restore step skipped", logging.KeyStep, plan.Steps[i].Name)
	}
	rep.Undone = e.undo(ctx, plan, rep, last)
	if rep.Undone {
		en.endJournal()
		return fmt.Errorf("%w — every step done was undone; the original data is serving", failed)
	}
	return fmt.Errorf("%w — and the undo did not finish: read the report and the restore runbook before anything else", failed)
}

// runStep runs one step's precondition, action and verification.
func (e *Engine) runStep(ctx context.Context, s *Step) error {
	if err := e.hook("before:" + s.Name); err != nil {
		return err
	}
	if s.pre != nil {
		if err := s.phase(ctx, "pre", s.pre); err != nil {
			return fmt.Errorf("precondition: %w", err)
		}
	}
	if err := s.phase(ctx, "do", s.do); err != nil {
		return err
	}
	if err := e.hook("after:" + s.Name); err != nil {
		return err
	}
	if s.verify != nil {
		if err := s.phase(ctx, "verify", s.verify); err != nil {
			return fmt.Errorf("verification: %w", err)
		}
	}
	return nil
}

// phase runs one part of a step (pre, do, verify, undo) as a span of the
// debug trace.
func (s *Step) phase(ctx context.Context, phase string, fn func(context.Context) error) error {
	end := logging.Span(ctx, "restore.step", logging.KeyStep, s.Name, logging.KeyComponent, s.Component, logging.KeyPhase, phase)
	err := fn(ctx)
	end(err)
	return err
}

// undo reverts steps last..0 and reports whether every undo succeeded.
func (e *Engine) undo(ctx context.Context, plan *Plan, rep *Report, last int) bool {
	return e.revert(ctx, plan, rep, last, "undo")
}

// revert runs the undos of steps last..0, newest first, on a context
// that is not cancelled. As a restore's undo ("undo") it marks the steps
// undone and forgets them in the journal; as a drill's cleanup
// ("cleanup") the steps keep their states.
func (e *Engine) revert(ctx context.Context, plan *Plan, rep *Report, last int, phase string) bool {
	en := plan.env
	base := context.WithoutCancel(ctx)
	undoing := phase == "undo"
	ok := true
	for i := last; i >= 0; i-- {
		s := plan.Steps[i]
		if s.undo == nil {
			continue
		}
		en.cur = s.Name
		en.p.Emit(progress.Event{Kind: progress.Start, Op: OpUndo, Step: s.Name, Message: s.Undo})
		timeout := UndoTimeout
		if s.undoTimeout > 0 {
			timeout = s.undoTimeout
		}
		uctx, cancel := context.WithTimeout(base, timeout)
		err := s.phase(uctx, phase, s.undo)
		cancel()
		rep.Steps[i].Notes = en.notes[s.Name]
		if err != nil {
			ok = false
			rep.Steps[i].UndoErr = err.Error()
			if undoing && rep.Steps[i].State == Done {
				rep.Steps[i].State = UndoFailed
			}
			en.p.Emit(progress.Event{Kind: progress.Fail, Op: OpUndo, Step: s.Name, Err: err.Error()})
			continue
		}
		if undoing {
			if rep.Steps[i].State == Done {
				rep.Steps[i].State = Undone
			}
			en.forget(s.Name)
		}
		en.p.Emit(progress.Event{Kind: progress.Finish, Op: OpUndo, Step: s.Name, Message: s.Undo})
	}
	return ok
}

// describeTarget names what the plan replaces, for the audit log.
func (p *Plan) describeTarget() string {
	t := p.Target
	if p.Options.Kind == PITR {
		return "a private instance recovered from base backup " + p.SetID + " to the archive's head"
	}
	var parts []string
	if t.Database != "" {
		parts = append(parts, "database "+t.Database+"@"+t.Postgres)
	}
	if t.Redis != "" {
		parts = append(parts, "redis "+t.Redis)
	}
	for _, ns := range t.Namespaces {
		parts = append(parts, "namespace "+ns)
	}
	return strings.Join(parts, ", ") + " from " + p.SetID
}
