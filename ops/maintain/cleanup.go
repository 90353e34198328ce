package maintain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// Runbook sections of the cleanup findings.
const (
	rbRetention = "backup-restore.md#retention"
	rbRestoreDB = "backup-restore.md#restore-the-database"
	rbWeekly    = "maintenance.md#weekly"
	// rbRestoreLeftovers explains the dumps killed restores leave.
	rbRestoreLeftovers = "backup-restore.md#dumps-left-by-restores"
)

// FileRef is a file as cleanup listed it; deleting re-checks all of it.
type FileRef struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

// CleanupDetail is what cleanup listed.
type CleanupDetail struct {
	LogArchives []FileRef `json:"log_archives"`
	// StagedDumps are dumps killed restores left in the work directory.
	StagedDumps []FileRef `json:"staged_dumps,omitempty"`
	// Backups is the backup prune's dry run (nil without a backup store).
	Backups *backup.PrunePlan `json:"backups,omitempty"`
	// PreRestore are the <db>_pre_* databases, with their age when the
	// name tells it.
	PreRestore []PreRestoreDB `json:"pre_restore"`
}

// PreRestoreDB is a database a restore left behind.
type PreRestoreDB struct {
	postgres.DatabaseInfo
	// Taken is when the restore renamed it, read from its name.
	Taken *time.Time `json:"taken,omitempty"`
}

// runCleanup lists what cleanup would delete. It deletes nothing.
func (e *Engine) runCleanup(ctx context.Context, rep *Report, explicit bool, p progress.Func) []Finding {
	now := e.now()
	d := &CleanupDetail{}
	rep.Cleanup = d
	var fs []Finding

	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "cleanup", Message: "log archives"})
	archFs, files := LogArchiveFindings(e.Config.Maintenance.LogArchives, e.Config.Maintenance.LogRetention, now)
	d.LogArchives = files
	fs = append(fs, archFs...)

	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "cleanup", Message: "dumps left by restores"})
	stagedFs, staged := StagedDumpFindings(e.Config)
	d.StagedDumps = staged
	fs = append(fs, stagedFs...)

	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "cleanup", Message: "backups past retention"})
	switch eng, ok, err := e.backupEngine(); {
	case err != nil:
		fs = append(fs, na(AreaCleanup, "backups", "backup store", err.Error()))
	case !ok:
		fs = append(fs, Finding{Area: AreaCleanup, Check: "backups", Status: health.OK, Object: e.Config.Backup.Dir,
			Summary: "no backup store yet: nothing to prune", Runbook: rbRetention})
	default:
		res, err := eng.Prune(ctx, backup.PruneOptions{DryRun: true})
		if err != nil {
			fs = append(fs, na(AreaCleanup, "backups", eng.Store.String(), err.Error()))
			break
		}
		d.Backups = &res.Plan
		fs = append(fs, PruneFindings(res.Plan, eng.Store.String())...)
	}

	p.Emit(progress.Event{Kind: progress.Info, Op: "maintain", Step: "cleanup", Message: "databases left by restores"})
	pool, err := e.pool(ctx)
	if err != nil {
		return append(fs, targetFailure(AreaCleanup, "postgres", err, explicit))
	}
	dbName := pool.Config().ConnConfig.Database
	dbs, err := postgres.ListDatabases(ctx, pool, PreRestorePrefix(dbName))
	if err != nil {
		return append(fs, targetFailure(AreaCleanup, "postgres", err, true))
	}
	for _, db := range dbs {
		d.PreRestore = append(d.PreRestore, PreRestoreDB{DatabaseInfo: db, Taken: PreRestoreTime(dbName, db.Name)})
	}
	return append(fs, PreRestoreFindings(dbName, d.PreRestore, e.Config.Maintenance.PreRestoreRetention, now)...)
}

