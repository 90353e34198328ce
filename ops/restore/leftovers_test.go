package restore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsdeck/opsdeck/ops/config"
)

// Only <set id>.dump files are staged dumps; none is listed, nor removed,
// while a restore holds the journal's lock.
func TestStagedDumps(t *testing.T) {
	cfg := config.Default()
	cfg.StateDir = t.TempDir()
	dir := cfg.Restore.WorkDirIn(cfg.StateDir)
	os.MkdirAll(dir, 0o700)
	for _, name := range []string{"20261201_020000.dump", "notes.dump", "20261201_020000.txt"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600)
	}
	os.Mkdir(filepath.Join(dir, "20261202_020000.dump"), 0o700)
	got, err := StagedDumps(cfg)
	if err != nil || len(got) != 1 || filepath.Base(got[0].Path) != "20261201_020000.dump" {
		t.Fatalf("StagedDumps = %+v, %v", got, err)
	}
	if err := RemoveStagedDump(cfg, filepath.Join(dir, "notes.dump")); err == nil {
		t.Error("a file that is not a staged dump was removed")
	}
	if err := RemoveStagedDump(cfg, filepath.Join(t.TempDir(), "20261201_020000.dump")); err == nil {
		t.Error("a dump outside the work directory was removed")
	}

	l, err := lockJournal(cfg)
	if err != nil || l == nil {
		t.Fatalf("lock: %v", err)
	}
	if _, err := StagedDumps(cfg); !errors.Is(err, ErrRestoreRunning) {
		t.Errorf("while a restore runs: %v", err)
	}
	if err := RemoveStagedDump(cfg, got[0].Path); !errors.Is(err, ErrRestoreRunning) {
		t.Errorf("removed while a restore runs: %v", err)
	}
	l.Close()
	if err := RemoveStagedDump(cfg, got[0].Path); err != nil {
		t.Fatal(err)
	}
	if left, _ := StagedDumps(cfg); len(left) != 0 {
		t.Errorf("left: %+v", left)
	}
}
