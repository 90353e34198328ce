package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCheckWALArchiveSlot: an inactive archive slot that keeps WAL is the
// postgres target's `wal archive` line, critical past the (lowered)
// slot_retained_bytes, in text and in JSON.
func TestCheckWALArchiveSlot(t *testing.T) {
	requireSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, sb.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"SELECT pg_create_physical_replication_slot('check_archive', true)",
		"CREATE TABLE check_wal (id int, pad text)",
		"INSERT INTO check_wal SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g",
		"SELECT pg_switch_wal()",
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = conn.Exec(ctx, "SELECT pg_drop_replication_slot('check_archive')")
		_, _ = conn.Exec(ctx, "DROP TABLE IF EXISTS check_wal")
		conn.Close(ctx) // here, not deferred: the cleanup runs after the test returns
	})
	cfg := writeConfig(t, fmt.Sprintf(`postgres:
  dsn: %q
  wal:
    stream: true
    slot: check_archive
backup:
  dir: %q
thresholds:
  slot_retained_bytes:
    warn: 1048576
    crit: 2097152
`, sb.Postgres.DSN(), t.TempDir()))

	r := opsdeck(t, nil, "--config", cfg, "check", "--target", "postgres")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (crit)\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"wal archive", "NOT streaming (slot check_archive inactive)", "CRIT"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
	t.Logf("text:\n%s", r.stdout)

	r = opsdeck(t, nil, "--config", cfg, "check", "--target", "postgres", "-o", "json")
	var rep struct {
		Status  string `json:"status"`
		Results []struct {
			Check, Status, Value, Threshold, Hint, Runbook string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	found := false
	for _, res := range rep.Results {
		if res.Check != "wal archive" {
			continue
		}
		found = true
		if res.Status != "crit" || res.Runbook != "slot-retaining-wal" || !strings.Contains(res.Threshold, "slot warn ≥1.0 MiB crit ≥2.0 MiB") ||
			!strings.Contains(res.Hint, "pg_drop_replication_slot('check_archive')") {
			t.Errorf("wal archive result %+v", res)
		}
	}
	if !found || rep.Status != "crit" {
		t.Fatalf("JSON: %+v", rep)
	}
}

// `wal find` refuses wrong flags with exit 3 and says what it wants; on
// a store without an archive it fails (exit 1) naming how to start one.
func TestWALFindInput(t *testing.T) {
	cfg := writeConfig(t, fmt.Sprintf("backup:\n  dir: %q\n", t.TempDir()))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "-2h"}, "give a duration back from now"},
		{[]string{"--since", "yesterday"}, "is not a time"},
		{[]string{"--min-share", "150%"}, "is not a share"},
		{[]string{"--min-rows", "-5"}, "--min-rows must be 1 or more"},
		{[]string{"--since", "1h", "--until", "2h"}, "--until is not after --since"},
	} {
		r := opsdeck(t, nil, append([]string{"--config", cfg, "wal", "find"}, c.args...)...)
		if r.code != 3 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("wal find %v: exit %d, stderr %q; want 3 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	r := opsdeck(t, nil, "--config", cfg, "wal", "find")
	if r.code != 1 || !strings.Contains(r.stderr, "holds no WAL archive") || !strings.Contains(r.stderr, "wal stream") {
		t.Errorf("no archive: exit %d, stderr %q", r.code, r.stderr)
	}
}
