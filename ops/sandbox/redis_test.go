package sandbox_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// requireRedisBinary skips when OPSDECK_SKIP_INTEGRATION=1 and fails
// loudly when redis-server is missing.
func requireRedisBinary(t *testing.T) {
	t.Helper()
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	if _, err := sandbox.RedisServerPath(); err != nil {
		t.Fatalf("%v\nrun `make deps` to install the test servers, or set OPSDECK_SKIP_INTEGRATION=1 to skip", err)
	}
}

func startRedis(t *testing.T, opts sandbox.RedisOptions) *sandbox.RedisServer {
	t.Helper()
	requireRedisBinary(t)
	srv, err := sandbox.StartRedis(t.Context(), opts)
	if err != nil {
		t.Fatalf("StartRedis: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return srv
}

func redisClient(t *testing.T, url string) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries, opts.DialerRetries = -1, 1
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisStartStop(t *testing.T) {
	srv := startRedis(t, sandbox.RedisOptions{Password: "sandbox-pw-123"})
	ctx := t.Context()
	if !strings.Contains(srv.URL(), ":sandbox-pw-123@") {
		t.Errorf("URL() lacks the password")
	}
	c := redisClient(t, srv.URL())
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with the password: %v", err)
	}
	cfg, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"save": "", "appendonly": "no", "maxmemory": "268435456", "maxmemory-policy": "allkeys-lru", "bind": "127.0.0.1",
	} {
		if cfg[k] != want {
			t.Errorf("config %s = %q, want %q", k, cfg[k], want)
		}
	}
	if err := redisClient(t, strings.Replace(srv.URL(), "sandbox-pw-123", "wrong", 1)).Ping(ctx).Err(); err == nil {
		t.Error("PING with a wrong password succeeded")
	}
	for _, arg := range procCmdline(srv.PID()) {
		if strings.Contains(arg, "sandbox-pw-123") {
			t.Error("the password is on the command line, visible in ps")
		}
	}

	tree := processTree(srv.PID())
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	assertGone(t, tree, srv.Dir)
}

func procCmdline(pid int) []string {
	data, _ := os.ReadFile("/proc/" + itoa(pid) + "/cmdline")
	return strings.Split(string(data), "\x00")
}

func TestRedisKillAndRestart(t *testing.T) {
	srv := startRedis(t, sandbox.RedisOptions{})
	ctx := t.Context()
	c := redisClient(t, srv.URL())
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING to a killed server succeeded")
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("after restart: %d keys, %v; want an empty server (nothing persisted)", n, err)
	}
}

func TestRedisFailedStartCleansUp(t *testing.T) {
	requireRedisBinary(t)
	base := t.TempDir()
	start := time.Now()
	_, err := sandbox.StartRedis(t.Context(), sandbox.RedisOptions{BaseDir: base, MaxMemory: "lots"})
	if err == nil {
		t.Fatal("StartRedis succeeded with maxmemory \"lots\"")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("failed start took %s", took)
	}
	if !strings.Contains(err.Error(), "maxmemory") {
		t.Errorf("error does not quote the log:\n%v", err)
	}
	if left, _ := os.ReadDir(base); len(left) > 0 {
		t.Errorf("failed start left %d entries in %s", len(left), base)
	}
}

func TestRedisSeed(t *testing.T) {
	srv := startRedis(t, sandbox.RedisOptions{})
	ctx := t.Context()
	c := redisClient(t, srv.URL())
	stats, err := sandbox.SeedRedis(ctx, c, 0)
	if err != nil {
		t.Fatalf("SeedRedis: %v", err)
	}
	t.Logf("seed: %+v", stats)

	for db, want := range stats.Keys {
		n, err := redisClient(t, srv.URLForDB(db)).DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("db %d: DBSIZE %d, stats say %d", db, n, want)
		}
	}
	if stats.Keys[0] == 0 || stats.Keys[1] == 0 {
		t.Errorf("keys per db = %v, want both 0 and 1", stats.Keys)
	}
	for _, kind := range []string{"string", "hash", "list", "set", "zset", "stream"} {
		if stats.ByType[kind] == 0 {
			t.Errorf("no %s keys", kind)
		}
	}

	// Sample keys have the type and the expiry their names promise.
	db0 := redisClient(t, srv.URLForDB(0))
	for key, want := range map[string]struct {
		kind string
		ttl  bool
	}{
		"stock:quote:AAPL":                 {"hash", true},
		"stock:meta:AAPL":                  {"string", false},
		"queue:tasks":                      {"list", false},
		"leaderboard:gainers":              {"zset", false},
		"events:prices":                    {"stream", false},
		"sector:technology:members":        {"set", false},
		"cache:analysis:AAPL:technical:20": {"string", true},
	} {
		kind, err := db0.Type(ctx, key).Result()
		if err != nil || kind != want.kind {
			t.Errorf("TYPE %s = %q, %v; want %s", key, kind, err, want.kind)
		}
		ttl, _ := db0.TTL(ctx, key).Result()
		if (ttl > 0) != want.ttl {
			t.Errorf("TTL %s = %s, want expiry %v", key, ttl, want.ttl)
		}
	}
	sessions, _ := db0.Keys(ctx, "session:*").Result()
	if len(sessions) == 0 || len(sessions[0]) != len("session:")+36 {
		t.Errorf("session keys = %v…, want session:<uuid>", first(sessions))
	}
	if n, _ := db0.XLen(ctx, "events:prices").Result(); n != stats.StreamEntries {
		t.Errorf("XLEN events:prices = %d, stats say %d", n, stats.StreamEntries)
	}

	var withTTL int64
	info, err := db0.Info(ctx, "keyspace", "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "db") {
			for _, kv := range strings.Split(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), ",") {
				if v, ok := strings.CutPrefix(kv, "expires="); ok {
					withTTL += atoi(v)
				}
			}
		}
	}
	if withTTL != stats.WithTTL {
		t.Errorf("INFO keyspace expires total %d, stats say %d", withTTL, stats.WithTTL)
	}
	if !strings.Contains(info, "keyspace_misses:"+itoa(int(stats.Misses))) {
		t.Errorf("INFO stats does not show the %d seeded misses", stats.Misses)
	}
}

func TestRedisSeedScale1(t *testing.T) {
	if testing.Short() {
		t.Skip("scale 1 writes about 10,000 keys")
	}
	srv := startRedis(t, sandbox.RedisOptions{})
	stats, err := sandbox.SeedRedis(context.Background(), redisClient(t, srv.URL()), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SeedRedis(scale 1) %s: %v keys, %d with TTL, %d stream entries", stats.Took.Round(time.Millisecond), stats.Keys, stats.WithTTL, stats.StreamEntries)
	if total := stats.Keys[0] + stats.Keys[1]; total < 5000 {
		t.Errorf("%d keys at scale 1", total)
	}
}

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}
