package pitr

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// destructive is the test's disasters, each in a transaction of its own,
// while pgbench writes beside them.
type destructive struct {
	deleteXID, truncateXID, dropXID, alterXID uint64
	rewriteXID, dropIndexXID, rolledBackXID   uint64
	loadStart, deleted                        time.Time
}

func startWithDisasters(t *testing.T) (*archived, destructive) {
	t.Helper()
	pgbench, err := exec.LookPath(filepath.Join(mustBinDir(t), "pgbench"))
	if err != nil {
		t.Skip("pgbench is not installed (make deps installs it)")
	}
	a := startArchived(t)
	ctx := accesstest.Admin(context.Background())
	a.exec(t, `CREATE TABLE prices (id int PRIMARY KEY, v numeric); INSERT INTO prices SELECT g, g FROM generate_series(1, 20000) g;
		CREATE TABLE trades (id int PRIMARY KEY, note text); INSERT INTO trades SELECT g, 'trade ' || g FROM generate_series(1, 10000) g;
		CREATE TABLE scratch (n int); INSERT INTO scratch SELECT generate_series(1, 500);
		CREATE TABLE vac (id int PRIMARY KEY, pad text); INSERT INTO vac SELECT g, repeat('v', 100) FROM generate_series(1, 3000) g;
		CREATE INDEX trades_note ON trades (note);
		ANALYZE`)
	if out, err := exec.Command(pgbench, "-i", "-q", "-s", "1", a.pg.DSN()).CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	if _, err := a.e.Backup(ctx, backup.Options{Kind: backup.Base}); err != nil {
		t.Fatal(err)
	}
	var d destructive
	d.loadStart = time.Now()
	load := exec.Command(pgbench, "-n", "-c", "2", "-T", "6", a.pg.DSN())
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	a.xidOf(t, "DELETE FROM trades WHERE id <= 5") // a few rows: no event
	d.deleted = time.Now()
	d.deleteXID = a.xidOf(t, "DELETE FROM trades WHERE id % 10 < 3")
	time.Sleep(500 * time.Millisecond)
	d.truncateXID = a.xidOf(t, "TRUNCATE prices")
	d.dropXID = a.xidOf(t, "DROP TABLE scratch")
	d.alterXID = a.xidOf(t, "ALTER TABLE trades ADD COLUMN checked bool")
	// No loss, whatever files and rows they touch: a rewrite, an index
	// dropped, rows deleted in a subtransaction rolled back.
	d.rewriteXID = a.xidOf(t, "ALTER TABLE vac ALTER COLUMN id TYPE bigint")
	d.dropIndexXID = a.xidOf(t, "DROP INDEX trades_note")
	d.rolledBackXID = a.xidOf(t, "SAVEPOINT s; DELETE FROM trades WHERE id > 8000; ROLLBACK TO SAVEPOINT s")
	if err := load.Wait(); err != nil {
		t.Fatalf("pgbench: %v\n%s", err, loadOut.String())
	}
	a.archivedTo(t)
	a.stop() // the archive holds still for the cross-check
	return a, d
}

func mustBinDir(t *testing.T) string {
	t.Helper()
	dir, err := sandbox.PostgresBinDir()
	if err != nil {
		t.Skip(err)
	}
	return dir
}

// eventOf is the event of transaction xid.
func eventOf(f *Found, xid uint64) (Event, bool) {
	for _, ev := range f.Events {
		if uint64(ev.XID) == xid {
			return ev, true
		}
	}
	return Event{}, false
}

