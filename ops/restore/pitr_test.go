package restore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/pitr"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// archiving streams the sandbox server's WAL into the fixture's store
// (a slot of the fixture's own) and takes a base backup.
func (f *dbFixture) archiving() *opwal.Streamer {
	t := f.t
	t.Helper()
	f.cfg.Postgres.WAL.Slot = "pitr_" + f.name
	f.cfg.Postgres.WAL.FlushInterval = 100 * time.Millisecond
	work, err := os.MkdirTemp("", "opsdeck-restore-work-") // the postgres user must reach it
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(work, 0o755)
	t.Cleanup(func() { os.RemoveAll(work) })
	f.cfg.Restore.WorkDir = work
	s := opwal.New(f.be)
	s.MinBackoff, s.MaxBackoff = 100*time.Millisecond, 500*time.Millisecond
	ctx, stop := context.WithCancel(accesstest.Admin(context.Background()))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
		f.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + f.cfg.Postgres.WAL.Slot + "'")
	})
	if _, err := f.be.Backup(accesstest.Admin(context.Background()), backup.Options{Kind: backup.Base}); err != nil {
		t.Fatal(err)
	}
	return s
}

// archived waits until the server's WAL up to now is durable in the store.
func (f *dbFixture) archived(s *opwal.Streamer) {
	f.t.Helper()
	var head string
	f.query("SELECT pg_current_wal_flush_lsn()::text", &head)
	want, _ := pgwal.ParseLSN(head)
	deadline := time.Now().Add(30 * time.Second)
	for s.State().Durable < want {
		if time.Now().After(deadline) {
			f.t.Fatalf("the streamer made %s durable, want %s (%+v)", s.State().Durable, want, s.State())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *dbFixture) query(sql string, dest ...any) {
	f.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, f.cfg.Postgres.DSN)
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, sql).Scan(dest...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// txid runs sql in a transaction of its own, committed synchronously,
// and returns the transaction's id.
func (f *dbFixture) txid(sql string) uint64 {
	f.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, f.cfg.Postgres.DSN)
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close(ctx)
	tx, err := c.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var xid uint64
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = on; "+sql); err != nil {
		f.t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&xid); err != nil {
		f.t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		f.t.Fatal(err)
	}
	return xid
}

const pricesPrint = "SELECT count(*)::text || '/' || coalesce(sum(hashtext(p::text)::bigint), 0)::text FROM prices p"

