package wal

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

// walLine is the check's WAL archive line, failing when there is none.
func walLine(t *testing.T, c *cluster) health.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(accesstest.Admin(context.Background()), 20*time.Second)
	defer cancel()
	for _, r := range health.CheckPostgres(ctx, c.cfg) {
		if r.Name == health.WALArchiveCheck {
			return r
		}
	}
	t.Fatal("no wal archive line in the postgres check")
	return health.Result{}
}

// TestHealthOfTheArchive: the check's line and the textfile metrics while
// the streamer runs; once it stops and the server goes on writing, the slot
// keeps the WAL: the line is critical with the slot's runbook, and maintain
// db names the inactive slot with its fix.
func TestHealthOfTheArchive(t *testing.T) {
	c := startCluster(t, nil)
	c.cfg.Postgres.WAL.Stream = true
	c.cfg.Backup.MetricsDir = t.TempDir()
	r := startStreamer(t, c)
	c.exec(t, "CREATE TABLE h (id int, pad text)")
	c.exec(t, "INSERT INTO h SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")
	c.exec(t, "SELECT pg_switch_wal()")
	c.exec(t, "INSERT INTO h VALUES (-1, 'last')")
	r.waitDurable(t, c.currentLSN(t))

	line := walLine(t, c)
	t.Logf("streaming: %s %s", line.Status, line.Value)
	if line.Status != health.OK || !strings.Contains(line.Value, "streaming (slot opsdeck_test)") || !strings.Contains(line.Value, "last segment") {
		t.Fatalf("while streaming: %+v", line)
	}
	prom := filepath.Join(c.cfg.Backup.MetricsDir, backup.WALMetricsFile)
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(prom)
		if strings.Contains(string(b), `opsdeck_wal_streaming{slot="opsdeck_test"} 1`) && strings.Contains(string(b), "opsdeck_wal_segments") &&
			strings.Contains(string(b), "opsdeck_wal_durable_lsn_bytes") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics file:\n%s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.stop(t)
	if b, _ := os.ReadFile(prom); !strings.Contains(string(b), `opsdeck_wal_streaming{slot="opsdeck_test"} 0`) {
		t.Errorf("metrics after the stop:\n%s", b)
	}

	// The server goes on writing with nobody streaming.
	for i := 0; i < 3; i++ {
		c.exec(t, "INSERT INTO h SELECT g, repeat('y', 200) FROM generate_series(1, 20000) g")
		c.exec(t, "SELECT pg_switch_wal()")
	}
	c.cfg.Thresholds.SlotRetainedBytes.Warn = 1 << 20
	c.cfg.Thresholds.SlotRetainedBytes.Crit = 2 << 20
	line = walLine(t, c)
	t.Logf("stopped: %s %s (%s)", line.Status, line.Value, line.Hint)
	if line.Status != health.Crit || line.Runbook != "slot-retaining-wal" ||
		!strings.Contains(line.Value, "NOT streaming (slot opsdeck_test inactive)") || !strings.Contains(line.Value, "since last write") ||
		!strings.Contains(line.Hint, "opsdeck wal stream") {
		t.Fatalf("after the stop: %+v", line)
	}
	// With the thresholds as shipped, an inactive slot while streaming is
	// on is still a warning.
	c.cfg.Thresholds.SlotRetainedBytes.Warn, c.cfg.Thresholds.SlotRetainedBytes.Crit = 1<<30, 4<<30
	if line = walLine(t, c); line.Status != health.Warn {
		t.Errorf("inactive with default thresholds: %+v", line)
	}
	// Streaming off, the slot still there: still shown (the slot keeps WAL).
	c.cfg.Postgres.WAL.Stream = false
	if line = walLine(t, c); line.Status == health.OK && !strings.Contains(line.Value, "NOT streaming") {
		t.Errorf("stream off, slot left: %+v", line)
	}

	ctx := accesstest.Admin(context.Background())
	pool, err := pgxpool.New(ctx, c.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	slots, missing, err := postgres.ReadSlots(ctx, pool, 5*time.Second)
	if err != nil || len(missing) != 0 {
		t.Fatal(err, missing)
	}
	fs := opmaintain.SlotFindings(slots, nil, c.cfg)
	if len(fs) != 1 || fs[0].Status != health.Crit || fs[0].Object != "opsdeck_test" ||
		!strings.Contains(fs[0].Suggestion, "SELECT pg_drop_replication_slot('opsdeck_test');") {
		t.Fatalf("maintain findings: %+v", fs)
	}

	// The slot gone and streaming off: no line at all.
	c.exec(t, "SELECT pg_drop_replication_slot('opsdeck_test')")
	for _, r := range health.CheckPostgres(accesstest.Admin(context.Background()), c.cfg) {
		if r.Name == health.WALArchiveCheck {
			t.Errorf("archive not in use, yet: %+v", r)
		}
	}
}