// wal find names the disasters among pgbench's traffic, and nothing of
// the traffic: the DELETE of 30 % with its row count, the TRUNCATE and
// the DROP with the tables' sizes, the ALTER as DDL; --table and --since
// narrow it; opsdeck's audit records of that minute stand beside them.
func TestFindListsTheDestructiveTransactions(t *testing.T) {
	a, d := startWithDisasters(t)
	ctx := accesstest.Admin(context.Background())
	// The whole archive, pgbench -i's DDL and reloads before the base
	// backup included.
	all, err := Find(ctx, a.e, FindOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	crossCheck(t, a, all, d)
	f, err := Find(ctx, a.e, FindOptions{Since: d.loadStart}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range f.Events {
		t.Logf("event: %s %v", ev.Summary(), ev.Kinds)
	}
	t.Logf("read %d segments, %d records, notes %q", f.Segments, f.Records, f.Notes)
	want := []struct {
		xid  uint64
		kind EventKind
		rel  string
		rows func(RelationChange) bool
	}{
		{d.deleteXID, Delete, "public.trades", func(r RelationChange) bool { return r.Deleted == 2998 && r.Rows == 10000 }},
		{d.truncateXID, Truncate, "public.prices", func(r RelationChange) bool { return r.Rows == 20000 }},
		{d.dropXID, Drop, "public.scratch", func(r RelationChange) bool { return r.Rows == 500 }},
		{d.alterXID, DDL, "public.trades", func(RelationChange) bool { return true }},
		{d.rewriteXID, Rewrite, "public.vac", func(RelationChange) bool { return true }},
		{d.dropIndexXID, DDL, "public.trades", func(RelationChange) bool { return true }},
	}
	for _, w := range want {
		ev, ok := eventOf(f, w.xid)
		if !ok {
			t.Errorf("transaction %d (%s of %s) not found", w.xid, w.kind, w.rel)
			continue
		}
		if ev.Kind() != w.kind || len(ev.Relations) != 1 || ev.Relations[0].Name != w.rel || !w.rows(ev.Relations[0]) {
			t.Errorf("transaction %d: %+v, want %s of %s", w.xid, ev, w.kind, w.rel)
		}
		if ev.Time.Before(d.deleted.Add(-time.Second)) || ev.Time.After(time.Now()) {
			t.Errorf("transaction %d committed at %s", w.xid, ev.Time)
		}
		if b := ev.Before(); b.XID != w.xid || !b.Exclusive {
			t.Errorf("before %d: %+v", w.xid, b)
		}
	}
	if len(f.Events) != len(want) {
		t.Errorf("%d events, want %d (pgbench's traffic, the small DELETE and the one rolled back are none)", len(f.Events), len(want))
	}
	if ev, ok := eventOf(f, d.rolledBackXID); ok {
		t.Errorf("rows deleted by a subtransaction rolled back: %s", ev.Summary())
	}
	audited := false
	for _, ev := range f.Events {
		for _, c := range ev.Context {
			audited = audited || (c.Source == "audit" && strings.Contains(c.Text, "backup"))
		}
	}
	if !audited {
		t.Error("the base backup's audit record is beside no event")
	}

	only, err := Find(ctx, a.e, FindOptions{Since: d.loadStart, Tables: []string{"prices"}}, nil)
	if err != nil || len(only.Events) != 1 || uint64(only.Events[0].XID) != d.truncateXID {
		t.Errorf("--table prices: %+v, %v", only, err)
	}
	del, _ := eventOf(f, d.deleteXID)
	later, err := Find(ctx, a.e, FindOptions{Since: del.Time.Add(time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := eventOf(later, d.deleteXID); ok || len(later.Events) != len(want)-1 {
		t.Errorf("--since after the DELETE: %d events", len(later.Events))
	}
}

// crossCheck holds the decoder's count of records and the DELETE's rows
// against pg_waldump over the same segments, decompressed.
func crossCheck(t *testing.T, a *archived, f *Found, d destructive) {
	t.Helper()
	ctx := context.Background()
	arch, cat, err := newestArchive(ctx, a.e)
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := arch.Histories(ctx, cat)
	dir := t.TempDir()
	pieces := cat.Lineage(hist)
	for _, p := range pieces {
		b, err := arch.ReadPiece(ctx, cat, p)
		if err != nil {
			t.Fatal(err)
		}
		full := make([]byte, cat.Info.SegmentSize) // a partial one: zeroes after it, the WAL's end
		copy(full, b)
		if err := os.WriteFile(filepath.Join(dir, p.Segment.Name(cat.Info.SegmentSize)), full, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first, last := pieces[0].Segment.Name(cat.Info.SegmentSize), pieces[len(pieces)-1].Segment.Name(cat.Info.SegmentSize)
	cmd := exec.Command(filepath.Join(mustBinDir(t), "pg_waldump"), "--path", dir, first, last)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.Output() // it ends with an error at the WAL's end
	lines := bytes.Count(out, []byte("\nrmgr: ")) + 1
	if int64(lines) != f.Records {
		t.Errorf("decoded %d records, pg_waldump lists %d (%s)", f.Records, lines, strings.TrimSpace(stderr.String()))
	}
	re := regexp.MustCompile(`(?m)^rmgr: Heap .* tx:\s+` + strconv.FormatUint(d.deleteXID, 10) + `, .*desc: DELETE `)
	if n := len(re.FindAll(out, -1)); n != 2998 {
		t.Errorf("pg_waldump lists %d DELETE records of transaction %d, want 2998", n, d.deleteXID)
	}
}
