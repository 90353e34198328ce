package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// preflight runs every check of the plan (read-only) into plan.Checks:
// the set's checksums, the store lock, and each component's own checks.
func (en *env) preflight(ctx context.Context) {
	plan := en.plan
	var kept []Check
	for _, c := range plan.Checks {
		if c.Component == "set" && c.Name == "decryption" {
			kept = append(kept, c)
		}
	}
	plan.Checks = kept
	if en.drill != nil {
		// The dump's SHA-256 is checked as it is staged: a drill reads the
		// set once.
		if en.pitr != nil {
			en.check("set", "checksums", health.OK, fmt.Sprintf("base backup %s (%s) and its WAL: checked as they are unpacked and staged", en.plan.SetID, progress.Bytes(en.pitr.TarBytes)))
		} else {
			en.check("set", "checksums", health.OK, "checked as the dump is staged (SHA-256 at its end)")
		}
		en.checkReaderLock()
		for _, c := range en.components {
			c.preflight(ctx)
		}
		return
	}
	if !en.checksummed {
		en.checkSums(ctx)
	}
	en.checkLock()
	en.checkJournal()
	for _, c := range en.components {
		c.preflight(ctx)
	}
}

// checkSums re-hashes the stored files of the restored components against
// the manifest.
func (en *env) checkSums(ctx context.Context) {
	if en.plan.Options.Kind == Merge {
		return // from a copy in the live database: no set
	}
	if en.pitr != nil {
		// The base backup's tar (its SHA-256 at the end of the unpacking)
		// and every WAL file (the SHA-256 in its name, as it is staged) are
		// checked by the recovery, before anything reaches production;
		// reading them twice would double the longest part of the run.
		en.check("set", "checksums", health.OK, fmt.Sprintf("base backup %s (%s) and its WAL: checked as they are unpacked and staged", en.plan.SetID, progress.Bytes(en.pitr.TarBytes)))
		return
	}
	sub := *en.plan.Set
	sub.Components = nil
	var size int64
	for _, name := range en.plan.Components {
		if c, ok := en.plan.Set.Component(name); ok {
			sub.Components = append(sub.Components, *c)
			for _, f := range c.Files {
				size += f.Size
			}
		}
	}
	r := en.eng.Backup.CheckSet(ctx, &sub, false, en.ids, en.p)
	if !r.OK {
		en.check("set", "checksums", health.Crit, strings.Join(r.Problems, "; ")+" — the set is damaged: pick another one")
		return
	}
	en.checksummed = true
	en.check("set", "checksums", health.OK, fmt.Sprintf("%s of %s re-read, SHA-256 as in the manifest", progress.Bytes(size), strings.Join(en.plan.Components, ", ")))
}

// checkLock reports anything holding the store lock — a backup, a verify,
// a prune, another restore — since a restore needs the store to itself
// (backup.LockExclusive) and the run would be refused.
func (en *env) checkLock() {
	if en.lock != nil {
		return // this run holds it
	}
	l, err := backup.AcquireLock(en.eng.Backup.Store, "restore preflight", "opsdeck")
	if err != nil {
		en.check("set", "store lock", health.Crit, "a restore needs the store to itself: "+err.Error())
		return
	}
	l.Release()
	en.check("set", "store lock", health.OK, "free")
}

// checkReaderLock reports a prune or a restore holding the store: a
// drill reads the store beside backups and verifies, not beside those.
func (en *env) checkReaderLock() {
	if en.lock != nil {
		return
	}
	l, err := backup.AcquireLockFor(en.eng.Backup.Store, backup.LockReader, "drill preflight", "opsdeck")
	if err != nil {
		en.check("set", "store lock", health.Crit, "a drill reads the store beside backups, not beside a prune or a restore: "+err.Error())
		return
	}
	l.Release()
	en.check("set", "store lock", health.OK, "free for readers")
}

