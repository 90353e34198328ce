package redis_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/ops/redis"
)

// testdata/info-7.0.txt is INFO from redis-server 7.0.15 (CRLF line ends)
// after SET a, SET b EX in db 1, one hit and one miss.
func TestParseInfoRedis7(t *testing.T) {
	raw, err := os.ReadFile("testdata/info-7.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	info := redis.ParseInfo(string(raw))
	if v, _ := info.Get("server", "redis_version"); v != "7.0.15" {
		t.Errorf("redis_version = %q", v)
	}
	for _, section := range []string{"server", "clients", "memory", "stats", "replication", "keyspace"} {
		if len(info[section]) == 0 {
			t.Errorf("section %q missing; have %v", section, keys(info))
		}
	}

	s := redis.SnapshotFromInfo(info)
	checks := []struct {
		name      string
		got, want any
	}{
		{"Version", s.Version, "7.0.15"},
		{"Mode", s.Mode, "standalone"},
		{"Role", s.Role, "master"},
		{"MaxMemory", s.MaxMemory, int64(256 << 20)},
		{"MaxMemoryPolicy", s.MaxMemoryPolicy, "allkeys-lru"},
		{"KeyspaceHits", s.KeyspaceHits, int64(1)},
		{"KeyspaceMisses", s.KeyspaceMisses, int64(1)},
		{"HitRatePercent", s.HitRatePercent, 50.0},
		{"NoLookupsYet", s.NoLookupsYet, false},
		{"MaxClients", s.MaxClients, int64(10000)},
		{"TotalKeys", s.TotalKeys, int64(2)},
		{"Keyspace", s.Keyspace, []redis.KeyspaceDB{{DB: 0, Keys: 1}, {DB: 1, Keys: 1, Expires: 1}}},
		{"Notes", s.Notes, []string(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if s.UsedMemory <= 0 || s.FragmentationRatio <= 0 || s.Uptime < 0 {
		t.Errorf("memory facts not read: used %d, fragmentation %v", s.UsedMemory, s.FragmentationRatio)
	}
	if pct, ok := s.MemoryPercent(); !ok || pct <= 0 || pct >= 100 {
		t.Errorf("MemoryPercent = %v, %v", pct, ok)
	}
}

func TestParseInfoEdgeCases(t *testing.T) {
	text := strings.Join([]string{
		"orphan:1",
		"# Server",
		"redis_version:6.2.14",
		"no colon here",
		":no field",
		"# Memory",
		"used_memory:1000",
		"maxmemory:0",
		"# Stats",
		"keyspace_hits:0",
		"keyspace_misses:0",
		"# Keyspace",
		"db10:keys=5,expires=2,avg_ttl=1500",
		"db2:keys=x,expires=1",
		"dbx:keys=1",
		"notdb:keys=1",
		"",
	}, "\n")
	info := redis.ParseInfo(text)
	if v, ok := info.Get("", "orphan"); !ok || v != "1" {
		t.Errorf("field before any header: %q %v", v, ok)
	}
	if _, ok := info.Get("server", "no colon here"); ok {
		t.Error("kept a line without a colon")
	}
	want := []redis.KeyspaceDB{{DB: 2, Expires: 1}, {DB: 10, Keys: 5, Expires: 2, AvgTTLMillis: 1500}}
	if got := info.Keyspace(); !reflect.DeepEqual(got, want) {
		t.Errorf("Keyspace = %+v, want %+v", got, want)
	}

	s := redis.SnapshotFromInfo(info)
	if !s.NoLookupsYet || s.HitRatePercent != 0 {
		t.Errorf("no lookups: NoLookupsYet=%v HitRatePercent=%v", s.NoLookupsYet, s.HitRatePercent)
	}
	if _, ok := s.MemoryPercent(); ok {
		t.Error("MemoryPercent ok with maxmemory 0 (unlimited)")
	}
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "maxmemory_policy") {
		t.Errorf("Notes = %q, want the missing fields named", s.Notes)
	}
	if empty := redis.SnapshotFromInfo(redis.ParseInfo("")); len(empty.Keyspace) != 0 || empty.Keyspace == nil {
		t.Errorf("empty INFO: Keyspace = %#v, want an empty list", empty.Keyspace)
	}
}

func keys(info redis.Info) []string {
	var out []string
	for k := range info {
		out = append(out, k)
	}
	return out
}
