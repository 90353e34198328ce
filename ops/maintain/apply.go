package maintain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// ErrNoAction is returned for a finding without an action.
var ErrNoAction = errors.New("the finding has no action")

// Apply carries out a finding's action, which the caller has confirmed.
// It refuses in read-only mode, when the session's role (ops/access, from
// ctx) does not allow it, and when the audit log cannot be written;
// it re-checks that the action still applies (the session is the same,
// the files are unchanged and still past retention, the database still
// past its retention); and it writes one audit record. The result says
// what happened; it is also what Report.Record takes.
func (e *Engine) Apply(ctx context.Context, f Finding, p progress.Func) (res ActionResult) {
	if f.Action == nil {
		return ActionResult{FindingKey: f.Key(), Refused: true, Error: ErrNoAction.Error()}
	}
	a := *f.Action
	res = ActionResult{Action: a, FindingKey: f.Key()}
	start := time.Now()
	end := logging.Span(ctx, "maintain.apply", logging.KeyAction, a.AuditAction(), logging.KeyTarget, a.Target(), logging.KeyCheck, f.Key())
	defer func() {
		res.Took = time.Since(start)
		var err error
		if res.Error != "" {
			err = errors.New(res.Error)
		}
		end(err, slog.Group("result", "ok", res.OK, "refused", res.Refused, "unresolved", res.Unresolved), logging.KeyReason, res.Detail)
	}()
	log := access.Audit(ctx, e.Audit)
	refuse := func(err error) ActionResult {
		res.Refused, res.Error = true, err.Error()
		if aerr := log.Refuse(a.AuditAction(), a.Target(), err); aerr != nil {
			logErr("audit refusal", aerr)
		}
		return res
	}
	if err := access.Check(ctx, e.Config.Env(), a.Permission()); err != nil {
		return refuse(err)
	}
	if e.Audit == nil {
		res.Refused, res.Error = true, fmt.Sprintf("%s refused: the audit log cannot be written: %v", a.Kind, e.auditErr)
		return res
	}
	if a.Kind == ActPruneBackups {
		// The backup engine takes the store lock and audits the prune itself.
		detail, err := e.pruneBackups(ctx, a, p)
		res.Detail = detail
		if err != nil {
			res.Error = err.Error()
			res.Refused = errors.Is(err, audit.ErrReadOnly) || errors.Is(err, access.ErrForbidden)
		} else {
			res.OK = true
		}
		return res
	}
	if err := e.recheck(ctx, a); err != nil {
		return refuse(fmt.Errorf("%w: %v", audit.ErrRefused, err))
	}
	entry := log.Begin(a.AuditAction(), a.Target(), auditParams(a))
	detail, err := e.apply(ctx, a, p)
	var unresolved *errUnresolved
	if errors.As(err, &unresolved) {
		err, res.Unresolved = nil, true
	}
	if aerr := entry.End(err); aerr != nil {
		logErr("audit", aerr)
	}
	res.Detail = detail
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.OK = true
	return res
}

// auditParams are the facts the audit record keeps about an action.
func auditParams(a Action) map[string]any {
	m := map[string]any{"label": a.Label}
	switch a.Kind {
	case ActCancel, ActTerminate:
		m["pid"] = a.PID
		m["backend_start"] = a.BackendStart
	case ActDeleteFile:
		var paths []string
		for _, f := range a.Files {
			paths = append(paths, f.Path)
		}
		m["files"] = paths
	}
	return m
}