// preflightStep re-runs the preflight at the start of the run: things may
// have changed since the plan was shown.
func (en *env) preflightStep() *Step {
	return &Step{
		Name: "preflight", Component: "set", Title: "Check the set, the targets and the free space again",
		do: func(ctx context.Context) error {
			en.preflight(ctx)
			for _, c := range en.plan.Checks {
				if c.Status != health.OK {
					en.note("%s %s %s: %s", c.Status, c.Component, c.Name, c.Detail)
				}
			}
			if err := en.plan.Blocked(); err != nil && en.drill != nil {
				return &RefusedError{err}
			} else if err != nil {
				return err
			}
			return nil
		},
	}
}

// safetyStep takes an ordinary backup set, tagged pre-restore, of one
// component about to be replaced (dsn: the database's, "" for Redis); nil
// when the operator skipped it. Its undo keeps the set: it is the way back.
func (en *env) safetyStep(name, comp, dsn string) *Step {
	if en.plan.Options.NoSafetyBackup {
		return nil
	}
	return &Step{
		Name: name, Component: comp,
		Title: "Back up the current " + comp + " (a set tagged " + PreRestoreTag + ")",
		do: func(ctx context.Context) error {
			b := *en.eng.Backup
			cfg := *b.Config
			if dsn != "" {
				cfg.Postgres.DSN = dsn
			}
			b.Config = &cfg
			res, err := b.Backup(ctx, backup.Options{
				Kind: "pre-restore", Components: []string{comp}, Tags: []string{PreRestoreTag}, HeldLock: en.lock,
				Progress: en.forward(),
			})
			if res.Manifest != nil {
				en.addSafety(comp, res.Manifest)
			}
			if err != nil {
				return fmt.Errorf("the safety backup failed, nothing was changed: %w", err)
			}
			en.note("safety backup %s (%s)", res.Manifest.ID, progress.Bytes(res.Manifest.Size()))
			return nil
		},
	}
}

// addSafety records a safety backup of comp taken by this run.
func (en *env) addSafety(comp string, m *backup.Manifest) {
	if en.safety == nil {
		en.safety = map[string]*backup.Manifest{}
	}
	en.safety[comp] = m
	en.persist()
}

// safetyIDs lists the run's safety backups, oldest first.
func (en *env) safetyIDs() []string {
	var ids []string
	for _, c := range []string{backup.Database, backup.Redis} {
		if m := en.safety[c]; m != nil {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// postStep runs the health checks of the restored targets. Only a target
// that does not answer fails it: a cold cache right after a restore is a
// warning, not a reason to undo.
func (en *env) postStep(db *dbRestore, rd *redisRestore, kc *configRestore) *Step {
	var targets []string
	if db != nil {
		targets = append(targets, "postgres")
	}
	if rd != nil {
		targets = append(targets, "redis")
	}
	if kc != nil {
		targets = append(targets, "kubernetes")
	}
	return &Step{
		Name: "post-checks", Component: "set", Title: "Run the health checks of " + strings.Join(targets, ", "),
		do: func(ctx context.Context) error {
			rep := health.Run(ctx, en.cfg(), targets...)
			var down []string
			for _, r := range rep.Results {
				line := fmt.Sprintf("%s %s %s: %s", r.Status, r.Target, r.Name, r.Value)
				if r.Status == health.OK {
					continue
				}
				if r.Name == "reachable" {
					down = append(down, line)
				}
				en.note("%s", line)
			}
			en.note("health: %s", rep.Status)
			if len(down) > 0 {
				return fmt.Errorf("a restored target does not answer: %s", strings.Join(down, "; "))
			}
			return nil
		},
	}
}

// forward passes the events of an operation the running step calls (the
// safety backup, a verify) on as the step's own: its starts and ends
// become notes, so that only the step's own events move the step.
func (en *env) forward() progress.Func {
	step := en.cur
	return func(e progress.Event) {
		switch e.Kind {
		case progress.Start, progress.Finish:
			e.Kind = progress.Info
		case progress.Fail:
			e.Kind, e.Message = progress.Warn, e.Err
		}
		if e.Kind != progress.Advance && e.Step != "" {
			e.Message = strings.TrimSpace(e.Step + " " + e.Message)
		}
		e.Op, e.Step = OpRestore, step
		en.p.Emit(e)
	}
}
