package restore_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// redisFixture is a seeded redis-server of its own (the restore flushes
// it), a backup store and a Redis backup set of it.
type redisFixture struct {
	t   *testing.T
	srv *sandbox.RedisServer
	cfg *config.Config
	be  *backup.Engine
	set *backup.Manifest
}

func newRedisFixture(t *testing.T) *redisFixture {
	t.Helper()
	needSandbox(t)
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), time.Minute)
	defer cancel()
	srv, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{Password: "fixture-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	f := &redisFixture{t: t, srv: srv}
	if _, err := sandbox.SeedRedis(ctx, f.client(0), 0); err != nil {
		t.Fatal(err)
	}
	// A few keys of its own: in another database, and one about to expire.
	f.must(f.client(4).Set(ctx, "db4:counter", 7, 0).Err())
	f.must(f.client(4).HSet(ctx, "db4:hash", "a", "1", "b", "2").Err())
	f.must(f.client(0).Set(ctx, "short-lived", "x", 1500*time.Millisecond).Err())

	cfg := *sb.Config
	cfg.Redis.URL = srv.URL()
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	f.cfg = &cfg
	be, err := backup.New(f.cfg, "test", f.cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Audit.Close() })
	f.be = be
	res, err := be.Backup(ctx, backup.Options{Kind: backup.Redis})
	if err != nil {
		t.Fatal(err)
	}
	f.set = res.Manifest
	return f
}

func (f *redisFixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// client returns a client of database db, closed after the test.
func (f *redisFixture) client(db int) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: f.srv.Addr(), Password: f.srv.Password, DB: db, ReadTimeout: 10 * time.Second})
	f.t.Cleanup(func() { c.Close() })
	return c
}

// keyValue is a key's type and content (independent of hash-table
// order) and its TTL.
type keyValue struct {
	value string
	ttl   time.Duration
}

