package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/redis"
)

func TestKeyPrefix(t *testing.T) {
	tests := []struct {
		key, sep string
		depth    int
		want     string
	}{
		{"stock:quote:AAPL", ":", 2, "stock:quote"},
		{"stock:quote:AAPL", ":", 1, "stock"},
		{"session:3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", ":", 2, "session"},
		{"cache:analysis:AAPL:technical:20", ":", 2, "cache:analysis"},
		{"cache:analysis:AAPL:technical:20", ":", 3, "cache:analysis:AAPL"},
		{"user:123:watchlist", ":", 2, "user:*"},
		{"user:123:watchlist", ":", 1, "user"},
		{"ratelimit:api:10.0.0.7", ":", 2, "ratelimit:api"},
		{"task:result:deadbeef0123", ":", 3, "task:result"},
		{"tenant:deadbeef0123:jobs:1", ":", 3, "tenant:*:jobs"},
		{"leaderboard:gainers", ":", 2, "leaderboard"},
		{"counter", ":", 2, redis.NoPrefix},
		{"a/b/c", "/", 2, "a/b"},
		{"a::b::c", "::", 2, "a::b"},
		{"feed:face:1", ":", 2, "feed:face"}, // hex letters alone are a name
		{":x", ":", 2, ""},
	}
	for _, tc := range tests {
		if got := redis.KeyPrefix(tc.key, tc.sep, tc.depth); got != tc.want {
			t.Errorf("KeyPrefix(%q, %q, %d) = %q, want %q", tc.key, tc.sep, tc.depth, got, tc.want)
		}
	}
}

