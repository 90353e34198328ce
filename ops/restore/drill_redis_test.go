package restore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/redistemp"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// redisDrillFixture is a Redis of its own (database 0 and 2, a key whose
// TTL passes before the drill) and a Redis backup of it.
type redisDrillFixture struct {
	t   *testing.T
	src *redistemp.Instance
	cfg *config.Config
	be  *backup.Engine
	set *backup.Manifest
}

func newRedisDrillFixture(t *testing.T) *redisDrillFixture {
	t.Helper()
	if _, err := redistemp.ServerPath(""); errors.Is(err, redistemp.ErrNotInstalled) {
		t.Skip(err)
	}
	ctx := accesstest.Admin(context.Background())
	src, err := redistemp.Start(ctx, redistemp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Remove() })
	c0, c2 := src.Client(0), src.Client(2)
	defer c0.Close()
	defer c2.Close()
	c0.Set(ctx, "session:1", "short-lived", 300*time.Millisecond)
	c0.HSet(ctx, "user:1", "name", "ada", "plan", "pro")
	c0.ZAdd(ctx, "leaders", zm(0.1, "ada"), zm(3, "bob"))
	c2.Set(ctx, "price:ACME", "100", 0)
	c2.RPush(ctx, "queue", "a", "b", "c")
	cfg := config.Default()
	cfg.Redis.URL = src.URL(0)
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	cfg.Restore.WorkDir = t.TempDir()
	be, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Audit.Close() })
	res, err := be.Backup(ctx, backup.Options{Kind: backup.Redis})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // session:1's TTL passes
	return &redisDrillFixture{t: t, src: src, cfg: cfg, be: be, set: res.Manifest}
}

func (f *redisDrillFixture) drill(id string) (*oprestore.Report, error) {
	f.t.Helper()
	ctx := accesstest.As(context.Background(), "test-operator", access.Operator)
	e := oprestore.New(f.be)
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Redis, ID: id, Drill: config.DrillInstance}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return e.Run(ctx, plan, nil)
}

func (f *redisDrillFixture) assertClean() {
	f.t.Helper()
	entries, _ := os.ReadDir(f.cfg.Restore.WorkDirIn(f.cfg.StateDir))
	for _, e := range entries {
		f.t.Errorf("left in the work directory: %s", e.Name())
	}
	if _, err := os.Stat(filepath.Join(f.cfg.StateDir, oprestore.DrillJournalName)); err == nil {
		f.t.Error("the drill journal is left")
	}
}

// handSet stores the snapshot data under a new ID with f.set's manifest
// (its recorded counts and digests) but for the file.
func (f *redisDrillFixture) handSet(id string, data []byte, edit func(*backup.Component)) {
	t := f.t
	ctx := context.Background()
	c, _ := f.set.Component(backup.Redis)
	w, err := backup.Codec{Level: 3}.NewWriter(ctx, f.be.Store, id, c.Files[0].Name, c.Files[0].Format, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	file, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := *f.set
	m.ID = id
	m.Components = []backup.Component{*c}
	m.Components[0].Files = []backup.File{file}
	if edit != nil {
		edit(&m.Components[0])
	}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.be.Store.Commit(ctx, id, enc); err != nil {
		t.Fatal(err)
	}
}

// TestDrillRedisProvenByDigest: the set loads into a temporary
// redis-server, expired key and all, whose DEBUG DIGEST is the one
// recorded at backup time; the history holds the drill; nothing is left.
func TestDrillRedisProvenByDigest(t *testing.T) {
	f := newRedisDrillFixture(t)
	rep, err := f.drill("latest")
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Steps)
	}
	d := rep.Drill
	if d.Outcome != oprestore.Proven || d.Proof != oprestore.ProofDigest || d.Rows != 5 || !d.Cleaned {
		t.Fatalf("%+v", d)
	}
	recs, err := oprestore.ReadDrills(f.cfg.StateDir)
	if err != nil || len(recs) != 1 || recs[0].Components[0] != "redis" || !recs[0].Proven() {
		t.Fatalf("history %+v %v", recs, err)
	}
	f.assertClean()
}