// keyspace reads every key of every database.
func (f *redisFixture) keyspace() map[string]keyValue {
	t := f.t
	t.Helper()
	ctx := accesstest.Admin(context.Background())
	out := map[string]keyValue{}
	for db := range 16 {
		c := f.client(db)
		iter := c.Scan(ctx, 0, "*", 500).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			v := valueOf(t, c, k)
			if v == "none" {
				continue // expired since SCAN returned it
			}
			ttl := c.PTTL(ctx, k).Val()
			if ttl == -2 {
				continue // expired between its value and its TTL (PTTL's -2: no such key)
			}
			out[fmt.Sprintf("db%d %s", db, k)] = keyValue{value: v, ttl: ttl}
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// valueOf is a key's type and content (sandbox.RedisValue), "none" when
// it is missing.
func valueOf(t *testing.T, c *goredis.Client, key string) string {
	t.Helper()
	v, err := sandbox.RedisValue(accesstest.Admin(context.Background()), c, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sameKeyspace fails unless got holds the keys of want with the same
// values and TTLs within a minute. Keys of want with a TTL under two
// seconds may be gone.
func sameKeyspace(t *testing.T, what string, want, got map[string]keyValue) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		w := want[k]
		g, ok := got[k]
		switch {
		case !ok && w.ttl > 0 && w.ttl < 2*time.Second:
		case !ok:
			t.Errorf("%s: %s is missing", what, k)
		case g.value != w.value:
			t.Errorf("%s: %s is %.120s, want %.120s", what, k, g.value, w.value)
		case (g.ttl > 0) != (w.ttl > 0) || g.ttl-w.ttl > time.Minute || w.ttl-g.ttl > time.Minute:
			t.Errorf("%s: %s has TTL %v, want %v", what, k, g.ttl, w.ttl)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s should not be there", what, k)
		}
	}
	if len(want) < 300 {
		t.Errorf("%s: only %d keys compared", what, len(want))
	}
}

// change adds, deletes, modifies and re-times keys after the backup.
func (f *redisFixture) change() {
	ctx := accesstest.Admin(context.Background())
	c0, c1, c4 := f.client(0), f.client(1), f.client(4)
	f.must(c0.Set(ctx, "added:after-backup", "new", 0).Err())
	f.must(c1.Set(ctx, "added:with-ttl", "new", time.Hour).Err())
	f.must(f.client(9).SAdd(ctx, "added:other-db", "a", "b").Err())
	f.must(c4.Del(ctx, "db4:counter").Err())
	f.must(c4.HSet(ctx, "db4:hash", "a", "changed", "c", "3").Err())
	f.must(c0.RPush(ctx, "queue:tasks", "pushed-after-backup").Err())
	f.must(c0.Persist(ctx, "stock:quote:AAPL").Err())
	f.must(c0.ZIncrBy(ctx, "leaderboard:gainers", 1000, "NEWCO").Err())
	f.must(c0.XAdd(ctx, &goredis.XAddArgs{Stream: "events:prices", Values: []any{"symbol", "NEWCO"}}).Err())
}

// events collects a run's progress events.
type events struct {
	mu   sync.Mutex
	list []progress.Event
}

func (ev *events) fn() progress.Func {
	return func(e progress.Event) {
		ev.mu.Lock()
		ev.list = append(ev.list, e)
		ev.mu.Unlock()
	}
}

func checkOf(plan *oprestore.Plan, name string) (oprestore.Check, bool) {
	for _, c := range plan.Checks {
		if c.Component == oprestore.Redis && c.Name == name {
			return c, true
		}
	}
	return oprestore.Check{}, false
}

func stepResult(rep *oprestore.Report, name string) oprestore.StepResult {
	for _, s := range rep.Steps {
		if s.Name == name {
			return s
		}
	}
	return oprestore.StepResult{}
}

func TestRedisRestoreRoundTrip(t *testing.T) {
	f := newRedisFixture(t)
	ctx := accesstest.Admin(context.Background())
	backedUp := f.keyspace()
	if _, ok := backedUp["db0 short-lived"]; !ok {
		t.Fatal("the short-lived key is gone before the test could use it")
	}
	f.change()
	time.Sleep(1600 * time.Millisecond) // short-lived expires: the restore skips it

	e := oprestore.New(f.be)
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Redis}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Blocked(); err != nil {
		t.Fatal(err)
	}
	if plan.Confirm != "flushall" || plan.Target.Redis != f.srv.Addr() || plan.SetID != f.set.ID {
		t.Errorf("confirm %q, target %+v, set %s", plan.Confirm, plan.Target, plan.SetID)
	}
	for name, st := range map[string]health.Status{"reachable": health.OK, "rdb version": health.OK, "current keys": health.Warn, "memory": health.OK, "safety backup": health.OK} {
		c, ok := checkOf(plan, name)
		if !ok || c.Status != st {
			t.Errorf("check %q = %+v, want %v", name, c, st)
		}
		if strings.Contains(c.Detail, f.srv.Password) {
			t.Errorf("check %q shows the password: %s", name, c.Detail)
		}
	}
	if c, _ := checkOf(plan, "current keys"); !strings.Contains(c.Detail, "db9 1 keys") || !strings.Contains(c.Detail, "db0 ") {
		t.Errorf("current keys: %s", c.Detail)
	}
	// Backed up from and restored into the same release.
	if c, _ := checkOf(plan, "rdb version"); !regexp.MustCompile(`RDB version (\d+) \(Redis [0-9.]+, read from the file\); Redis [0-9.]+ reads up to (\d+) \(seen in a DUMP\)`).MatchString(c.Detail) {
		t.Errorf("rdb version: %s", c.Detail)
	}
	step, ok := plan.Step("redis.restore")
	if !ok || !strings.Contains(step.Title, "FLUSHALL") || step.Undo == "" {
		t.Fatalf("step = %+v", step)
	}
	if _, ok := plan.Step("redis.safety"); !ok {
		t.Fatal("no safety backup step")
	}

	// Small pipelines: many batches, databases changing inside and between them.
	oprestore.SetReplayBatch(t, 7, 4<<10)
	var ev events
	rep, err := e.Run(ctx, plan, ev.fn())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.SafetyBackup == "" {
		t.Fatalf("report: ok %v, safety %q", rep.OK, rep.SafetyBackup)
	}
	sameKeyspace(t, "after the restore", backedUp, f.keyspace())
	c, _ := f.set.Component(backup.Redis)
	notes := strings.Join(stepResult(rep, "redis.restore").Notes, "\n")
	for _, want := range []string{
		"FLUSHALL done", "1 skipped as already expired",
		fmt.Sprintf("db0: %d keys, the backup has %d (1 skipped as expired)", c.Redis.Keys[0]-1, c.Redis.Keys[0]),
		fmt.Sprintf("db1: %d keys, the backup has %d", c.Redis.Keys[1], c.Redis.Keys[1]),
		"db4: 2 keys, the backup has 2",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	var total int64
	for _, n := range c.Redis.Keys {
		total += n
	}
	var last progress.Event
	for _, e := range ev.list {
		if e.Kind == progress.Advance && e.Step == "redis.restore" {
			last = e
		}
	}
	if last.Total != total || last.Done != total {
		t.Errorf("last progress %d/%d, want %d/%d", last.Done, last.Total, total, total)
	}
}

func TestRedisRestoreFailureAfterFlushIsUndone(t *testing.T) {
	f := newRedisFixture(t)
	ctx := accesstest.Admin(context.Background())
	f.change()
	before := f.keyspace()
	e := oprestore.New(f.be)
	oprestore.SetHook(e, "after:redis.restore", func() error { return errors.New("injected failure") })
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Redis}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Run(ctx, plan, nil)
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err = %v", err)
	}
	if !rep.Undone {
		t.Fatalf("not undone: %+v", rep.Steps)
	}
	if s := stepResult(rep, "redis.restore"); s.State != oprestore.Failed || s.UndoErr != "" {
		t.Errorf("step = %+v", s)
	}
	sameKeyspace(t, "after the undo", before, f.keyspace())
}

