package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// StagedDump is a decompressed dump a database restore staged in the work
// directory and never removed: its run was killed while pg_restore read it.
type StagedDump struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

// ErrRestoreRunning is returned while a restore or its recovery runs: its
// staged dump is in use.
var ErrRestoreRunning = errors.New("a restore or recovery is running: its staged dump is in use")

// StagedDumps lists the dumps left in cfg's work directory, oldest first.
// While a restore or recovery runs it returns ErrRestoreRunning: what it
// stages is not a leftover.
func StagedDumps(cfg *config.Config) ([]StagedDump, error) {
	if running(cfg) {
		return nil, ErrRestoreRunning
	}
	dir := cfg.Restore.WorkDirIn(cfg.StateDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the restore work directory: %w", err)
	}
	var out []StagedDump
	for _, e := range entries {
		if !isStagedName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, StagedDump{Path: filepath.Join(dir, e.Name()), Size: info.Size(), ModTime: info.ModTime()})
	}
	slices.SortFunc(out, func(a, b StagedDump) int { return a.ModTime.Compare(b.ModTime) })
	return out, nil
}

// RemoveStagedDump removes a dump StagedDumps listed, after checking
// again that it is a staged dump of the work directory and that no restore
// runs.
func RemoveStagedDump(cfg *config.Config, path string) error {
	dir := cfg.Restore.WorkDirIn(cfg.StateDir)
	if filepath.Dir(filepath.Clean(path)) != filepath.Clean(dir) || !isStagedName(filepath.Base(path)) {
		return fmt.Errorf("%s is not a dump staged in the restore work directory %s", path, dir)
	}
	if running(cfg) {
		return ErrRestoreRunning
	}
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return os.Remove(path)
}

// stagedPath is where a restore of set id stages its dump.
func stagedPath(cfg *config.Config, id string) string {
	return filepath.Join(cfg.Restore.WorkDirIn(cfg.StateDir), id+stagedExt)
}

const stagedExt = ".dump"

// isStagedName reports whether name is a staged dump's: <set id>.dump.
func isStagedName(name string) bool {
	id, ok := strings.CutSuffix(name, stagedExt)
	return ok && backup.ValidID(id)
}

// running reports whether a restore or recovery holds the journal's lock.
// It asks for a shared lock, which a run's exclusive lock refuses, and lets
// go of it at once.
func running(cfg *config.Config) bool {
	f, err := os.Open(journalLockPath(cfg))
	if err != nil {
		return false // no lock file: no run has started here
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// removeStaged removes the dump a killed restore of set id staged, saying
// so (a dump may be hundreds of megabytes).
func removeStaged(cfg *config.Config, id string, p progress.Func) {
	path := stagedPath(cfg, id)
	info, err := os.Lstat(path)
	if err != nil || !info.Mode().IsRegular() {
		return
	}
	if err := os.Remove(path); err != nil {
		p.Emit(progress.Event{Kind: progress.Warn, Op: OpUndo, Message: fmt.Sprintf("could not remove the staged dump %s: %v — remove it by hand", path, err)})
		return
	}
	p.Emit(progress.Event{Kind: progress.Info, Op: OpUndo, Message: fmt.Sprintf("removed the staged dump %s (%s)", path, progress.Bytes(info.Size()))})
}
