package pitr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/sandbox"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// archived is a server whose WAL a streamer archives, with a base backup.
type archived struct {
	pg       *sandbox.PostgresServer
	e        *backup.Engine
	cfg      *config.Config
	streamer *opwal.Streamer
	stop     func()
}

func startArchived(t *testing.T) *archived {
	t.Helper()
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{WALSegmentMB: 1})
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() { pg.Stop() })
	cfg := config.Default()
	cfg.Postgres.DSN = pg.DSN()
	cfg.Postgres.WAL.Slot = "opsdeck_pitr"
	cfg.Postgres.WAL.FlushInterval = 100 * time.Millisecond
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	e, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Audit.Close() })
	s := opwal.New(e)
	s.MinBackoff, s.MaxBackoff = 100*time.Millisecond, 500*time.Millisecond
	sctx, stop := context.WithCancel(accesstest.Admin(context.Background()))
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	a := &archived{pg: pg, e: e, cfg: cfg, streamer: s}
	var once sync.Once
	a.stop = func() { once.Do(func() { stopStreamer(t, stop, done) }) }
	t.Cleanup(func() { a.stop() })
	return a
}

func stopStreamer(t *testing.T, stop func(), done chan error) {
	{
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("streamer: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the streamer did not stop within 30s")
		}
	}
}

