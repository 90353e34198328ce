package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/redis"
)

func TestSnapshot(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	c := newClient(t, server.URL(), 2*time.Second)
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	s, err := redis.TakeSnapshot(ctx, c)
	if err != nil {
		t.Fatalf("TakeSnapshot: %v", err)
	}
	if !s.NoLookupsYet || s.HitRatePercent != 0 {
		t.Errorf("after RESETSTAT: NoLookupsYet=%v HitRatePercent=%v", s.NoLookupsYet, s.HitRatePercent)
	}
	if !strings.HasPrefix(s.Version, "7.") && !strings.HasPrefix(s.Version, "6.") {
		t.Errorf("Version = %q", s.Version)
	}
	if s.Mode != "standalone" || s.Role != "master" {
		t.Errorf("Mode %q Role %q", s.Mode, s.Role)
	}
	if s.MaxMemory != 256<<20 || s.MaxMemoryPolicy != "allkeys-lru" {
		t.Errorf("maxmemory %d policy %q, want the sandbox's 256mb allkeys-lru", s.MaxMemory, s.MaxMemoryPolicy)
	}
	if pct, ok := s.MemoryPercent(); !ok || pct <= 0 || pct >= 100 {
		t.Errorf("MemoryPercent = %v, %v", pct, ok)
	}
	if s.ConnectedClients < 1 || s.Took <= 0 || len(s.Notes) != 0 {
		t.Errorf("ConnectedClients %d Took %s Notes %q", s.ConnectedClients, s.Took, s.Notes)
	}

	if err := c.Set(ctx, "snapshot:test", "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	c.Get(ctx, "snapshot:test")
	for range 3 {
		c.Get(ctx, "snapshot:absent")
	}
	s, err = redis.TakeSnapshot(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyspaceHits != 1 || s.KeyspaceMisses != 3 || s.HitRatePercent != 25 || s.NoLookupsYet {
		t.Errorf("hits %d misses %d rate %v noLookups %v, want 1, 3, 25, false",
			s.KeyspaceHits, s.KeyspaceMisses, s.HitRatePercent, s.NoLookupsYet)
	}
	if len(s.Keyspace) == 0 || s.Keyspace[0].DB != 0 || s.Keyspace[0].Keys < 1 || s.Keyspace[0].Expires < 1 {
		t.Errorf("Keyspace = %+v, want db0 with a key that expires", s.Keyspace)
	}
}

func TestSnapshotCountsClients(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	c := newClient(t, server.URL(), 2*time.Second)
	before, err := redis.TakeSnapshot(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	const extra = 3
	for range extra {
		if err := newClient(t, server.URL(), 2*time.Second).Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// One more client blocks in BLPOP.
	blocker := newClient(t, server.URL(), 2*time.Second)
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		blocker.BLPop(bctx, time.Second, "queue:never")
	}()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(2 * time.Second)
	for {
		after, err := redis.TakeSnapshot(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if after.ConnectedClients >= before.ConnectedClients+extra+1 && after.BlockedClients >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connected %d → %d (want +%d), blocked %d (want ≥ 1)",
				before.ConnectedClients, after.ConnectedClients, extra+1, after.BlockedClients)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
