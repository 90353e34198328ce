package maintain

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Options tune one run.
type Options struct {
	Mode Mode
	// DryRun is recorded in the report: the caller will not act on it.
	DryRun bool
	// Keyspace tunes the Redis keyspace analysis.
	Keyspace KeyspaceOptions
	// Progress receives the run's events (areas starting and ending,
	// keyspace progress against DBSIZE).
	Progress progress.Func
}

// Run reads and judges what the mode covers and returns the report. It
// changes nothing but opsdeck's own state (the capacity history, the
// keyspace checkpoint, the last-run record). Failures to reach a target
// are findings, not errors; the error is ctx's when the run was cancelled,
// with the report so far.
func (e *Engine) Run(ctx context.Context, o Options) (*Report, error) {
	if o.Mode == "" {
		o.Mode = ModeFull
	}
	start := e.now()
	rep := &Report{Mode: o.Mode, StartedAt: start.UTC(), ReadOnly: e.Config.ReadOnly, DryRun: o.DryRun}
	rep.Host, _ = os.Hostname()
	explicit := o.Mode != ModeFull
	p := o.Progress
	ctx = withRunState(ctx)
	endRun := logging.Span(ctx, "maintain", logging.KeyMode, o.Mode, logging.KeyDryRun, o.DryRun)
	defer func() { endRun(ctx.Err(), logging.KeyCount, len(rep.Findings), logging.KeyStatus, rep.Status) }()
	for _, area := range o.Mode.Areas() {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		endArea := logging.Span(ctx, "maintain.area", logging.KeyArea, area)
		p.Emit(progress.Event{Kind: progress.Start, Op: "maintain", Step: string(area)})
		var fs []Finding
		var notes []string
		switch area {
		case AreaHealth:
			fs = e.runHealth(ctx)
		case AreaDB:
			fs = e.runDB(ctx, rep, explicit, p)
		case AreaRedis:
			fs, notes = e.runRedis(ctx, rep, o, explicit)
		case AreaCleanup:
			fs = e.runCleanup(ctx, rep, explicit, p)
		case AreaSecurity:
			fs = e.runSecurity(ctx, explicit)
		case AreaCapacity:
			fs, notes = e.runCapacity(ctx, rep, p)
		}
		if ctx.Err() != nil {
			notes = append(notes, "cancelled: the findings of this area may be incomplete")
		}
		rep.Findings = append(rep.Findings, fs...)
		rep.Areas = append(rep.Areas, AreaRun{Area: area, Took: time.Since(t0), Notes: notes})
		if logging.Enabled(ctx) {
			traceFindings(ctx, area, fs, notes)
		}
		endArea(ctx.Err(), logging.KeyCount, len(fs))
		p.Emit(progress.Event{Kind: progress.Finish, Op: "maintain", Step: string(area), Message: fmt.Sprintf("%d findings", len(fs))})
	}
	rep.Took = e.now().Sub(start)
	rep.finish()
	if ctx.Err() == nil {
		e.recordRun(rep)
	}
	return rep, ctx.Err()
}

// traceFindings writes an area's findings that are not OK, with their
// action, and the area's notes to the debug trace.
func traceFindings(ctx context.Context, area Area, fs []Finding, notes []string) {
	for _, f := range fs {
		if f.Status == health.OK && !f.NA && f.Action == nil {
			continue
		}
		attrs := []any{logging.KeyArea, area, logging.KeyCheck, f.Check, logging.KeyStatus, f.Level(), logging.KeyTarget, f.Object, logging.KeyReason, f.Summary}
		if f.Action != nil {
			attrs = append(attrs, logging.KeyAction, f.Action.AuditAction())
		}
		slog.DebugContext(ctx, "maintain finding", attrs...)
	}
	for _, n := range notes {
		slog.DebugContext(ctx, "maintain note", logging.KeyArea, area, logging.KeyReason, n)
	}
}

// runHealth is the morning check (health.Run) plus the firing alerts, the
// new kinds of errors in the logs and the age of the last good backup of
// the database and of Redis.
func (e *Engine) runHealth(ctx context.Context) []Finding {
	var fs []Finding
	rep := health.Run(ctx, e.Config)
	for _, r := range rep.Results {
		fs = append(fs, Finding{Area: AreaHealth, Check: r.Name, Status: r.Status, Object: r.Target,
			Summary: r.Value, Suggestion: r.Hint, Runbook: runbookPath(r.Runbook), Evidence: thresholdEvidence(r.Threshold)})
	}
	fs = append(fs, e.alertFindings(ctx)...)
	fs = append(fs, e.errorLogs(ctx)...)
	return append(fs, e.backupAge(ctx)...)
}

func thresholdEvidence(t string) []string {
	if t == "" {
		return nil
	}
	return []string{"threshold: " + t}
}

// rbBackupStale is the runbook section of stale backups.
const rbBackupStale = "monitoring.md#backupstale"

// backupAge judges how old the newest good backup of each configured
// component is, against monitoring.backup_max_age.
func (e *Engine) backupAge(ctx context.Context) []Finding {
	maxAge := e.Config.Monitoring.BackupMaxAge
	eng, ok, err := e.backupEngine()
	switch {
	case err != nil:
		return []Finding{na(AreaHealth, "backups", "backup store", err.Error())}
	case !ok:
		return []Finding{{Area: AreaHealth, Check: "backups", Status: health.Warn, Object: e.Config.Backup.Dir, Runbook: rbBackupStale,
			Summary: "no backup store: no backup was ever taken here", Suggestion: "opsdeck backup full, and schedule it (see the backup runbook)"}}
	}
	sets, err := backup.List(ctx, eng.Store)
	if err != nil {
		return []Finding{na(AreaHealth, "backups", eng.Store.String(), err.Error())}
	}
	return BackupAgeFindings(sets, e.Config.Postgres.Configured(), e.Config.Redis.URL != "", maxAge, e.now())
}

// BackupAgeFindings judge the newest good backup of the database and of
// Redis: older than maxAge is a warning, older than twice that critical.
func BackupAgeFindings(sets []backup.Set, database, redis bool, maxAge time.Duration, now time.Time) []Finding {
	var fs []Finding
	for _, c := range []struct {
		name string
		on   bool
	}{{backup.Database, database}, {backup.Redis, redis}} {
		if !c.on {
			continue
		}
		f := Finding{Area: AreaHealth, Check: "backup " + c.name, Object: c.name, Runbook: rbBackupStale,
			Evidence: []string{"threshold: warn older than " + health.ShortDuration(maxAge) + ", crit older than " + health.ShortDuration(2*maxAge)}}
		s, ok := backup.Latest(sets, c.name, false)
		if !ok {
			f.Status, f.Summary = health.Crit, "no good "+c.name+" backup in the store"
			f.Suggestion = "opsdeck backup " + c.name + " now, then check the schedule"
			fs = append(fs, f)
			continue
		}
		age := s.Age(now)
		f.Status = health.AboveDuration(age, config.DurationLimit{Warn: maxAge, Crit: 2 * maxAge})
		f.Summary = fmt.Sprintf("newest %s, %s old, %s", s.ID, health.ShortDuration(age.Truncate(time.Minute)), s.VerifyState())
		if f.Status != health.OK {
			f.Suggestion = "the scheduled backup did not run or failed: check the CronJob and its logs, then run opsdeck backup " + c.name
		} else if !s.Verified() {
			f.Suggestion = "opsdeck backups verify " + s.ID
		}
		fs = append(fs, f)
	}
	return fs
}
