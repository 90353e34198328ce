package restore_test

import (
	"context"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/sandbox"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	"github.com/opsdeck/opsdeck/tui/restore"
)

// TestRealEngineRedisRestore walks the tab through a Redis restore with
// the real engine (ops/restore over ops/backup) against a throwaway
// redis-server: the key written after the backup is gone, the key deleted
// after it is back, and the summary names the safety backup and the
// report written on disk.
func TestRealEngineRedisRestore(t *testing.T) {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 2*time.Minute)
	defer cancel()
	srv, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{Password: "tab-test-secret"})
	if err != nil {
		t.Fatalf("start redis-server (make deps installs it): %v", err)
	}
	t.Cleanup(func() { srv.Stop() })
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: srv.Password})
	defer rc.Close()
	for _, k := range []string{"price:AAPL", "price:MSFT", "session:42"} {
		if err := rc.Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	cfg := config.Default()
	cfg.Redis.URL = srv.URL()
	cfg.Backup.Dir = filepath.Join(t.TempDir(), "store")
	cfg.StateDir = t.TempDir()
	be, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Audit.Close() })
	res, err := be.Backup(ctx, backup.Options{Kind: backup.Redis})
	if err != nil {
		t.Fatal(err)
	}
	// Changes after the backup, which the restore takes back.
	rc.Set(ctx, "written-after-backup", "x", 0)
	rc.Del(ctx, "session:42")

	c := tuitest.Common()
	c.Config, c.Now = cfg, time.Now
	tab := restore.New(c, restore.Sources{Engine: restore.FromBackup(func() (*backup.Engine, error) { return be, nil }), Frame: -1})
	tab.SetSize(120, 38)
	var ct common.Tab = tuitest.Drive(t, tab, tab.Init(), time.Second)
	ct = tuitest.Press(t, ct, time.Second, "down", "enter") // redis
	if v := view(ct); !strings.Contains(v, res.Manifest.ID) {
		t.Fatalf("the set is not listed:\n%s", v)
	}
	ct = tuitest.Press(t, ct, 30*time.Second, "enter", "enter") // options, preflight
	v := view(ct)
	t.Logf("preflight:\n%s", v)
	if !strings.Contains(v, "Ready.") || !strings.Contains(v, "redis.restore") || !strings.Contains(v, "redis.safety") {
		t.Fatalf("preflight:\n%s", v)
	}
	ct = tuitest.Press(t, ct, time.Second, "enter")
	ct = tuitest.Press(t, ct, 200*time.Millisecond, typed("flushall")...)
	ct, cmd := ct.Update(tuitest.Key("enter"))
	if got := c.Tasks.Running(); len(got) != 1 {
		t.Errorf("the run is not registered: %+v", got)
	}
	for n := 0; cmd != nil && n < 100000; n++ {
		msgs := tuitest.Run(cmd, time.Minute)
		cmd = nil
		var cmds []tea.Cmd
		for _, m := range msgs {
			var next tea.Cmd
			ct, next = ct.Update(m)
			cmds = append(cmds, next)
		}
		cmd = tea.Batch(cmds...)
	}
	v = view(ct)
	t.Logf("summary:\n%s", v)
	if !strings.Contains(v, "✓ Done in") {
		t.Fatalf("summary:\n%s", v)
	}
	rest := v[strings.Index(v, "report"):]
	path := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(rest, "report"), "\n", 2)[0])
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the report %q named in the summary: %v", path, err)
	}
	if !strings.Contains(v, "safety    backup ") {
		t.Errorf("no safety backup in the summary:\n%s", v)
	}
	if n, _ := rc.Exists(ctx, "written-after-backup").Result(); n != 0 {
		t.Error("the key written after the backup survived the restore")
	}
	if got, _ := rc.Get(ctx, "session:42").Result(); got != "v-session:42" {
		t.Errorf("session:42 = %q after the restore", got)
	}
	if len(c.Tasks.Running()) != 0 {
		t.Error("the run is still registered")
	}
}