// recheck verifies, just before acting, that the action still applies.
func (e *Engine) recheck(ctx context.Context, a Action) error {
	switch a.Kind {
	case ActDropDatabase:
		pool, err := e.pool(ctx)
		if err != nil {
			return err
		}
		db := pool.Config().ConnConfig.Database
		if !strings.HasPrefix(a.Database, PreRestorePrefix(db)) || a.Database == db {
			return fmt.Errorf("%s is not a database left by a restore of %s", a.Database, db)
		}
		taken := PreRestoreTime(db, a.Database)
		if taken == nil || e.now().Sub(*taken) <= e.Config.Maintenance.PreRestoreRetention {
			return fmt.Errorf("%s is not past maintenance.pre_restore_retention", a.Database)
		}
	case ActDeleteFile:
		if !slices.Contains(e.Config.Maintenance.LogArchives, a.Pattern) {
			return fmt.Errorf("%s is not one of maintenance.log_archives", a.Pattern)
		}
	case ActVacuum, ActCancel, ActTerminate, ActDeleteStagedDumps:
		// Vacuum re-reads the table; SignalBackend checks the session's
		// start; RemoveStagedDump checks the file and that no restore runs.
	default:
		return fmt.Errorf("unknown action %q", a.Kind)
	}
	return nil
}

// apply does the work of one action.
func (e *Engine) apply(ctx context.Context, a Action, p progress.Func) (string, error) {
	switch a.Kind {
	case ActVacuum:
		pool, err := e.pool(ctx)
		if err != nil {
			return "", err
		}
		step := postgres.QualifiedName(a.Schema, a.Table)
		p.Emit(progress.Event{Kind: progress.Start, Op: "vacuum", Step: step})
		r, err := postgres.Vacuum(ctx, pool, a.Schema, a.Table, postgres.VacuumOptions{
			Analyze: true, LockTimeout: e.Config.Maintenance.VacuumLockTimeout,
			Progress: func(v postgres.VacuumProgress) {
				p.Emit(progress.Event{Kind: progress.Advance, Op: "vacuum", Step: step, Done: v.Done, Total: v.Total, Message: v.Phase})
			},
		})
		if err != nil {
			p.Emit(progress.Event{Kind: progress.Fail, Op: "vacuum", Step: step, Err: err.Error()})
			return "", err
		}
		if r.Skipped != "" {
			err := fmt.Errorf("skipped: %s", r.Skipped)
			p.Emit(progress.Event{Kind: progress.Warn, Op: "vacuum", Step: step, Message: err.Error()})
			return "", err
		}
		detail := fmt.Sprintf("vacuumed and analyzed: %s dead tuples → %s in %s", count(r.DeadBefore), count(r.DeadAfter), r.Took.Round(time.Millisecond))
		if r.DeadAfter >= max(e.Config.Maintenance.MinDeadTuples, r.DeadBefore/2) {
			detail += "; most remain: a transaction older than them still sees them — end the long queries and idle transactions, then vacuum again"
			p.Emit(progress.Event{Kind: progress.Warn, Op: "vacuum", Step: step, Message: detail})
			return detail, &errUnresolved{}
		}
		p.Emit(progress.Event{Kind: progress.Finish, Op: "vacuum", Step: step, Message: detail})
		return detail, nil
	case ActCancel, ActTerminate:
		pool, err := e.pool(ctx)
		if err != nil {
			return "", err
		}
		sig := postgres.SignalCancel
		if a.Kind == ActTerminate {
			sig = postgres.SignalTerminate
		}
		if err := postgres.SignalBackend(ctx, pool, a.PID, a.BackendStart, sig); err != nil {
			return "", err
		}
		if sig == postgres.SignalTerminate {
			return fmt.Sprintf("session %d terminated", a.PID), nil
		}
		return fmt.Sprintf("statement of session %d cancelled", a.PID), nil
	case ActDropDatabase:
		pool, err := e.pool(ctx)
		if err != nil {
			return "", err
		}
		if err := postgres.DropDatabase(ctx, pool, a.Database); err != nil {
			return "", err
		}
		return "dropped " + a.Database, nil
	case ActDeleteFile:
		return e.deleteFiles(ctx, a, p)
	case ActDeleteStagedDumps:
		return e.deleteStagedDumps(ctx, a, p)
	}
	return "", fmt.Errorf("unknown action %q", a.Kind)
}

