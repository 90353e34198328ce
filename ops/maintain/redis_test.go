package maintain

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/redis"
)

func analysis() *redis.KeyspaceAnalysis {
	a := &redis.KeyspaceAnalysis{
		Separator: ":", PrefixDepth: 2, MemorySamples: 5, Keys: 1003, Bytes: 30 << 20, Took: time.Second,
		ByType: map[string]*redis.TypeStats{
			"string": {Bucket: redis.Bucket{Keys: 1000, Bytes: 5 << 20}, Top: []redis.KeyInfo{{DB: 0, Key: "cache:quote:AAPL", Type: "string", Bytes: 4096, TTL: time.Minute, Length: 3000}}},
			"list":   {Bucket: redis.Bucket{Keys: 3, Bytes: 25 << 20}, Top: []redis.KeyInfo{{DB: 1, Key: "queue:tasks", Type: "list", Bytes: 24 << 20, TTL: -1, Length: 200000}}},
		},
		Prefixes: map[string]*redis.Bucket{"cache:quote": {Keys: 1000, Bytes: 5 << 20}, "queue": {Keys: 3, Bytes: 25 << 20, NoTTL: 3}},
		NoTTLTop: []redis.KeyInfo{{DB: 1, Key: "queue:tasks", Type: "list", Bytes: 24 << 20, TTL: -1, Length: 200000}},
	}
	a.TTL.UnderHr = redis.Bucket{Keys: 1000, Bytes: 5 << 20}
	a.TTL.None = redis.Bucket{Keys: 3, Bytes: 25 << 20, NoTTL: 3}
	return a
}

func TestKeyspaceFindings(t *testing.T) {
	snap := redis.Snapshot{MaxMemoryPolicy: "allkeys-lru"}
	fs := KeyspaceFindings(analysis(), snap)
	big := find(fs, "big key")
	if len(big) != 1 || big[0].Object != "db1 queue:tasks" || big[0].Status != health.Warn || !strings.Contains(big[0].Summary, "200,000 elements") {
		t.Errorf("big keys: %+v", big)
	}
	top := find(fs, "biggest keys")
	if len(top) != 1 || len(top[0].Evidence) != 2 || !strings.HasPrefix(top[0].Evidence[0], "list: queue:tasks in db1") {
		t.Errorf("biggest keys: %+v", top)
	}
	pre := find(fs, "prefixes")
	if len(pre) != 1 || !strings.HasPrefix(pre[0].Evidence[0], "queue: 3 keys, 25.0 MiB (83%)") {
		t.Errorf("prefixes: %+v", pre)
	}
	if n := find(fs, "keys without TTL"); len(n) != 1 || n[0].Status != health.OK {
		t.Errorf("no TTL with allkeys-lru: %+v", n)
	}
	a := analysis()
	a.TTL.None.Keys, a.TTL.UnderHr.Keys = 900, 103
	if n := find(KeyspaceFindings(a, redis.Snapshot{MaxMemoryPolicy: "volatile-lru"}), "keys without TTL"); len(n) != 1 || n[0].Status != health.Warn {
		t.Errorf("no TTL with volatile-lru: %+v", n)
	}
	a.MemoryUnavailable = "MEMORY USAGE refused (NOPERM)"
	if n := find(KeyspaceFindings(a, snap), "key sizes"); len(n) != 1 || !n[0].NA {
		t.Errorf("without MEMORY USAGE: %+v", n)
	}
}

func TestRedisInfoFindings(t *testing.T) {
	s := redis.Snapshot{Version: "7.0.15", UsedMemory: 950 << 20, UsedMemoryRSS: 1700 << 20, MaxMemory: 1 << 30, FragmentationRatio: 1.78,
		MaxMemoryPolicy: "allkeys-lru", KeyspaceHits: 50, KeyspaceMisses: 50, HitRatePercent: 50, EvictedKeys: 7,
		Keyspace: []redis.KeyspaceDB{{DB: 0, Keys: 10, Expires: 4}}, TotalKeys: 10}
	fs := RedisInfoFindings(s, config.DefaultThresholds())
	var got []string
	for _, f := range fs {
		got = append(got, f.Check+"="+f.Status.String())
	}
	want := []string{"memory=warn", "hit rate=crit", "evictions=warn", "rejected conns=ok", "fragmentation=warn", "keys=ok"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}

func TestQuoteKey(t *testing.T) {
	if got := quoteKey("bin\x00ary"); got != `"bin\x00ary"` {
		t.Errorf("binary key shown as %s", got)
	}
	if got := quoteKey(strings.Repeat("k", 200)); len([]rune(got)) != 80 {
		t.Errorf("long key is %d runes", len([]rune(got)))
	}
}

func TestAlertFindings(t *testing.T) {
	as := []alerts.Alert{
		{Name: "HighAPIResponseTime", Severity: "warning", State: alerts.StateFiring, Since: now.Add(-20 * time.Minute), Summary: "P95 2.4s"},
		{Name: "RedisDown", Severity: "critical", State: alerts.StateSilenced, Summary: "redis-0 down"},
	}
	f := AlertFindings(as, "am:9093", now)
	if len(f) != 1 || f[0].Status != health.Warn || f[0].Summary != "1 firing, 1 silenced or inhibited" || len(f[0].Evidence) != 2 {
		t.Errorf("warning firing: %+v", f)
	}
	as[1].State = alerts.StateFiring
	if f := AlertFindings(as, "am:9093", now); f[0].Status != health.Crit {
		t.Errorf("critical firing: %+v", f)
	}
	if f := AlertFindings(nil, "am:9093", now); f[0].Status != health.OK || f[0].Summary != "0 firing, 0 silenced or inhibited" {
		t.Errorf("none: %+v", f)
	}
}