// A TRUNCATE in production is undone to the transaction before it: the
// database is recovered in a private instance, copied into the scratch
// database, verified against the instance and swapped in; the rows are
// exactly those committed before the TRUNCATE, the writes after it are
// gone (they stay in the _pre_ database), and nothing is left on the
// bastion.
func TestPointInTimeRestoreUndoesATruncate(t *testing.T) {
	f := newDBFixture(t)
	// What a binary COPY without column names would get wrong: an
	// inheritance child whose parent gained a column (pg_dump rebuilds it
	// with another column order), an array of an enum (its type's OID is
	// in binary arrays), and a large object.
	f.exec(`CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE TABLE parent (id int, note text);
CREATE TABLE child (extra int) INHERITS (parent);
ALTER TABLE parent ADD COLUMN added text;
INSERT INTO child (id, note, extra, added) VALUES (1, 'n', 7, 'a');
CREATE TABLE moods (id int PRIMARY KEY, m mood[], at timestamptz);
INSERT INTO moods VALUES (1, '{calm,busy}', '2026-12-07 09:13:00+01');
SELECT lo_from_bytea(4242, 'large object bytes');
-- Indexes built as each table is in, and what waits for the end: a
-- partitioned table's index and its partition's attached one, a foreign
-- key, an index with spaces in its name.
CREATE INDEX moods_at ON moods (at);
CREATE INDEX "moods at desc" ON moods (at DESC);
CREATE TABLE mood_log (id int PRIMARY KEY, mood_id int REFERENCES moods (id), UNIQUE (mood_id, id));
INSERT INTO mood_log VALUES (1, 1);
CREATE TABLE events (id int, at date, note text) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ON events (at);
ALTER TABLE events ADD PRIMARY KEY (id, at);
INSERT INTO events VALUES (1, '2026-05-01', 'x');`)
	f.schema = f.dumpSchema()
	s := f.archiving()
	f.exec("INSERT INTO prices (stock_id, day, close) SELECT 1 + g % 50, date '2026-06-01' + g % 30, g / 3.0 FROM generate_series(1, 5000) g; UPDATE stocks SET symbol = symbol || '.X' WHERE id % 5 = 0")
	var want, stocksWant string
	f.query(pricesPrint, &want)
	f.query("SELECT string_agg(symbol, ',' ORDER BY id) FROM stocks", &stocksWant)
	xid := f.txid("TRUNCATE prices")
	f.exec("INSERT INTO stocks (symbol) VALUES ('AFTER')")
	f.archived(s)

	e := f.engine()
	plan := f.prepare(e, oprestore.Options{PointInTime: &pitr.Target{XID: xid, Exclusive: true, How: "typed"}})
	var names []string
	for _, st := range plan.Steps {
		names = append(names, st.Name)
	}
	if got, wantSteps := strings.Join(names, " "), "preflight safety-backup database.recover database.restore database.verify writers.down database.swap writers.up post-checks"; got != wantSteps {
		t.Fatalf("steps %s", got)
	}
	if plan.PointInTime == nil || plan.PointInTime.Target.XID != xid {
		t.Fatalf("plan %+v", plan.PointInTime)
	}
	rep, err := e.Run(accesstest.Admin(context.Background()), plan, nil)
	if err != nil {
		t.Fatalf("run: %v\n%+v", err, rep.Steps)
	}
	var got, stocksGot string
	f.query(pricesPrint, &got)
	f.query("SELECT string_agg(symbol, ',' ORDER BY id) FROM stocks", &stocksGot)
	if got != want || stocksGot != stocksWant {
		t.Errorf("prices %s, want %s; stocks %q, want %q", got, want, stocksGot, stocksWant)
	}
	if schema := f.dumpSchema(); schema != f.schema {
		t.Errorf("the schema differs after the restore")
	}
	var child, moods, lo string
	f.query("SELECT format('%s/%s/%s/%s', id, note, extra, added) FROM child", &child)
	f.query("SELECT format('%s/%s', m, at AT TIME ZONE 'UTC') FROM moods", &moods)
	f.query("SELECT convert_from(lo_get(4242), 'UTF8')", &lo)
	if child != "1/n/7/a" || moods != "{calm,busy}/2026-12-07 08:13:00" || lo != "large object bytes" {
		t.Errorf("child %q, moods %q, large object %q", child, moods, lo)
	}
	// The sequence goes on from where it was, not from 1.
	var next int64
	f.query("SELECT nextval('prices_id_seq')", &next)
	if next <= 25000 {
		t.Errorf("prices_id_seq gives %d after the restore", next)
	}
	if f.replicas() != 2 {
		t.Errorf("writer replicas %d", f.replicas())
	}
	if left, _ := os.ReadDir(f.cfg.Restore.WorkDir); len(left) != 0 {
		t.Errorf("left in the work directory: %v", left)
	}
	md, err := os.ReadFile(rep.Path)
	if err != nil || !strings.Contains(string(md), "database.recover") || !strings.Contains(string(md), "| Point in time | just before transaction") {
		t.Fatalf("report: %v\n%s", err, md)
	}
}

