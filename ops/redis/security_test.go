package redis_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/redis"
)

func TestReadSecurityPlantedAndFixed(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	admin := newClient(t, server.URL(), 5*time.Second)
	// opsdeck reads as an admin user, so that locking the default user
	// down does not hide what it wants to see.
	if err := admin.Do(ctx, "ACL", "SETUSER", "sec-admin", "on", ">sec-admin-pass-1", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := context.Background()
		admin.Do(c, "ACL", "SETUSER", "default", "on", "resetpass", ">"+testPassword, "~*", "&*", "+@all")
		admin.ConfigSet(c, "protected-mode", "yes")
		admin.Do(c, "ACL", "DELUSER", "sec-admin")
	})
	reader := newClient(t, "redis://sec-admin:sec-admin-pass-1@"+server.Addr(), 5*time.Second)

	before, err := redis.ReadSecurity(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	if before.DefaultUser == nil || before.DefaultUser.NoPass || !before.DefaultUser.Enabled || before.ProtectedMode != "yes" || len(before.Missing) > 0 {
		t.Errorf("sandbox Redis with a password: %+v", before)
	}
	// The default user may run every command: the dangerous ones that exist
	// (Redis 7 turns DEBUG off by default) are listed.
	for _, c := range []string{"FLUSHALL", "FLUSHDB", "CONFIG", "KEYS"} {
		if !slices.Contains(before.Dangerous, c) {
			t.Errorf("dangerous %v lacks %s", before.Dangerous, c)
		}
	}

	// Planted: no password for the default user, protected mode off.
	for _, args := range [][]any{
		{"ACL", "SETUSER", "default", "nopass"},
		{"CONFIG", "SET", "protected-mode", "no"},
	} {
		if err := admin.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	bad, err := redis.ReadSecurity(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	if !bad.DefaultUser.NoPass || bad.ProtectedMode != "no" || !bad.DefaultUser.AllCommands {
		t.Errorf("planted problems: %+v %+v", bad, bad.DefaultUser)
	}

	// Fixed: a password again, protected mode on, the dangerous commands taken away.
	for _, args := range [][]any{
		{"ACL", "SETUSER", "default", "resetpass", ">" + testPassword, "-flushall", "-flushdb", "-config", "-debug", "-keys"},
		{"CONFIG", "SET", "protected-mode", "yes"},
	} {
		if err := reader.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	fixed, err := redis.ReadSecurity(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	if fixed.DefaultUser.NoPass || fixed.ProtectedMode != "yes" || len(fixed.Dangerous) > 0 || !fixed.DangerousChecked || fixed.DefaultUser.AllCommands {
		t.Errorf("fixed: %+v %+v", fixed, fixed.DefaultUser)
	}
}

func TestReadSecurityWithoutAdminRights(t *testing.T) {
	requireServer(t)
	ctx := t.Context()
	admin := newClient(t, server.URL(), 5*time.Second)
	if err := admin.Do(ctx, "ACL", "SETUSER", "sec-viewer", "on", ">sec-viewer-pass-1", "~*", "+@read", "+info", "+ping", "+hello", "+client").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", "sec-viewer") })
	viewer := newClient(t, "redis://sec-viewer:sec-viewer-pass-1@"+server.Addr(), 5*time.Second)
	s, err := redis.ReadSecurity(ctx, viewer)
	if err != nil {
		t.Fatalf("a refused command must not fail the whole read: %v", err)
	}
	if s.Missing["acl"] == "" || s.Missing["config"] == "" || s.DefaultUser != nil {
		t.Errorf("without rights: %+v", s)
	}
}