// deleteFiles deletes the listed files that are still as listed; the
// others are kept and named in the error.
func (e *Engine) deleteFiles(ctx context.Context, a Action, p progress.Func) (string, error) {
	now := e.now()
	return deleteEach(ctx, a.Files, a.Pattern, "archives", p, func(f FileRef) (bool, error) {
		if err := stillOld(f, a.Pattern, e.Config.Maintenance.LogRetention, now); err != nil {
			return false, fmt.Errorf("kept %w", err)
		}
		return false, os.Remove(f.Path)
	})
}

// deleteStagedDumps deletes the listed dumps restores left; a restore
// running meanwhile keeps them all.
func (e *Engine) deleteStagedDumps(ctx context.Context, a Action, p progress.Func) (string, error) {
	return deleteEach(ctx, a.Files, "staged dumps", "staged dumps", p, func(f FileRef) (bool, error) {
		err := oprestore.RemoveStagedDump(e.Config, f.Path)
		if err != nil {
			return errors.Is(err, oprestore.ErrRestoreRunning), fmt.Errorf("kept %s: %w", f.Path, err)
		}
		return false, nil
	})
}

// deleteEach removes files one by one with remove, which re-checks each
// first and says whether the rest must be kept too; its errors, which
// name what was kept, are listed in the error. step labels the progress,
// noun the summary.
func deleteEach(ctx context.Context, files []FileRef, step, noun string, p progress.Func, remove func(FileRef) (stop bool, err error)) (string, error) {
	var deleted int
	var freed int64
	var problems []string
	p.Emit(progress.Event{Kind: progress.Start, Op: "cleanup", Step: step, Total: int64(len(files))})
	for i, f := range files {
		if ctx.Err() != nil {
			problems = append(problems, "cancelled")
			break
		}
		stop, err := remove(f)
		if err != nil {
			problems = append(problems, err.Error())
			if stop {
				break
			}
			continue
		}
		deleted++
		freed += f.Size
		p.Emit(progress.Event{Kind: progress.Advance, Op: "cleanup", Step: step, Done: int64(i + 1), Total: int64(len(files))})
	}
	detail := fmt.Sprintf("deleted %d of %d %s, freed %s", deleted, len(files), noun, progress.Bytes(freed))
	if len(problems) > 0 {
		return detail, fmt.Errorf("%s; %s", detail, strings.Join(clip(problems, maxListed), "; "))
	}
	return detail, nil
}

// pruneBackups runs the backup engine's prune and says whether it deleted
// what was listed.
func (e *Engine) pruneBackups(ctx context.Context, a Action, p progress.Func) (string, error) {
	eng, ok, err := e.backupEngine()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("no backup store")
	}
	res, err := eng.Prune(ctx, backup.PruneOptions{Progress: p})
	detail := fmt.Sprintf("deleted %d sets, freed %s; %d leftovers removed", len(res.Deleted), progress.Bytes(res.Freed), len(res.Plan.Leftovers))
	if extra := difference(res.Deleted, a.Backups); len(extra) > 0 {
		detail += fmt.Sprintf("; also past retention by now: %s", strings.Join(extra, ", "))
	}
	if kept := difference(a.Backups, res.Deleted); len(kept) > 0 && err == nil {
		detail += fmt.Sprintf("; kept after all (retention re-checked under the lock): %s", strings.Join(kept, ", "))
	}
	return detail, err
}

func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// ApplyAll applies the actions of the given findings in order, recording
// each result in rep, and stops early when ctx ends. It returns the
// worst status of the results (OK when all succeeded).
func (e *Engine) ApplyAll(ctx context.Context, rep *Report, fs []Finding, p progress.Func) health.Status {
	worst := health.OK
	for _, f := range fs {
		if ctx.Err() != nil {
			break
		}
		res := e.Apply(ctx, f, p)
		rep.Record(res)
		if !res.OK {
			worst = health.Warn
		}
	}
	return worst
}

// errUnresolved marks an action that ran well but left its finding as it
// was; the audit records it as done.
type errUnresolved struct{}

func (*errUnresolved) Error() string { return "done, but the problem remains" }
