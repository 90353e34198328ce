package backup

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/logging"
	"github.com/opsdeck/opsdeck/ops/logging/loggingtest"
)

func needIdentity(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("files are read back while written on Linux only")
	}
}

// writeStaged writes one file of set id into store through the codec.
func writeStaged(t *testing.T, store *LocalStore, id, name string, data []byte) File {
	t.Helper()
	w, err := Codec{Level: 3}.NewWriter(context.Background(), store, id, name, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	writeInPieces(t, w, data, 300000, 3)
	f, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A file read back while it was written is proved once, after its commit.
func TestLocalReadBackProves(t *testing.T) {
	needIdentity(t)
	store, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := NewID(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	// Incompressible and large: many read-back steps and writeback calls.
	noise := make([]byte, 5*writebackStep+777)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	big := writeStaged(t, store, id, "big", noise)
	small := writeStaged(t, store, id, "small", []byte("x"))
	empty := writeStaged(t, store, id, "empty", nil)
	if err := store.Commit(ctx, id, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []File{big, small, empty} {
		if !store.Proved(id, f) {
			t.Errorf("%s (%d bytes stored) was not proved", f.Name, f.Size)
		}
		if store.Proved(id, f) {
			t.Errorf("%s was proved twice", f.Name)
		}
	}
	// A manifest entry that is not what was read back is not proved.
	other := writeStaged(t, store, NewID(time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)), "big", content(1<<20, 2))
	bad := big
	bad.SHA256 = other.SHA256
	if store.Proved(id, bad) {
		t.Error("a file was proved against another file's checksum")
	}
}

// A file changed between its read-back and the check is not proved, even
// when its size and modification time are put back: its change time moved.
func TestLocalReadBackRefusesChangedFile(t *testing.T) {
	needIdentity(t)
	dir := t.TempDir()
	store, err := NewLocalStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := NewID(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	f := writeStaged(t, store, id, "dump", content(3<<20, 4))
	path := filepath.Join(store.staging(id), f.Name)
	flipByte(t, path, f.Size/2)
	if err := store.Commit(ctx, id, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if store.Proved(id, f) {
		t.Fatal("a file changed after its read-back was proved")
	}
	if err := HashFile(ctx, store, id, f, nil); !errors.Is(err, ErrChecksum) {
		t.Fatalf("re-reading the changed file: %v, want a checksum mismatch", err)
	}
}

// flipByte changes one byte of the file at path in place and puts its
// modification time back.
func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, at)
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// A backup through the engine (whose store is traced) takes the local
// store's read-back for its own.
func TestBackupUsesTheReadBack(t *testing.T) {
	needSandbox(t)
	needIdentity(t)
	ctx := accesstest.Admin(context.Background())
	cfg := testConfig(t)
	e := newEngine(t, cfg)
	logs := loggingtest.Capture(t, cfg.Secrets()...)
	res, err := e.Backup(ctx, Options{Kind: Database})
	if err != nil || !res.Verified {
		t.Fatalf("Backup: %v, verified %v", err, res.Verified)
	}
	if n := len(logs.Find(t, "backup.verify.file end", logging.KeySet, res.Manifest.ID, logging.KeyMode, "read back while written", logging.KeyOutcome, "ok")); n != 1 {
		t.Fatalf("%d files read back while written, want 1:\n%s", n, logs.String())
	}
}

// A database backup whose staged file is damaged after it was written and
// read back, just before the commit, is not reported verified: the file
// is re-read and the damage found.
func TestBackupReadBackCatchesDamageBeforeCommit(t *testing.T) {
	needSandbox(t)
	needIdentity(t)
	ctx := accesstest.Admin(context.Background())
	cfg := testConfig(t)
	e := newEngine(t, cfg)
	testHook = func(point string) {
		if point != "before-commit" {
			return
		}
		matches, _ := filepath.Glob(filepath.Join(cfg.Backup.Dir, stagingPrefix+"*", "database.dump.zst"))
		if len(matches) != 1 {
			t.Errorf("staged dumps: %v", matches)
			return
		}
		flipByte(t, matches[0], 100)
	}
	defer func() { testHook = nil }()
	res, err := e.Backup(ctx, Options{Kind: Database})
	if err == nil || !strings.Contains(err.Error(), "reading it back failed") || !strings.Contains(err.Error(), ErrChecksum.Error()) {
		t.Fatalf("Backup: %v, want a failed read-back", err)
	}
	if res.Verified {
		t.Fatal("a damaged set was reported verified")
	}
}
