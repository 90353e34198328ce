package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/lockfile"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// wantLocked checks that err is the store lock's refusal naming every one
// of the holders' actions and users.
func wantLocked(t *testing.T, what string, err error, names ...string) *LockedError {
	t.Helper()
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || !errors.Is(err, lockfile.ErrLocked) {
		t.Fatalf("%s: %v, want the store lock's refusal", what, err)
	}
	for _, n := range append(names, fmt.Sprintf("pid %d", os.Getpid()), "since") {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("%s: %q lacks %q", what, err, n)
		}
	}
	return le
}

// The three uses of the store lock against each other, on a bare store.
func TestLockModel(t *testing.T) {
	st, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	take := func(use LockUse, action, user string) *Lock {
		t.Helper()
		l, err := AcquireLockFor(st, use, action, user)
		if err != nil {
			t.Fatalf("%s for %s: %v", use, action, err)
		}
		t.Cleanup(func() { l.Release() })
		return l
	}
	try := func(use LockUse) error {
		l, err := AcquireLockFor(st, use, "contender", "zed")
		l.Release()
		return err
	}

	// Readers beside each other and beside a backup.
	r1 := take(LockReader, "plain verify", "alice")
	r2 := take(LockReader, "drill database", "bob")
	b := take(LockBackup, "backup database", "carol")
	if r1.Use() != LockReader || b.Use() != LockBackup || !b.Held() {
		t.Fatal("uses")
	}
	// A second backup is refused by the backup lock, naming the first.
	le := wantLocked(t, "second backup", try(LockBackup), "backup database is running", "carol", "wait for it to finish")
	if le.Path != BackupLockPath(st) || le.Holder.Action != "backup database" {
		t.Errorf("refused by %s, holder %+v", le.Path, le.Holder)
	}
	// Prune or restore: refused, naming every holder of the store lock.
	le = wantLocked(t, "exclusive beside readers and a backup", try(LockExclusive),
		"plain verify is running", "alice", "drill database is running", "bob", "backup database is running", "wait for them to finish")
	if len(le.Holders) != 3 || le.Actions() != "plain verify, drill database, backup database" {
		t.Errorf("holders %q", le.Actions())
	}
	r1.Release()
	r2.Release()
	b.Release()
	b.Release() // twice is safe
	if b.Held() {
		t.Fatal("released lock still held")
	}

	// The store to itself: nothing beside it.
	x := take(LockExclusive, "prune", "dora")
	for _, use := range []LockUse{LockReader, LockBackup, LockExclusive} {
		le := wantLocked(t, use.String()+" beside prune", try(use), "prune is running", "dora")
		if le.Path != st.LockPath() {
			t.Errorf("%s refused by %s", use, le.Path)
		}
	}
	// A backup refused by the store lock does not keep the backup lock.
	x.Release()
	take(LockBackup, "backup redis", "erin").Release()
	if _, err := AcquireLockFor(st, 0, "x", "y"); err == nil || errors.Is(err, ErrLocked) {
		t.Errorf("unknown use: %v", err)
	}
}

// A verify runs while a backup holds its locks (the verify is started from
// the backup's progress, so the backup is mid-run), and a prune or a
// second backup started from the verify's progress is refused, naming the
// verify; a backup runs beside the verify.
func TestLockModelEngine(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	e := newEngine(t, testConfig(t))
	first, err := e.Backup(ctx, Options{Kind: Redis})
	if err != nil {
		t.Fatal(err)
	}

	var once sync.Once
	var verifyErr, secondBackupErr error
	var verified []VerifyResult
	_, err = e.Backup(ctx, Options{Kind: Redis, Progress: func(ev progress.Event) {
		once.Do(func() {
			verified, verifyErr = e.Verify(ctx, VerifyOptions{IDs: []string{first.Manifest.ID}})
			_, secondBackupErr = e.Backup(ctx, Options{Kind: Redis})
		})
	}})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if verifyErr != nil || len(verified) != 1 || !verified[0].OK {
		t.Fatalf("verify during a backup: %v %+v", verifyErr, verified)
	}
	wantLocked(t, "two backups", secondBackupErr, "backup redis is running")

	var pruneErr, backupErr error
	var backupRes Result
	once = sync.Once{}
	_, err = e.Verify(ctx, VerifyOptions{All: true, Progress: func(ev progress.Event) {
		once.Do(func() {
			_, pruneErr = e.Prune(ctx, PruneOptions{})
			backupRes, backupErr = e.Backup(ctx, Options{Kind: Redis})
		})
	}})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	wantLocked(t, "prune during a verify", pruneErr, "plain verify is running", "wait for it to finish, or check that pid")
	if backupErr != nil || backupRes.Manifest == nil {
		t.Fatalf("backup during a verify: %v", backupErr)
	}

	// A restore's safety backup runs under the restore's exclusive lock;
	// a reader's lock is not enough to run a backup under.
	reader, err := e.LockStoreFor(ctx, LockReader, "drill database")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Release()
	if _, err := e.Backup(ctx, Options{Kind: Redis, HeldLock: reader}); err == nil || !strings.Contains(err.Error(), "reader") {
		t.Fatalf("backup under a reader's lock: %v", err)
	}
	wantLocked(t, "prune beside a drill", func() error { _, err := e.Prune(ctx, PruneOptions{}); return err }(), "drill database is running")
}