// TestDrillRedisAlteredValueFailsNamingTheDatabase: a set whose RDB has
// one value changed (the manifest's counts and digests those of the
// original) fails, naming database 2 and not 0.
func TestDrillRedisAlteredValueFailsNamingTheDatabase(t *testing.T) {
	f := newRedisDrillFixture(t)
	ctx := accesstest.Admin(context.Background())
	c2 := f.src.Client(2)
	c2.Set(ctx, "price:ACME", "101", 0)
	c2.Close()
	c0 := f.src.Client(0)
	c0.Set(ctx, "session:1", "short-lived", time.Hour) // the key the original held
	c0.Close()
	var rdb bytes.Buffer
	if _, err := backup.SnapshotRDB(ctx, f.src.URL(0), &rdb, backup.RDBOptions{}); err != nil {
		t.Fatal(err)
	}
	id := backup.NewID(f.set.Start.Add(time.Hour))
	f.handSet(id, rdb.Bytes(), nil)
	rep, err := f.drill(id)
	if err == nil {
		t.Fatal("the drill proved an altered set")
	}
	d := rep.Drill
	if d.Outcome != oprestore.Failing || !strings.Contains(err.Error(), "db2's digest") || strings.Contains(err.Error(), "db0") ||
		!slices.Contains(d.Differ, `db2 key "price:ACME"`) || strings.Contains(err.Error(), "queue") {
		t.Fatalf("err %v, result %+v", err, d)
	}
	f.assertClean()
}

// TestDrillRedisOldSetProvenByKeyCounts: a set recorded without digests
// is proven by its key counts, and says so.
func TestDrillRedisOldSetProvenByKeyCounts(t *testing.T) {
	f := newRedisDrillFixture(t)
	c, _ := f.set.Component(backup.Redis)
	rc, err := backup.OpenFile(context.Background(), f.be.Store, f.set.ID, c.Files[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	var data bytes.Buffer
	data.ReadFrom(rc)
	rc.Close()
	id := backup.NewID(f.set.Start.Add(2 * time.Hour))
	f.handSet(id, data.Bytes(), func(c *backup.Component) {
		r := *c.Redis
		r.Digest = nil
		c.Redis = &r
	})
	rep, err := f.drill(id)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Drill.Proof != oprestore.ProofKeyCounts || rep.Drill.Rows != 5 {
		t.Fatalf("%+v", rep.Drill)
	}
	f.assertClean()
}

func zm(score float64, member string) goredis.Z { return goredis.Z{Score: score, Member: member} }

// TestKilledRedisDrillIsCleanedByTheNext: a Redis drill killed (SIGKILL)
// once its server runs leaves the journal naming the server; the server
// died with it (parent-death signal), and the next drill removes its
// directory and says so.
func TestKilledRedisDrillIsCleanedByTheNext(t *testing.T) {
	f := newRedisDrillFixture(t)
	cfgPath := filepath.Join(t.TempDir(), "opsdeck.yaml")
	if err := f.cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=instance", "OPSDECK_RESTORE_TEST_CONFIG="+cfgPath,
		"OPSDECK_RESTORE_TEST_DRILL="+config.DrillInstance, "OPSDECK_RESTORE_TEST_DRILL_KIND="+oprestore.Redis)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the child was not killed: %v %s", err, stderr.String())
	}
	data, err := os.ReadFile(filepath.Join(f.cfg.StateDir, oprestore.DrillJournalName))
	if err != nil {
		t.Fatalf("no journal: %v", err)
	}
	var j oprestore.Journal
	if err := json.Unmarshal(data, &j); err != nil || j.RedisDrill == nil || j.RedisDrill.Instance == "" || j.RedisDrill.PID == 0 {
		t.Fatalf("journal %v %s", err, data)
	}
	rep, err := f.drill("latest")
	if err != nil {
		t.Fatalf("the next drill: %v", err)
	}
	if !strings.Contains(strings.Join(rep.Steps[0].Notes, "\n"), "did not finish: removing what it left") {
		t.Errorf("the next drill does not say it cleaned up: %v", rep.Steps[0].Notes)
	}
	if alive(j.RedisDrill.PID) {
		t.Errorf("the killed drill's redis-server (pid %d) still runs", j.RedisDrill.PID)
	}
	if _, err := os.Stat(j.RedisDrill.Instance); err == nil {
		t.Errorf("the killed drill's directory %s is left", j.RedisDrill.Instance)
	}
	f.assertClean()
}

// alive reports whether pid runs: a zombie (its parent died and PID 1
// does not reap it, as in some containers) does not.
func alive(pid int) bool {
	for range 50 { // the kernel's SIGKILL may still be on its way
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		if i := strings.LastIndexByte(string(st), ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
