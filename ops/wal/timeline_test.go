package wal

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

func lsnOf(t *testing.T, dsn, query string) pgwal.LSN {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), query).Scan(&s); err != nil {
		t.Fatal(err)
	}
	l, _ := pgwal.ParseLSN(s)
	return l
}

// The streamer streams from a standby through a slot there; when the
// standby is promoted it stores the new timeline's history and follows
// it, and the archive carries a base of timeline 1 onto timeline 2.
func TestPromotedStandbyFollowsTheNewTimeline(t *testing.T) {
	c := startCluster(t, nil)
	c.exec(t, "CREATE TABLE t (id int, pad text)")
	ctx := context.Background()
	standby, err := c.pg.StartStandby(ctx, "standby_of_test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Stop() })
	c.cfg.Postgres.DSN = standby.DSN()
	start := lsnOf(t, standby.DSN(), "SELECT pg_last_wal_replay_lsn()::text")
	r := startStreamer(t, c)

	c.exec(t, "INSERT INTO t SELECT g, repeat('p', 100) FROM generate_series(1, 20000) g")
	primaryAt := c.currentLSN(t)
	deadline := time.Now().Add(30 * time.Second)
	for lsnOf(t, standby.DSN(), "SELECT pg_last_wal_replay_lsn()::text") < primaryAt && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	r.waitDurable(t, primaryAt)

	c.pg.Stop() // the primary is lost
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, standby.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO t SELECT g, repeat('n', 100) FROM generate_series(1, 20000) g"); err != nil {
		t.Fatal(err)
	}
	head := lsnOf(t, standby.DSN(), "SELECT pg_current_wal_flush_lsn()::text")
	deadline = time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st := r.s.State(); st.Timeline == 2 && st.Durable >= head {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := r.s.State()
	if st.Timeline != 2 || st.Durable < head {
		t.Fatalf("after promotion: %+v, want timeline 2 durable at %s", st, head)
	}
	if ev := strings.Join(st.Events, "\n"); !strings.Contains(ev, "following timeline 2") {
		t.Errorf("events: %s", ev)
	}
	r.stop(t)

	a := c.archive(t)
	cat, err := a.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cat.Histories[2]; !ok || len(cat.Segments[1]) == 0 || len(cat.Segments[2])+len(cat.Partials[2]) == 0 {
		t.Fatalf("catalog: histories %v, timelines %v", cat.Histories, cat.Timelines())
	}
	base := backup.WALStart{ID: "test", SystemID: a.SystemID, Timeline: 1, Start: start, Stop: start}
	res, err := a.VerifyWAL(ctx, []backup.WALStart{base}, true, nil)
	if err != nil || !res.OK() {
		t.Fatalf("verify: %v %q", err, res.Problems)
	}
	if cov := res.Coverage[0]; cov.ToTimeline != 2 || cov.To < head || len(cov.Timelines) != 2 {
		t.Fatalf("coverage %+v, want timeline 2 up to %s", cov, head)
	}
}

// The DSN moves to a promoted standby that has no slot and no longer has
// the WAL the archive needs next: the streamer creates the slot, names
// the gap, goes on where the server can, and verify says which base
// backup the hole cuts off.
func TestMovedToAPrimaryWithoutTheSlotNamesTheGap(t *testing.T) {
	c := startCluster(t, nil)
	c.exec(t, "CREATE TABLE t (id int, pad text)")
	ctx := context.Background()
	start := c.currentLSN(t)
	r := startStreamer(t, c)
	c.exec(t, "INSERT INTO t VALUES (1, 'archived')")
	r.waitDurable(t, c.currentLSN(t))
	r.stop(t)

	standby, err := c.pg.StartStandby(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Stop() })
	// WAL the archive never got, then the old primary is lost.
	c.exec(t, "INSERT INTO t SELECT g, repeat('l', 100) FROM generate_series(1, 20000) g")
	lost := c.currentLSN(t)
	deadline := time.Now().Add(30 * time.Second)
	for lsnOf(t, standby.DSN(), "SELECT pg_last_wal_replay_lsn()::text") < lost && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	c.pg.Stop()
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, standby.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := 0; i < 3; i++ { // the new primary recycles what the archive lacks
		for _, q := range []string{"INSERT INTO t SELECT g, 'x' FROM generate_series(1, 5000) g", "SELECT pg_switch_wal()", "CHECKPOINT"} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}

	c.cfg.Postgres.DSN = standby.DSN()
	r2 := startStreamer(t, c)
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (2, 'after the move')"); err != nil {
		t.Fatal(err)
	}
	head := lsnOf(t, standby.DSN(), "SELECT pg_current_wal_flush_lsn()::text")
	r2.waitDurable(t, head)
	ev := strings.Join(r2.s.State().Events, "\n")
	if !strings.Contains(ev, "created replication slot") || !strings.Contains(ev, "GAP: the server no longer has the WAL") {
		t.Errorf("events:\n%s", ev)
	}
	r2.stop(t)
	a := c.archive(t)
	base := backup.WALStart{ID: "old", SystemID: a.SystemID, Timeline: 1, Start: start, Stop: lost}
	res, err := a.VerifyWAL(ctx, []backup.WALStart{base}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || !strings.Contains(strings.Join(res.Problems, "\n"), "base backup old cannot be recovered") {
		t.Fatalf("verify: %q", res.Problems)
	}
}