// LogArchiveFindings lists, per pattern, the regular files older than
// retention (symbolic links and directories are never touched).
func LogArchiveFindings(patterns []string, retention time.Duration, now time.Time) ([]Finding, []FileRef) {
	if len(patterns) == 0 {
		return []Finding{{Area: AreaCleanup, Check: "log archives", Status: health.OK, Object: "maintenance.log_archives", Runbook: rbWeekly,
			Summary:    "no log archives configured",
			Suggestion: "list the application's archive patterns in maintenance.log_archives, e.g. /var/log/stockapp/*.gz"}}, nil
	}
	var fs []Finding
	var all []FileRef
	for _, pat := range patterns {
		old, kept, err := oldFiles(pat, retention, now)
		if err != nil {
			fs = append(fs, na(AreaCleanup, "log archives", pat, err.Error()))
			continue
		}
		all = append(all, old...)
		if len(old) == 0 {
			fs = append(fs, Finding{Area: AreaCleanup, Check: "log archives", Status: health.OK, Object: pat, Runbook: rbWeekly,
				Summary: fmt.Sprintf("nothing older than %s (%d newer kept)", health.ShortDuration(retention), kept)})
			continue
		}
		var size int64
		var ev []string
		for i, f := range old {
			size += f.Size
			if i < maxListed {
				ev = append(ev, fmt.Sprintf("%s (%s, %s)", f.Path, progress.Bytes(f.Size), f.ModTime.UTC().Format("2006-01-02")))
			}
		}
		if len(old) > maxListed {
			ev = append(ev, fmt.Sprintf("… and %d more", len(old)-maxListed))
		}
		fs = append(fs, Finding{Area: AreaCleanup, Check: "log archives", Status: health.OK, Object: pat, Runbook: rbWeekly,
			Summary:    fmt.Sprintf("%d archives older than %s, %s (%d newer kept)", len(old), health.ShortDuration(retention), progress.Bytes(size), kept),
			Evidence:   ev,
			Suggestion: "delete them (after confirmation, or --yes)",
			Action:     &Action{Kind: ActDeleteFile, Label: fmt.Sprintf("delete %d log archives (%s) matching %s", len(old), progress.Bytes(size), pat), Pattern: pat, Files: old}})
	}
	return fs, all
}

// StagedDumpFindings lists the dumps killed restores left in the restore
// work directory (a dump is as large as the database): one finding, with
// the action deleting them. While a restore runs nothing is listed.
func StagedDumpFindings(cfg *config.Config) ([]Finding, []FileRef) {
	dir := cfg.Restore.WorkDirIn(cfg.StateDir)
	dumps, err := oprestore.StagedDumps(cfg)
	switch {
	case errors.Is(err, oprestore.ErrRestoreRunning):
		return []Finding{{Area: AreaCleanup, Check: "staged dumps", Status: health.OK, Object: dir, Runbook: rbRestoreLeftovers,
			Summary: "a restore is running: its staged dump is in use"}}, nil
	case err != nil:
		return []Finding{na(AreaCleanup, "staged dumps", dir, err.Error())}, nil
	case len(dumps) == 0:
		return []Finding{{Area: AreaCleanup, Check: "staged dumps", Status: health.OK, Object: dir, Runbook: rbRestoreLeftovers,
			Summary: "no dump left by a restore"}}, nil
	}
	var refs []FileRef
	var size int64
	var ev []string
	for i, d := range dumps {
		refs = append(refs, FileRef{Path: d.Path, Size: d.Size, ModTime: d.ModTime})
		size += d.Size
		if i < maxListed {
			ev = append(ev, fmt.Sprintf("%s (%s, %s)", d.Path, progress.Bytes(d.Size), d.ModTime.UTC().Format("2006-01-02 15:04")))
		}
	}
	if len(dumps) > maxListed {
		ev = append(ev, fmt.Sprintf("… and %d more", len(dumps)-maxListed))
	}
	return []Finding{{Area: AreaCleanup, Check: "staged dumps", Status: health.Warn, Object: dir, Runbook: rbRestoreLeftovers,
		Summary:    fmt.Sprintf("%d dump(s) left by killed restores, %s", len(dumps), progress.Bytes(size)),
		Evidence:   ev,
		Suggestion: "run opsdeck restore recover if a restore was interrupted (it removes its dump), else delete them",
		Action:     &Action{Kind: ActDeleteStagedDumps, Label: fmt.Sprintf("delete %d staged dump(s) (%s)", len(dumps), progress.Bytes(size)), Files: refs}}}, refs
}