func TestRedisRestoreVerificationCatchesWritesAndUndoes(t *testing.T) {
	f := newRedisFixture(t)
	ctx := accesstest.Admin(context.Background())
	f.change()
	before := f.keyspace()
	e := oprestore.New(f.be)
	// Something writes between the replay and its verification.
	oprestore.SetHook(e, "after:redis.restore", func() error {
		return f.client(2).Set(ctx, "written:during-restore", "x", 0).Err()
	})
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Redis}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Run(ctx, plan, nil)
	if err == nil || !strings.Contains(err.Error(), "db2: 1 keys, the backup has 0: 1 more than restored") {
		t.Fatalf("err = %v", err)
	}
	if !rep.Undone {
		t.Fatalf("not undone: %+v", rep.Steps)
	}
	sameKeyspace(t, "after the undo", before, f.keyspace())
}

func TestRedisRestoreFailureBeforeFlushChangesNothing(t *testing.T) {
	f := newRedisFixture(t)
	ctx := accesstest.Admin(context.Background())
	f.change()
	before := f.keyspace()
	e := oprestore.New(f.be)
	oprestore.SetHook(e, "before:redis.restore", func() error { return errors.New("injected before the flush") })
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Redis, NoSafetyBackup: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Run(ctx, plan, nil)
	if err == nil || !rep.Undone {
		t.Fatalf("err = %v, undone %v", err, rep.Undone)
	}
	sameKeyspace(t, "after a failure before the flush", before, f.keyspace())
}

func TestRedisRestoreWithoutSafetyBackupCannotUndo(t *testing.T) {
	f := newRedisFixture(t)
	ctx := accesstest.Admin(context.Background())
	f.change()
	e := oprestore.New(f.be)
	oprestore.SetHook(e, "after:redis.restore", func() error { return errors.New("injected failure") })
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Redis, NoSafetyBackup: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := checkOf(plan, "safety backup"); !ok || c.Status != health.Warn || !strings.Contains(c.Detail, "cannot be put back") {
		t.Errorf("safety check = %+v", c)
	}
	if _, ok := plan.Step("redis.safety"); ok {
		t.Error("a safety backup step although it was skipped")
	}
	rep, err := e.Run(ctx, plan, nil)
	if err == nil || rep.Undone {
		t.Fatalf("err = %v, undone %v", err, rep.Undone)
	}
	if s := stepResult(rep, "redis.restore"); !strings.Contains(s.UndoErr, "safety backup was skipped") {
		t.Errorf("undo error = %q", s.UndoErr)
	}
}

func TestRedisRestoreDamagedSetRefusedAtPreflight(t *testing.T) {
	f := newRedisFixture(t)
	ctx := accesstest.Admin(context.Background())
	c, _ := f.set.Component(backup.Redis)
	path := filepath.Join(f.cfg.Backup.Dir, f.set.ID, c.Files[0].Name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f.change()
	before := f.keyspace()
	e := oprestore.New(f.be)
	plan, err := e.Prepare(ctx, oprestore.Options{Kind: oprestore.Redis, ID: f.set.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Blocked() == nil {
		t.Fatalf("not blocked: %+v", plan.Checks)
	}
	if _, err := e.Run(ctx, plan, nil); err == nil {
		t.Fatal("the run went on")
	}
	sameKeyspace(t, "after a refused restore", before, f.keyspace())
}

func TestRedisRestoreUnreachableAndUnconfigured(t *testing.T) {
	f := newRedisFixture(t)
	ctx := accesstest.Admin(context.Background())
	if err := f.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	plan, err := oprestore.New(f.be).Prepare(ctx, oprestore.Options{Kind: oprestore.Redis}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := checkOf(plan, "reachable")
	if !ok || c.Status != health.Crit || !strings.Contains(c.Detail, f.srv.Addr()) || strings.Contains(c.Detail, f.srv.Password) {
		t.Errorf("reachable = %+v", c)
	}
	if plan.Blocked() == nil {
		t.Error("not blocked")
	}

	f.cfg.Redis.URL = ""
	if _, err := oprestore.New(f.be).Prepare(ctx, oprestore.Options{Kind: oprestore.Redis}, nil); err == nil || !strings.Contains(err.Error(), "redis.url is not configured") {
		t.Fatalf("err = %v", err)
	}
}