// plantKeyspace fills database db with n small keys of known prefixes and
// TTLs plus one planted big key of every type, and empties it after the test.
// It returns the expected keys per prefix.
func plantKeyspace(t testing.TB, c *goredis.Client, db, n int) map[string]int {
	t.Helper()
	ctx := context.Background()
	conn := c.EphemeralConn()
	t.Cleanup(func() {
		conn.Select(context.Background(), db)
		conn.FlushDB(context.Background())
		conn.Close()
	})
	if err := conn.Select(ctx, db).Err(); err != nil {
		t.Fatal(err)
	}
	if err := conn.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	quotes, users := n*6/10, n/4
	limits := n - quotes - users - 6
	pipe := conn.Pipeline()
	flush := func(force bool) {
		if pipe.Len() >= 2000 || (force && pipe.Len() > 0) {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	value := strings.Repeat("q", 40)
	for i := range quotes {
		ttl := 30 * time.Minute
		if i%2 == 1 {
			ttl = 48 * time.Hour
		}
		pipe.Set(ctx, fmt.Sprintf("cache:quote:S%06d", i), value, ttl)
		flush(false)
	}
	want["cache:quote"] = quotes
	for i := range users {
		pipe.HSet(ctx, fmt.Sprintf("user:%d:profile", i), "name", "n", "plan", "free")
		flush(false)
	}
	want["user:*"] = users
	for i := range limits {
		pipe.Set(ctx, fmt.Sprintf("ratelimit:api:10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "1", 5*24*time.Hour)
		flush(false)
	}
	want["ratelimit:api"] = limits
	flush(true)
	// The planted biggest key of each type.
	pipe.Set(ctx, "big:string", strings.Repeat("x", 1<<20), 0)
	members := make([]any, 0, 20000)
	for i := range 20000 {
		members = append(members, fmt.Sprintf("member-%05d", i))
	}
	pipe.RPush(ctx, "big:list", members...)
	pipe.SAdd(ctx, "big:set", members...)
	fields := make([]any, 0, 20000)
	for i := range 10000 {
		fields = append(fields, fmt.Sprintf("f%05d", i), "value-value-value")
	}
	pipe.HSet(ctx, "big:hash", fields...)
	z := make([]goredis.Z, 0, 10000)
	for i := range 10000 {
		z = append(z, goredis.Z{Score: float64(i), Member: fmt.Sprintf("m%05d", i)})
	}
	pipe.ZAdd(ctx, "big:zset", z...)
	for i := range 3000 {
		pipe.XAdd(ctx, &goredis.XAddArgs{Stream: "big:stream", Values: []any{"i", i, "pad", value}})
	}
	flush(true)
	want["big"] = 6
	return want
}

func analysisClient(t *testing.T) *goredis.Client {
	requireServer(t)
	return newClient(t, server.URL(), 5*time.Second)
}

func TestAnalyzeKeyspaceFindsPlantedKeys(t *testing.T) {
	c := analysisClient(t)
	const n, db = 200000, 7
	want := plantKeyspace(t, c, db, n)
	var last redis.KeyspaceProgress
	calls := 0
	a, err := redis.AnalyzeKeyspace(t.Context(), c, redis.KeyspaceOptions{
		DBs: []int{db}, Separator: ":", PrefixDepth: 2, MemorySamples: 0, TopKeys: 3,
		Progress: func(p redis.KeyspaceProgress) { last = p; calls++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Complete() || a.MemoryUnavailable != "" {
		t.Fatalf("analysis incomplete: cursor %v, memory %q", a.Cursor, a.MemoryUnavailable)
	}
	// SCAN may return a key twice while the table is rehashed: allow 1%.
	within := func(got int64, want int) bool { return got >= int64(want) && got <= int64(want)*101/100+1 }
	if !within(a.Keys, n) {
		t.Errorf("Keys = %d, want %d", a.Keys, n)
	}
	for p, w := range want {
		b := a.Prefixes[p]
		if b == nil || !within(b.Keys, w) {
			t.Errorf("prefix %q: %+v, want %d keys", p, b, w)
		}
	}
	if len(a.Prefixes) != len(want) {
		t.Errorf("prefixes: %v", keysOf(a.Prefixes))
	}
	for typ, key := range map[string]string{
		"string": "big:string", "list": "big:list", "set": "big:set", "hash": "big:hash", "zset": "big:zset", "stream": "big:stream",
	} {
		ts := a.ByType[typ]
		if ts == nil || len(ts.Top) == 0 || ts.Top[0].Key != key {
			t.Errorf("biggest %s: %+v, want %s", typ, ts, key)
			continue
		}
		if ts.Top[0].Length <= 0 || ts.Top[0].DB != db {
			t.Errorf("biggest %s: %+v, want its length read", typ, ts.Top[0])
		}
	}
	if s := a.ByType["string"].Top[0]; s.Bytes < 1<<20 || s.Length != 1<<20 {
		t.Errorf("big:string = %+v, want ≥ 1 MiB", s)
	}
	if a.NoTTLTop[0].Key != "big:string" {
		t.Errorf("biggest key without TTL = %+v", a.NoTTLTop[0])
	}
	quotes := want["cache:quote"]
	if !within(a.TTL.UnderHr.Keys, quotes/2) || !within(a.TTL.UnderWk.Keys, quotes/2+want["ratelimit:api"]) ||
		!within(a.TTL.None.Keys, want["user:*"]+6) || a.TTL.UnderDay.Keys != 0 || a.TTL.Longer.Keys != 0 {
		t.Errorf("TTL buckets = %+v", a.TTL)
	}
	if a.Prefixes["user:*"].NoTTL != a.Prefixes["user:*"].Keys || a.Prefixes["cache:quote"].NoTTL != 0 {
		t.Errorf("no-TTL counts: %+v %+v", a.Prefixes["user:*"], a.Prefixes["cache:quote"])
	}
	var sum int64
	for _, ts := range a.ByType {
		sum += ts.Bytes
	}
	if sum != a.Bytes || a.Bytes < 4<<20 {
		t.Errorf("bytes by type %d, total %d", sum, a.Bytes)
	}
	if calls == 0 || last.Total != int64(n) || last.Scanned < int64(n) || last.Fraction() != 1 {
		t.Errorf("progress: %d calls, last %+v", calls, last)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAnalyzeKeyspaceResumes(t *testing.T) {
	c := analysisClient(t)
	const n, db = 20000, 8
	plantKeyspace(t, c, db, n)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	part, err := redis.AnalyzeKeyspace(ctx, c, redis.KeyspaceOptions{
		DBs: []int{db}, ScanCount: 500,
		Progress: func(p redis.KeyspaceProgress) {
			if p.Scanned >= n/3 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled analysis returned %v", err)
	}
	if part.Complete() || part.Keys == 0 || part.Keys >= n {
		t.Fatalf("partial analysis: complete %v, %d keys", part.Complete(), part.Keys)
	}
	if !strings.HasPrefix(part.Cursor.String(), "db8 ") {
		t.Errorf("cursor %s", part.Cursor)
	}
	full, err := redis.AnalyzeKeyspace(t.Context(), c, redis.KeyspaceOptions{Resume: part})
	if err != nil {
		t.Fatal(err)
	}
	if !full.Complete() || full.Keys < n || full.Keys > n*101/100 {
		t.Errorf("resumed analysis: complete %v, %d keys, want %d", full.Complete(), full.Keys, n)
	}
	if full.ByType["string"].Top[0].Key != "big:string" {
		t.Errorf("biggest string after resume: %+v", full.ByType["string"].Top)
	}
	if _, err := redis.AnalyzeKeyspace(t.Context(), c, redis.KeyspaceOptions{Resume: full}); err == nil {
		t.Error("resuming a complete analysis succeeded")
	}
}

func TestAnalyzeKeyspaceRateLimit(t *testing.T) {
	c := analysisClient(t)
	const n, db, limit = 3000, 9, 20000
	plantKeyspace(t, c, db, n)
	start := time.Now()
	a, err := redis.AnalyzeKeyspace(t.Context(), c, redis.KeyspaceOptions{DBs: []int{db}, MaxOpsPerSec: limit})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	// The pacer sleeps before each batch: the commands sent before the last
	// batch must have taken at least their share of a second.
	if rate := float64(a.Ops) / took.Seconds(); rate > limit*1.5 {
		t.Errorf("%d commands in %s = %.0f/s, cap %d", a.Ops, took, rate, limit)
	}
	if took < time.Duration(float64(a.Ops-2000)/limit*float64(time.Second)) {
		t.Errorf("%d commands took only %s", a.Ops, took)
	}
}

func TestAnalyzeKeyspaceWithoutMemoryUsage(t *testing.T) {
	c := analysisClient(t)
	const db = 10
	plantKeyspace(t, c, db, 600)
	ctx := t.Context()
	if err := c.Do(ctx, "ACL", "SETUSER", "nomem", "on", ">nomem-pass-1", "~*", "+@all", "-memory").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Do(context.Background(), "ACL", "DELUSER", "nomem") })
	limited := newClient(t, "redis://nomem:nomem-pass-1@"+server.Addr(), 5*time.Second)
	a, err := redis.AnalyzeKeyspace(ctx, limited, redis.KeyspaceOptions{DBs: []int{db}})
	if err != nil {
		t.Fatal(err)
	}
	if a.MemoryUnavailable == "" || !strings.Contains(a.MemoryUnavailable, "+memory") || a.Keys < 600 || a.Bytes != 0 {
		t.Errorf("without MEMORY USAGE: %q, %d keys, %d bytes", a.MemoryUnavailable, a.Keys, a.Bytes)
	}
}

func TestAnalyzeKeyspaceUnreachable(t *testing.T) {
	c, err := redis.NewClient("redis://127.0.0.1:1/0", 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = redis.AnalyzeKeyspace(t.Context(), c, redis.KeyspaceOptions{})
	if redis.Classify(err) != redis.KindUnreachable {
		t.Errorf("err = %v", err)
	}
}