// oldFiles returns the regular files matching pattern last modified more
// than retention before now, oldest first, and how many newer ones match.
func oldFiles(pattern string, retention time.Duration, now time.Time) ([]FileRef, int, error) {
	matches, err := filepath.Glob(expandHome(pattern))
	if err != nil {
		return nil, 0, fmt.Errorf("bad pattern: %w", err)
	}
	var old []FileRef
	kept := 0
	for _, m := range matches {
		info, err := os.Lstat(m)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if now.Sub(info.ModTime()) > retention {
			old = append(old, FileRef{Path: m, Size: info.Size(), ModTime: info.ModTime()})
		} else {
			kept++
		}
	}
	slices.SortFunc(old, func(a, b FileRef) int { return a.ModTime.Compare(b.ModTime) })
	return old, kept, nil
}

func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}

// PruneFindings turn the backup prune's dry run into findings: one with the
// prune action when it deletes anything, and one per warning.
func PruneFindings(plan backup.PrunePlan, store string) []Finding {
	var fs []Finding
	dels := plan.Deletes()
	var size int64
	var ids, ev []string
	for _, d := range dels {
		size += d.Size
		ids = append(ids, d.ID)
		ev = append(ev, fmt.Sprintf("%s %s, %s old, %s: %s", d.ID, d.Kind, health.ShortDuration(d.Age.Truncate(time.Hour)), progress.Bytes(d.Size), d.Reason))
	}
	for _, l := range plan.Leftovers {
		ev = append(ev, "leftover of an interrupted backup: "+l)
	}
	for _, w := range plan.Warnings {
		fs = append(fs, Finding{Area: AreaCleanup, Check: "backups", Status: health.Warn, Object: store, Summary: w, Runbook: rbRetention,
			Why: "without a verified set, retention keeps everything: the store only grows"})
	}
	if len(dels)+len(plan.Leftovers) == 0 {
		return append(fs, Finding{Area: AreaCleanup, Check: "backups", Status: health.OK, Object: store, Runbook: rbRetention,
			Summary: fmt.Sprintf("%d sets, none past retention, no leftovers", len(plan.Decisions))})
	}
	st := health.OK
	if len(plan.Leftovers) > 0 {
		st = health.Warn
	}
	sum := fmt.Sprintf("%d sets past retention (%s)", len(dels), progress.Bytes(size))
	if len(plan.Leftovers) > 0 {
		sum += fmt.Sprintf(", %d leftovers of interrupted backups", len(plan.Leftovers))
	}
	return append(fs, Finding{Area: AreaCleanup, Check: "backups", Status: st, Object: store, Runbook: rbRetention,
		Summary: sum, Evidence: clip(ev, 2*maxListed),
		Why:        "old sets fill the store; leftovers are files of backups that were killed or crashed and will never be valid",
		Suggestion: "prune them: the newest verified set of each component is always kept",
		Action:     &Action{Kind: ActPruneBackups, Label: "prune backups: " + sum, Backups: ids, Leftovers: plan.Leftovers}})
}

// PreRestorePrefix is the name prefix of the databases a restore of db
// leaves behind: "<db>_pre_".
func PreRestorePrefix(db string) string { return db + "_pre_" }

