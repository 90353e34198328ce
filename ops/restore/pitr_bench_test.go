package restore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgtemp"
	"github.com/opsdeck/opsdeck/ops/pgwal"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/proc"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/ops/runner"
	"github.com/opsdeck/opsdeck/ops/sandbox"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
)

// BenchmarkPointInTimeVsByHand: on the stock-analysis database at
// OPSDECK_BENCH_SCALE with pgbench's tables beside it, a base backup, then
// a fixed pgbench -t run streamed into the archive
// (OPSDECK_BENCH_PGBENCH_TX transactions per client, 2 clients); then, to
// the archive's head, in the same run:
//
//   - opsdeck: restore database --to-lsn <head> into a new database
//     (recover, copy by parallel COPY streams, verify);
//   - by hand with PostgreSQL's tools, one after another: unpack the base
//     backup (zstd -d | tar -x), copy the WAL out of the archive, start
//     the server with recovery settings and wait for its promotion,
//     pg_dump -Fc -Z0 -f f, createdb and pg_restore -j2 f;
//
// and opsdeck's restore table of pgbench_accounts (about 150 MB), whose
// copy step is held against the database restore's.
func BenchmarkPointInTimeVsByHand(b *testing.B) {
	benchEnabled(b)
	ctx := accesstest.Admin(context.Background())
	scale := sandbox.EnvInt("OPSDECK_BENCH_SCALE", 16)
	txs := sandbox.EnvInt("OPSDECK_BENCH_PGBENCH_TX", 20000)
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Stop()
	b.Logf("seeding scale %d…", scale)
	if _, err := sandbox.SeedPostgres(ctx, pg.DSN(), scale); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("pgbench", "-i", "-q", "-s", "10", pg.DSN()).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	work, err := os.MkdirTemp("", "opsdeck-pitr-bench-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(work, 0o755)
	defer os.RemoveAll(work)
	cfg := config.Default()
	cfg.Postgres.DSN = pg.DSN()
	cfg.Postgres.WAL.Slot = "bench_pitr"
	cfg.Backup.Dir = filepath.Join(work, "store")
	cfg.StateDir = filepath.Join(work, "state")
	cfg.Restore.WorkDir = filepath.Join(work, "restore")
	cfg.Restore.Writers = nil
	be, err := backup.New(cfg, "bench", cfg.OpenAudit())
	if err != nil {
		b.Fatal(err)
	}
	defer be.Audit.Close()
	s := opwal.New(be)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	stopStreamer := sync.OnceFunc(func() { stop(); <-done })
	defer stopStreamer()
	res, err := be.Backup(ctx, backup.Options{Kind: backup.Base})
	if err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	lsn := func() pgwal.LSN {
		var l string
		conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&l)
		v, _ := pgwal.ParseLSN(l)
		return v
	}
	from := lsn()
	start := time.Now()
	if out, err := exec.Command("pgbench", "-n", "-c", "2", "-j", "2", "-t", strconv.Itoa(txs), pg.DSN()).CombinedOutput(); err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	conn.Exec(ctx, "CHECKPOINT")
	head := lsn()
	for s.State().Durable < head {
		time.Sleep(50 * time.Millisecond)
	}
	var dbBytes int64
	conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&dbBytes)
	b.Logf("base backup %s; pgbench wrote %s of WAL in %s; database %s", res.Manifest.ID, human(int64(head-from)), time.Since(start).Round(time.Second), human(dbBytes))
	stopStreamer()

	target := &pitr.Target{LSN: head}
	eng := oprestore.New(be)
	b.ResetTimer()
	t0 := time.Now()
	plan, err := eng.Prepare(ctx, oprestore.Options{Kind: oprestore.Database, TargetDB: "bench_pitr_opsdeck", NoSafetyBackup: true, PointInTime: target}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := plan.Blocked(); err != nil {
		b.Fatal(err)
	}
	rep, err := eng.Run(ctx, plan, nil)
	if err != nil {
		b.Fatalf("opsdeck: %v", err)
	}
	opsWall := time.Since(t0)
	steps := map[string]time.Duration{}
	for _, st := range rep.Steps {
		steps[st.Name] = st.Took
	}

	hand := byHand(b, ctx, be, res.Manifest, pg, work, head)
	var handWall time.Duration
	for _, h := range hand {
		handWall += h.took
	}

	// pgbench_accounts at pgbench's scale 10: about 150 MB with its key.
	largest := "pgbench_accounts"
	tplan, err := eng.Prepare(ctx, oprestore.Options{Kind: oprestore.Table, Tables: []string{largest}, Into: largest + "_bench", PointInTime: target}, nil)
	if err != nil {
		b.Fatal(err)
	}
	trep, err := eng.Run(ctx, tplan, nil)
	if err != nil {
		b.Fatalf("table restore: %v", err)
	}
	var tableCopy time.Duration
	for _, st := range trep.Steps {
		if st.Name == "table.copy" {
			tableCopy = st.Took
		}
	}
	var tableBytes int64
	conn.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass)", largest).Scan(&tableBytes)
	b.StopTimer()

	fmt.Printf("\npoint-in-time restore of a %s database (scale %d, pgbench tables, %s of WAL after the base backup) to the archive's head\n", human(dbBytes), scale, human(int64(head-from)))
	fmt.Printf("  opsdeck restore database --to-lsn   %8s  (recover %s, copy %s, verify %s)\n", opsWall.Round(time.Millisecond),
		steps["database.recover"].Round(time.Millisecond), steps["database.restore"].Round(time.Millisecond), steps["database.verify"].Round(time.Millisecond))
	var parts []string
	for _, h := range hand {
		parts = append(parts, fmt.Sprintf("%s %s", h.name, h.took.Round(time.Millisecond)))
	}
	fmt.Printf("  by hand                             %8s  (%s)\n", handWall.Round(time.Millisecond), strings.Join(parts, ", "))
	fmt.Printf("  opsdeck / by hand: %.2f× (goal ≤ 0.8)\n", opsWall.Seconds()/handWall.Seconds())
	fmt.Printf("  restore table %s (%s): copy %s against the database copy %s: %.2f× (goal ≤ 0.15)\n", largest, human(tableBytes),
		tableCopy.Round(time.Millisecond), steps["database.restore"].Round(time.Millisecond), tableCopy.Seconds()/steps["database.restore"].Seconds())
	b.ReportMetric(opsWall.Seconds()/handWall.Seconds(), "time/byhand")
	b.ReportMetric(tableCopy.Seconds()/steps["database.restore"].Seconds(), "tablecopy/dbcopy")
}

