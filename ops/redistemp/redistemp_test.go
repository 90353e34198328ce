package redistemp_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/redistemp"
)

func start(t *testing.T, opts redistemp.Options) *redistemp.Instance {
	t.Helper()
	if _, err := redistemp.ServerPath(""); errors.Is(err, redistemp.ErrNotInstalled) {
		t.Skip(err)
	}
	inst, err := redistemp.Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Remove() })
	return inst
}

func digest(t *testing.T, inst *redistemp.Instance) string {
	t.Helper()
	c := inst.Client(0)
	defer c.Close()
	d, err := c.Do(t.Context(), "DEBUG", "DIGEST").Text()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLoadsTheRDBExpiredKeysKept: a snapshot holding a key whose TTL
// passed since loads whole with KeepExpired (DEBUG DIGEST is the
// snapshot's own, computed by backup.DigestRDB), and without it the
// server drops that key; Remove kills the server and removes its
// directory; the hooks are told both.
func TestLoadsTheRDBExpiredKeysKept(t *testing.T) {
	ctx := accesstest.Admin(context.Background())
	src := start(t, redistemp.Options{})
	c := src.Client(4)
	if err := c.Set(ctx, "soon", "gone", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, "kept", "value", 0)
	c.HSet(ctx, "h", "f", "v")
	c.Close()
	var rdb bytes.Buffer
	if _, err := backup.SnapshotRDB(ctx, src.URL(0), &rdb, backup.RDBOptions{}); err != nil {
		t.Fatal(err)
	}
	want, _, err := backup.DigestRDB(bytes.NewReader(rdb.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)

	var dir string
	var pid int
	kept := start(t, redistemp.Options{RDB: bytes.NewReader(rdb.Bytes()), KeepExpired: true,
		Hooks: redistemp.Hooks{Dir: func(d string) error { dir = d; return nil }, Started: func(p int) { pid = p }}})
	if got := digest(t, kept); got != want.Dataset {
		t.Fatalf("KeepExpired: DEBUG DIGEST %s, the snapshot's %s", got, want.Dataset)
	}
	if dir != kept.Dir || pid != kept.PID() || pid == 0 {
		t.Fatalf("hooks: dir %q pid %d, instance %q %d", dir, pid, kept.Dir, kept.PID())
	}
	master := start(t, redistemp.Options{RDB: bytes.NewReader(rdb.Bytes())})
	if got := digest(t, master); got == want.Dataset {
		t.Fatal("a master kept the expired key")
	}
	if err := kept.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory left: %v", err)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Fatalf("server %d still runs", pid)
	}
}
