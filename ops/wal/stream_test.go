package wal

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// cluster is a PostgreSQL server of a test's own, with a configuration
// whose store and state dir are fresh.
type cluster struct {
	pg  *sandbox.PostgresServer
	cfg *config.Config
	e   *backup.Engine
}

func startCluster(t testing.TB, settings map[string]string) *cluster {
	t.Helper()
	return startClusterSegments(t, settings, 1)
}

// startClusterSegments starts the cluster with WAL segments of segMB MiB
// (0: the server's default, 16).
func startClusterSegments(t testing.TB, settings map[string]string, segMB int) *cluster {
	t.Helper()
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{Settings: settings, WALSegmentMB: segMB})
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() { pg.Stop() })
	cfg := config.Default()
	cfg.Postgres.DSN = pg.DSN()
	cfg.Postgres.WAL.Slot = "opsdeck_test"
	cfg.Postgres.WAL.FlushInterval = 200 * time.Millisecond
	cfg.Backup.Dir = t.TempDir()
	cfg.StateDir = t.TempDir()
	e, err := backup.New(cfg, "test", cfg.OpenAudit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Audit.Close() })
	return &cluster{pg: pg, cfg: cfg, e: e}
}

func (c *cluster) exec(t testing.TB, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (c *cluster) currentLSN(t testing.TB) pgwal.LSN {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), "SELECT pg_current_wal_flush_lsn()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	l, _ := pgwal.ParseLSN(s)
	return l
}

// running is a streamer in a goroutine.
type running struct {
	s      *Streamer
	cancel context.CancelFunc
	done   chan error
}

func startStreamer(t *testing.T, c *cluster) *running {
	t.Helper()
	s := New(c.e)
	s.MinBackoff, s.MaxBackoff = 100*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithCancel(accesstest.Admin(context.Background()))
	r := &running{s: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("streamer ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the streamer did not stop within 30s")
	}
}

// waitDurable waits until the streamer has made lsn durable.
func (r *running) waitDurable(t *testing.T, lsn pgwal.LSN) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st := r.s.State(); st.Durable >= lsn {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("durable %s, want %s; state %+v", r.s.State().Durable, lsn, r.s.State())
}

func (c *cluster) archive(t *testing.T) *backup.WALArchive {
	t.Helper()
	sys, err := backup.WALSystems(context.Background(), c.e.Store)
	if err != nil || len(sys) != 1 {
		t.Fatalf("archives %v %v", sys, err)
	}
	a, err := c.e.WALArchive(sys[0])
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestStreamArchivesEverySegmentAndResumes(t *testing.T) {
	c := startCluster(t, nil)
	r := startStreamer(t, c)
	c.exec(t, "CREATE TABLE t (id int, pad text)")
	for i := 0; i < 3; i++ {
		c.exec(t, "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")
		c.exec(t, "SELECT pg_switch_wal()")
	}
	c.exec(t, "INSERT INTO t VALUES (-1, 'the last row')")
	head := c.currentLSN(t)
	r.waitDurable(t, head)
	st := r.s.State()
	if !strings.Contains(strings.Join(st.Events, "\n"), "created replication slot opsdeck_test") {
		t.Errorf("events %q", st.Events)
	}
	r.stop(t)

	a := c.archive(t)
	cat, err := a.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cat.SegmentCount() < 3 || len(cat.Partials[1]) == 0 || len(cat.Gaps()) != 0 {
		t.Fatalf("catalog: %d segments, partials %v, gaps %v", cat.SegmentCount(), cat.Partials, cat.Gaps())
	}
	res, err := a.VerifyWAL(context.Background(), nil, true, nil)
	if err != nil || !res.OK() {
		t.Fatalf("verify: %v %+v", err, res.Problems)
	}

	// A second streamer resumes where the first stopped: no hole, no
	// chunk twice.
	c.exec(t, "INSERT INTO t SELECT g, repeat('y', 200) FROM generate_series(1, 20000) g")
	r2 := startStreamer(t, c)
	c.exec(t, "SELECT pg_switch_wal()")
	c.exec(t, "INSERT INTO t VALUES (-2, 'after the restart')")
	head2 := c.currentLSN(t)
	r2.waitDurable(t, head2)
	if ev := strings.Join(r2.s.State().Events, "\n"); !strings.Contains(ev, "resuming at") {
		t.Errorf("second streamer: %s", ev)
	}
	r2.stop(t)
	res, err = a.VerifyWAL(context.Background(), nil, true, nil)
	if err != nil || !res.OK() || len(res.Gaps) != 0 {
		t.Fatalf("verify after resume: %v %+v gaps %v", err, res.Problems, res.Gaps)
	}
	cat, _ = a.Catalog(context.Background())
	if len(cat.Stale) != 0 {
		t.Errorf("chunks of whole segments left: %v", cat.Stale)
	}
}