type handStep struct {
	name string
	took time.Duration
}

// byHand is the same recovery and copy with PostgreSQL's tools, one step
// after another.
func byHand(b *testing.B, ctx context.Context, be *backup.Engine, set *backup.Manifest, pg *sandbox.PostgresServer, work string, head pgwal.LSN) []handStep {
	b.Helper()
	var out []handStep
	timed := func(name string, f func() error) {
		t := time.Now()
		if err := f(); err != nil {
			b.Fatalf("by hand, %s: %v", name, err)
		}
		out = append(out, handStep{name, time.Since(t)})
	}
	dir, err := os.MkdirTemp(work, "hand-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	data, wal := filepath.Join(dir, "data"), filepath.Join(dir, "wal")
	os.Mkdir(data, 0o700)
	os.Mkdir(wal, 0o755)
	comp, _ := set.Component(backup.Base)
	var tarFile backup.File
	for _, f := range comp.Files {
		if f.Format == backup.FormatBaseTar {
			tarFile = f
		}
	}
	timed("unpack (zstd -d | tar -x)", func() error {
		cmd := exec.Command("sh", "-c", fmt.Sprintf("zstd -dc %q | tar -x -C %q", filepath.Join(be.Config.Backup.Dir, set.ID, tarFile.Name), data))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		os.Rename(filepath.Join(data, "postgresql.auto.conf"), filepath.Join(data, "postgresql.auto.conf.origin"))
		return nil
	})
	acct, err := proc.ServiceAccount("postgres")
	if err != nil {
		b.Fatal(err)
	}
	timed("copy the WAL", func() error {
		sys, err := backup.WALSystems(ctx, be.Store)
		if err != nil || len(sys) == 0 {
			return fmt.Errorf("no archive: %v", err)
		}
		a, err := be.WALArchive(sys[0])
		if err != nil {
			return err
		}
		_, err = a.StageWAL(ctx, wal, backup.StageOptions{Chown: acct.Chown})
		return err
	})
	var inst *pgtemp.Instance
	timed("recover and promote", func() error {
		inst, err = pgtemp.Start(ctx, pgtemp.Options{BaseDir: dir, DataDir: data, Superuser: sandbox.PostgresSuperuser,
			Recovery: &pgtemp.Recovery{RestoreCommand: "cp " + wal + "/%f %p", TargetAction: "promote"}}) // to the end of the WAL: the head
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
		return inst.WaitRecovery(wctx)
	})
	defer inst.Remove()
	dump := filepath.Join(dir, "f.dump")
	timed("pg_dump -Fc -Z0", func() error {
		return runner.Exec{}.Run(ctx, runner.Cmd{Path: filepath.Join(inst.BinDir, "pg_dump"),
			Args: []string{"--host=" + inst.Dir, fmt.Sprintf("--port=%d", inst.Port), "--username=" + inst.Superuser, "--format=custom", "--compress=0", "--file=" + dump, "--dbname=" + sandbox.PostgresDatabase}})
	})
	timed("createdb and pg_restore -j2", func() error {
		_, pw := backup.SplitPassword(pg.DSNFor("postgres"))
		c, err := pgx.Connect(ctx, pg.DSNFor("postgres"))
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, "CREATE DATABASE bench_pitr_hand")
		c.Close(ctx)
		if err != nil {
			return err
		}
		target, _ := backup.SplitPassword(pg.DSNFor("bench_pitr_hand"))
		return runner.Exec{}.Run(ctx, runner.Cmd{Path: "pg_restore", Args: []string{"--jobs=2", "--no-password", "--dbname=" + target, dump}, Env: backup.PgEnv(pw)})
	})
	return out
}
