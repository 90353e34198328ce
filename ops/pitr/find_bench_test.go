package pitr

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/sandbox"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// BenchmarkFindVsPgWaldump: OPSDECK_BENCH_WAL_MB (default 1024) MiB of
// WAL of 16 MiB segments streamed into a local store — pgbench -i, then
// UPDATEs of every account (many small heap records with full-page
// images) and pgbench runs (small transactions) until the WAL is that
// long —, then in the same run: opsdeck's wal find over the archive (its
// own decoder, the segments decompressed on the way) against pg_waldump
// over the same segments decompressed beforehand, to /dev/null. Goal:
// wal find ≤ 0.5× pg_waldump's wall time.
func BenchmarkFindVsPgWaldump(b *testing.B) {
	if os.Getenv("OPSDECK_BENCH_FIND") != "1" {
		b.Skip("set OPSDECK_BENCH_FIND=1 (scripts/bench-pitr.sh) to run the wal find comparison")
	}
	ctx := accesstest.Admin(context.Background())
	want := pgwal.LSN(sandbox.EnvInt("OPSDECK_BENCH_WAL_MB", 1024)) << 20
	bin, err := sandbox.PostgresBinDir()
	if err != nil {
		b.Skip(err)
	}
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{Settings: map[string]string{"max_wal_size": "4GB"}})
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Stop()
	work := b.TempDir()
	cfg := config.Default()
	cfg.Postgres.DSN = pg.DSN()
	cfg.Postgres.WAL.Slot = "bench_find"
	cfg.Backup.Dir = filepath.Join(work, "store")
	cfg.StateDir = filepath.Join(work, "state")
	e, err := backup.New(cfg, "bench", cfg.OpenAudit())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Audit.Close()
	s := opwal.New(e)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	a := &archived{pg: pg, e: e, cfg: cfg, streamer: s}

	start, _ := pgwal.ParseLSN(a.exec(b, "SELECT pg_current_wal_lsn()::text"))
	pgbench := filepath.Join(bin, "pgbench")
	if out, err := exec.Command(pgbench, "-i", "-q", "-s", "10", pg.DSN()).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	for {
		head, _ := pgwal.ParseLSN(a.exec(b, "SELECT pg_current_wal_lsn()::text"))
		if head-start >= want {
			break
		}
		a.exec(b, "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 3 = 0")
		if out, err := exec.Command(pgbench, "-n", "-c", "4", "-j", "2", "-t", "2000", pg.DSN()).CombinedOutput(); err != nil {
			b.Fatalf("pgbench: %v\n%s", err, out)
		}
	}
	a.archivedTo(b)
	stop()
	if err := <-done; err != nil {
		b.Fatal(err)
	}

	// pg_waldump's input: the segments decompressed (not timed).
	arch, cat, err := newestArchive(ctx, e)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(work, "segments")
	os.Mkdir(dir, 0o755)
	pieces := cat.Lineage(nil)
	for _, p := range pieces {
		data, err := arch.ReadPiece(ctx, cat, p)
		if err != nil {
			b.Fatal(err)
		}
		full := make([]byte, cat.Info.SegmentSize)
		copy(full, data)
		if err := os.WriteFile(filepath.Join(dir, p.Segment.Name(cat.Info.SegmentSize)), full, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var ours, theirs time.Duration
	var f *Found
	for range b.N {
		t0 := time.Now()
		f, err = Find(ctx, e, FindOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		cmd := exec.Command(filepath.Join(bin, "pg_waldump"), "--path", dir,
			pieces[0].Segment.Name(cat.Info.SegmentSize), pieces[len(pieces)-1].Segment.Name(cat.Info.SegmentSize))
		t0 = time.Now()
		_ = cmd.Run() // stdout to /dev/null; it ends with an error at the WAL's end
		theirs += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(ours.Seconds()/float64(b.N), "find-s")
	b.ReportMetric(theirs.Seconds()/float64(b.N), "pg_waldump-s")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
	b.Logf("%d segments, %s of WAL, %d records, %d events: wal find %.2fs, pg_waldump %.2fs: %.2f×",
		f.Segments, progress.Bytes(f.Bytes), f.Records, len(f.Events), ours.Seconds()/float64(b.N), theirs.Seconds()/float64(b.N), ours.Seconds()/theirs.Seconds())
}