// preRestoreLayouts are the timestamp forms read from a <db>_pre_ name.
var preRestoreLayouts = []string{"20060102_150405", "20060102T150405Z", "20060102T150405", "20060102150405", "2006_01_02_15_04_05", "20060102"}

var unixSeconds = regexp.MustCompile(`^\d{10}$`)

// PreRestoreTime reads when the restore happened from the database's name,
// nil when the name does not say.
func PreRestoreTime(db, name string) *time.Time {
	suffix, ok := strings.CutPrefix(name, PreRestorePrefix(db))
	if !ok {
		return nil
	}
	if unixSeconds.MatchString(suffix) {
		n, _ := strconv.ParseInt(suffix, 10, 64)
		t := time.Unix(n, 0).UTC()
		return &t
	}
	for _, l := range preRestoreLayouts {
		if t, err := time.Parse(l, suffix); err == nil {
			return &t
		}
	}
	return nil
}

// PreRestoreFindings judge the databases restores left behind: those past
// retention get a drop action, younger ones are listed with the time left.
func PreRestoreFindings(db string, dbs []PreRestoreDB, retention time.Duration, now time.Time) []Finding {
	if len(dbs) == 0 {
		return []Finding{{Area: AreaCleanup, Check: "pre-restore databases", Status: health.OK, Object: PreRestorePrefix(db) + "*", Runbook: rbRestoreDB,
			Summary: "none left by restores"}}
	}
	var fs []Finding
	for _, d := range dbs {
		f := Finding{Area: AreaCleanup, Check: "pre-restore databases", Status: health.OK, Object: d.Name, Runbook: rbRestoreDB}
		size := progress.Bytes(d.Bytes)
		if d.Bytes < 0 {
			size = "size unknown (no CONNECT privilege)"
		}
		f.Evidence = []string{"owner " + d.Owner, fmt.Sprintf("%d sessions connected", d.Sessions)}
		switch {
		case d.Taken == nil:
			f.Summary = size + "; its name does not say when it was made"
			f.Suggestion = fmt.Sprintf("check it is not needed, then DROP DATABASE %s;", d.Name)
		case now.Sub(*d.Taken) <= retention:
			f.Summary = fmt.Sprintf("%s, %s old: kept for %s more", size, health.ShortDuration(now.Sub(*d.Taken).Truncate(time.Hour)),
				health.ShortDuration((retention - now.Sub(*d.Taken)).Truncate(time.Hour)))
		default:
			f.Summary = fmt.Sprintf("%s, %s old, past the %s retention", size, health.ShortDuration(now.Sub(*d.Taken).Truncate(time.Hour)), health.ShortDuration(retention))
			f.Why = "the database before a restore is the undo of that restore; once the restore is trusted it only takes disk"
			f.Suggestion = "drop it (after confirmation, or --yes)"
			f.Action = &Action{Kind: ActDropDatabase, Database: d.Name, Label: fmt.Sprintf("DROP DATABASE %s (%s)", d.Name, size)}
			if d.Sessions > 0 {
				f.Evidence = append(f.Evidence, "sessions are connected: the drop will fail until they end")
			}
		}
		fs = append(fs, f)
	}
	return fs
}

// stillOld re-checks a listed file before deleting it: still a regular
// file of the same size and time, still past retention, still matching the
// pattern.
func stillOld(f FileRef, pattern string, retention time.Duration, now time.Time) error {
	if ok, _ := filepath.Match(expandHome(pattern), f.Path); !ok {
		return fmt.Errorf("%s no longer matches %s", f.Path, pattern)
	}
	info, err := os.Lstat(f.Path)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", f.Path, err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("%s is no longer a regular file", f.Path)
	case info.Size() != f.Size || !info.ModTime().Equal(f.ModTime):
		return fmt.Errorf("%s changed since it was listed (size or time): list again", f.Path)
	case now.Sub(info.ModTime()) <= retention:
		return fmt.Errorf("%s is not past retention", f.Path)
	}
	return nil
}