// A point-in-time restore that fails at any step after the recovery
// began is undone: the private instance is stopped and its directory
// removed, production keeps its rows and the writers run.
func TestPointInTimeRestoreFailureIsUndone(t *testing.T) {
	f := newDBFixture(t)
	s := f.archiving()
	f.exec("INSERT INTO stocks (symbol) VALUES ('KEEP')")
	f.archived(s)
	for _, point := range []string{"after:database.recover", "after:database.restore", "after:database.verify", "after:database.swap"} {
		t.Run(point, func(t *testing.T) {
			e := f.engine()
			oprestore.SetHook(e, point, func() error { return errors.New("injected at " + point) })
			plan := f.prepare(e, oprestore.Options{PointInTime: &pitr.Target{}, NoSafetyBackup: true})
			rep, err := e.Run(accesstest.Admin(context.Background()), plan, nil)
			if err == nil || !rep.Undone {
				t.Fatalf("run: %v, undone %v\n%+v", err, rep.Undone, rep.Steps)
			}
			if left, _ := os.ReadDir(f.cfg.Restore.WorkDir); len(left) != 0 {
				t.Errorf("left in the work directory: %v", left)
			}
			f.assertOriginal(t)
		})
	}
}

// A DELETE of 30 % of a table is given back: the table as it was just
// before it is copied beside the live one (production untouched, the
// later writes kept), compared, and its missing rows merged back in one
// transaction — a merge that fails is undone by the keys it inserted.
func TestTableRestoreGivesBackDeletedRows(t *testing.T) {
	f := newDBFixture(t)
	s := f.archiving()
	var before string
	f.query(pricesPrint, &before)
	var deleted int64
	xid := f.txid("DELETE FROM prices WHERE id % 10 < 3")
	f.query("SELECT 20000 - count(*) FROM prices", &deleted)
	f.exec("INSERT INTO prices (stock_id, day, close) SELECT 1, date '2026-12-01', g FROM generate_series(1, 100) g")
	f.archived(s)
	ctx := accesstest.Admin(context.Background())

	e := f.engine()
	plan := f.prepare(e, oprestore.Options{Kind: oprestore.Table, Tables: []string{"prices"}, Into: "prices_before", PointInTime: &pitr.Target{XID: xid, Exclusive: true}})
	var names []string
	for _, st := range plan.Steps {
		names = append(names, st.Name)
	}
	if got := strings.Join(names, " "); got != "preflight database.recover table.copy table.verify" {
		t.Fatalf("steps %s", got)
	}
	if _, err := e.Run(ctx, plan, nil); err != nil {
		t.Fatalf("table restore: %v", err)
	}
	var copied string
	f.query(strings.Replace(pricesPrint, "FROM prices p", "FROM prices_before p", 1), &copied)
	if copied != before {
		t.Fatalf("the copy is %s, the table before the DELETE %s", copied, before)
	}
	if got := f.count("prices"); got != 20000-deleted+100 {
		t.Fatalf("the live table has %d rows: it should not be touched", got)
	}
	if left, _ := os.ReadDir(f.cfg.Restore.WorkDir); len(left) != 0 {
		t.Errorf("left in the work directory: %v", left)
	}
	st, err := e.Compare(ctx, "prices", "prices_before")
	if err != nil || st.Missing != deleted || st.Changed != 0 || strings.Join(st.Key, ",") != "id" {
		t.Fatalf("compare: %+v %v (deleted %d)", st, err, deleted)
	}

	failing := f.engine()
	oprestore.SetHook(failing, "after:table.merge", func() error { return errors.New("injected") })
	merge := oprestore.Options{Kind: oprestore.Merge, Tables: []string{"prices"}, From: []string{"prices_before"}}
	if rep, err := failing.Run(ctx, f.prepare(failing, merge), nil); err == nil || !rep.Undone {
		t.Fatalf("a failed merge: %v %+v", err, rep)
	}
	if got := f.count("prices"); got != 20000-deleted+100 {
		t.Fatalf("after the undone merge the table has %d rows", got)
	}
	if _, err := e.Run(ctx, f.prepare(e, merge), nil); err != nil {
		t.Fatalf("merge: %v", err)
	}
	if got := f.count("prices"); got != 20100 {
		t.Fatalf("after the merge the table has %d rows, want 20100", got)
	}
	if st, err := e.Compare(ctx, "prices", "prices_before"); err != nil || st.Missing != 0 || st.Changed != 0 {
		t.Fatalf("after the merge: %+v %v", st, err)
	}
}