// exec runs statements with a synchronous commit (the sandbox commits
// asynchronously) and returns the first column of the last one's row, if
// any.
func (a *archived) exec(t testing.TB, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), a.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "SET synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}
	var out string
	rows, err := conn.Query(context.Background(), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	for rows.Next() {
		v, _ := rows.Values()
		if len(v) > 0 && v[0] != nil {
			out = fmt.Sprint(v[0])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// truncate truncates table in a transaction of its own and returns its
// id.
func (a *archived) truncate(t *testing.T, table string) uint64 {
	t.Helper()
	return a.xidOf(t, "TRUNCATE "+table)
}

// xidOf runs sql in a transaction of its own, committed synchronously,
// and returns the transaction's id.
func (a *archived) xidOf(t *testing.T, sql string) uint64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var xid uint64
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = on; "+sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&xid); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return xid
}

// archivedTo waits until the streamer has made the server's flush
// position durable.
func (a *archived) archivedTo(t testing.TB) pgwal.LSN {
	t.Helper()
	head, err := pgwal.ParseLSN(a.exec(t, "SELECT pg_current_wal_flush_lsn()::text"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for a.streamer.State().Durable < head {
		if time.Now().After(deadline) {
			t.Fatalf("durable %s, want %s", a.streamer.State().Durable, head)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return head
}

// workDir is a directory the server's user can traverse.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "opsdeck-pitr-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (a *archived) recover(t *testing.T, target Target, work string) (*Recovered, error) {
	t.Helper()
	ctx := accesstest.Admin(context.Background())
	p, err := Prepare(ctx, a.e, target, "")
	if err != nil {
		return nil, err
	}
	var steps []string
	rec, err := Recover(ctx, a.e, p, Options{
		WorkDir: work, Superuser: sandbox.PostgresSuperuser, Timeout: 2 * time.Minute,
		Progress: func(e progress.Event) {
			if len(steps) == 0 || steps[len(steps)-1] != e.Step {
				steps = append(steps, e.Step)
			}
		},
	})
	if err == nil {
		t.Cleanup(func() { rec.Remove() })
		if !strings.Contains(strings.Join(steps, ","), StepUnpack) {
			t.Errorf("progress steps %v", steps)
		}
	}
	return rec, err
}

func query(t *testing.T, rec *Recovered, sql string) string {
	t.Helper()
	conn, err := rec.Connect(context.Background(), "stockdb")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

const fingerprint = "SELECT count(*)::text || '/' || coalesce(sum(hashtext(t::text)::bigint), 0)::text FROM pitr_rows t"

// The moments of a human error are recovered exactly: just before a
// TRUNCATE (by its transaction, and by a time between the last good
// commit and it), and the head (the later writes are there); a target
// before the oldest base backup is refused naming the covered range; the
// work directory is empty after each.
func TestRecoverToJustBeforeATruncate(t *testing.T) {
	a := startArchived(t)
	ctx := accesstest.Admin(context.Background())
	a.exec(t, "CREATE TABLE pitr_rows (id serial PRIMARY KEY, note text); INSERT INTO pitr_rows (note) SELECT 'before the base backup ' || g FROM generate_series(1, 2000) g")
	beforeBase := time.Now()
	time.Sleep(50 * time.Millisecond)
	if _, err := a.e.Backup(ctx, backup.Options{Kind: backup.Base}); err != nil {
		t.Fatal(err)
	}
	a.exec(t, "INSERT INTO pitr_rows (note) SELECT 'after the base backup ' || g FROM generate_series(1, 3000) g; UPDATE pitr_rows SET note = note || ' (updated)' WHERE id % 7 = 0")
	want := a.exec(t, fingerprint)
	time.Sleep(300 * time.Millisecond)
	goodMoment := time.Now()
	time.Sleep(300 * time.Millisecond)
	xid := a.truncate(t, "pitr_rows")
	a.exec(t, "CREATE TABLE later (n int); INSERT INTO later SELECT generate_series(1, 100)")
	time.Sleep(200 * time.Millisecond)
	afterLast := time.Now()
	time.Sleep(200 * time.Millisecond)
	a.exec(t, "CHECKPOINT") // WAL, and no commit, after afterLast
	a.archivedTo(t)
	work := workDir(t)

	for _, target := range []Target{{XID: xid, Exclusive: true}, {Time: goodMoment}} {
		rec, err := a.recover(t, target, work)
		if err != nil {
			t.Fatalf("recover to %s: %v", target, err)
		}
		if got := query(t, rec, fingerprint); got != want {
			t.Errorf("recovered to %s: fingerprint %s, want %s", target, got, want)
		}
		if got := query(t, rec, "SELECT count(*)::text FROM pg_class WHERE relname = 'later'"); got != "0" {
			t.Errorf("recovered to %s: the later table is there", target)
		}
		if err := rec.Remove(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(work); len(left) != 0 {
			t.Fatalf("left in the work directory: %v", left)
		}
	}

	// The head's LSN (as wal status shows it) is the head: no record
	// starts there.
	rec, err := a.recover(t, Target{LSN: a.streamer.State().Durable}, work)
	if err != nil {
		t.Fatalf("recover to the head's LSN: %v", err)
	}
	if got := query(t, rec, "SELECT count(*)::text FROM later"); got != "100" {
		t.Errorf("head: %s rows of the later table, want 100", got)
	}
	if got := query(t, rec, "SELECT count(*)::text FROM pitr_rows"); got != "0" {
		t.Errorf("head: the truncated table has %s rows", got)
	}
	rec.Remove()

	// A time after the last commit the archive holds: the server never
	// sees a commit past it, and the state at that time is the end.
	rec, err = a.recover(t, Target{Time: afterLast}, work)
	if err != nil {
		t.Fatalf("recover to a time after the last commit: %v", err)
	}
	if got := query(t, rec, "SELECT count(*)::text FROM later"); got != "100" {
		t.Errorf("after the last commit: %s rows of the later table, want 100", got)
	}
	rec.Remove()

	_, err = Prepare(ctx, a.e, Target{Time: beforeBase}, "")
	var oor *OutOfRangeError
	if !errors.As(err, &oor) || !strings.Contains(err.Error(), "before the oldest base backup") || !strings.Contains(err.Error(), "any moment from") {
		t.Fatalf("a time before the base backup: %v", err)
	}
}

// A segment damaged in the store fails the recovery naming it, before the
// instance is handed over; nothing is left in the work directory.
func TestRecoverRefusesADamagedSegment(t *testing.T) {
	a := startArchived(t)
	ctx := accesstest.Admin(context.Background())
	if _, err := a.e.Backup(ctx, backup.Options{Kind: backup.Base}); err != nil {
		t.Fatal(err)
	}
	a.exec(t, "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g")
	a.archivedTo(t)
	a.stop()
	var victim string
	filepath.WalkDir(filepath.Join(a.cfg.Backup.Dir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "/wal/") && !strings.Contains(d.Name(), "partial") && !strings.Contains(d.Name(), "history") && !strings.HasPrefix(d.Name(), "relmap-") && strings.HasSuffix(d.Name(), ".zst") {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no whole segment stored")
	}
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	os.WriteFile(victim, b, 0o600)
	work := workDir(t)
	_, err = a.recover(t, Target{}, work)
	if err == nil || !strings.Contains(err.Error(), "stage the WAL") {
		t.Fatalf("a damaged segment: %v", err)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Fatalf("left in the work directory: %v", left)
	}
}
