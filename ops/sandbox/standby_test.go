package sandbox_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func queryString(t *testing.T, ctx context.Context, dsn, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect for %q: %v", sql, err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// The WAL archive's tests run on 1 MiB segments and need room for
// replication.
func TestPostgresWALSegmentAndReplicationSettings(t *testing.T) {
	srv := startPostgres(t, sandbox.PostgresOptions{WALSegmentMB: 1})
	ctx := t.Context()
	for setting, want := range map[string]string{
		"wal_segment_size":       "1MB",
		"wal_level":              "replica",
		"max_wal_senders":        "10",
		"max_replication_slots":  "10",
		"max_slot_wal_keep_size": "1GB",
		"wal_keep_size":          "0",
	} {
		if got := queryString(t, ctx, srv.DSN(), "SHOW "+setting); got != want {
			t.Errorf("%s = %s, want %s", setting, got, want)
		}
	}
}

func TestPostgresStandbyStreamsAndPromotes(t *testing.T) {
	primary := startPostgres(t, sandbox.PostgresOptions{WALSegmentMB: 1})
	ctx := t.Context()
	const slot = "opsdeck_test_standby"
	exec := func(dsn, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(primary.DSN(), "CREATE TABLE marks (id int PRIMARY KEY, note text)")

	standby, err := primary.StartStandby(ctx, slot)
	if err != nil {
		t.Fatalf("StartStandby: %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = standby.Stop()
		}
	}()
	if standby.Port == primary.Port || standby.Dir == primary.Dir {
		t.Fatalf("the standby shares the primary's port or directory")
	}
	// The standby's WAL receiver connects after it starts: give it time.
	active := ""
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if active = queryString(t, ctx, primary.DSNFor("postgres"),
			"SELECT active::text FROM pg_replication_slots WHERE slot_name = '"+slot+"'"); active == "true" {
			break
		}
	}
	if active != "true" {
		t.Errorf("slot %s active = %s, want true", slot, active)
	}
	if got := queryString(t, ctx, standby.DSN(), "SELECT pg_is_in_recovery()::text"); got != "true" {
		t.Errorf("standby pg_is_in_recovery() = %s", got)
	}

	// A row written on the primary reaches the standby, whose roles and
	// passwords are the primary's.
	exec(primary.DSN(), "INSERT INTO marks VALUES (1, 'from the primary')")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := queryString(t, ctx, standby.AppDSN(), "SELECT count(*)::text FROM marks WHERE id = 1"); got == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the row did not reach the standby within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	tli := "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"
	if err := standby.Promote(ctx); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	exec(standby.DSN(), "INSERT INTO marks VALUES (2, 'after the promotion')")
	if got := queryString(t, ctx, standby.DSN(), tli); got != "00000002" {
		t.Errorf("the promoted standby's timeline is %s, want 00000002", got)
	}
	if got := queryString(t, ctx, primary.DSN(), tli); got != "00000001" {
		t.Errorf("the primary's timeline is %s, want 00000001", got)
	}

	dir := standby.Dir
	if err := standby.Stop(); err != nil {
		t.Fatalf("Stop the standby: %v", err)
	}
	stopped = true
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the standby's directory %s survived Stop (%v)", dir, err)
	}
	if got := queryString(t, ctx, primary.DSNFor("postgres"), "SELECT count(*)::text FROM pg_replication_slots"); got != "0" {
		t.Errorf("%s slots left on the primary, want 0", got)
	}
}
