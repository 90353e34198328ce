package backup

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/runner"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// The comparison benchmarks start their own servers and seed them, so they
// run only when asked: scripts/bench-backup.sh (make bench) sets
// OPSDECK_BENCH_BACKUP=1. OPSDECK_BENCH_SCALE sizes the database (default
// 16: about 1 GB with indexes); OPSDECK_BENCH_KEYS the Redis keys (1,000,000).
func benchEnabled(b *testing.B) {
	if os.Getenv("OPSDECK_BENCH_BACKUP") != "1" {
		b.Skip("set OPSDECK_BENCH_BACKUP=1 (scripts/bench-backup.sh) to run the backup comparison")
	}
}

// measured is one contender's wall and CPU time.
type measured struct{ wall, cpu time.Duration }

// measure runs f once and returns its wall and CPU time.
func measure(b *testing.B, name string, f func() error) measured {
	b.Helper()
	start, cpu := time.Now(), sandbox.ProcessCPU()
	if err := f(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return measured{time.Since(start), sandbox.ProcessCPU() - cpu}
}

// BenchmarkDatabaseVsPgDump: opsdeck's database backup (pg_dump -Fc -Z0
// streamed through SHA-256, multi-threaded zstd and the store, then read
// back and re-hashed) against pg_dump -Fc to a file and pg_dump -Fc -Z0 to
// a file, on the same seeded database in the same run.
func BenchmarkDatabaseVsPgDump(b *testing.B) {
	benchEnabled(b)
	ctx := accesstest.Admin(context.Background())
	scale := sandbox.EnvInt("OPSDECK_BENCH_SCALE", 16)
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Stop()
	b.Logf("seeding scale %d (%d price rows)…", scale, sandbox.PostgresSeedPriceRows(scale))
	seedStart := time.Now()
	if _, err := sandbox.SeedPostgres(ctx, pg.DSN(), scale); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		b.Fatal(err)
	}
	var dbSize int64
	conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&dbSize)
	conn.Close(ctx)
	b.Logf("seeded in %s: database %.2f GB", time.Since(seedStart).Round(time.Second), float64(dbSize)/1e9)

	dir := b.TempDir()
	os.Chmod(dir, 0o755)
	dsn, pw := SplitPassword(pg.DSN())
	pgDump := func(out string, extra ...string) error {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		args := append([]string{"--format=custom", "--no-password", "--dbname=" + dsn}, extra...)
		return runner.Exec{}.Run(ctx, runner.Cmd{Path: "pg_dump", Args: args, Env: PgEnv(pw), Stdout: f})
	}
	e := benchEngine(b, dir, func(c *config.Config) { c.Postgres.DSN = pg.DSN() })

	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mFc := measure(b, "pg_dump -Fc", func() error { return pgDump(filepath.Join(dir, "fc.dump")) })
		mZ0 := measure(b, "pg_dump -Fc -Z0", func() error { return pgDump(filepath.Join(dir, "z0.dump"), "--compress=0") })
		var res Result
		mOps := measure(b, "opsdeck backup database", func() error {
			var err error
			res, err = e.Backup(ctx, Options{Kind: Database})
			return err
		})
		tFc, tZ0, tOps := mFc.wall, mZ0.wall, mOps.wall
		size = res.Manifest.Size()
		fcSize, z0Size := sandbox.FileSize(filepath.Join(dir, "fc.dump")), sandbox.FileSize(filepath.Join(dir, "z0.dump"))
		b.ReportMetric(tOps.Seconds(), "opsdeck-s")
		b.ReportMetric(tFc.Seconds(), "pgdump-Fc-s")
		b.ReportMetric(tZ0.Seconds(), "pgdump-Z0-s")
		b.ReportMetric(tOps.Seconds()/tFc.Seconds(), "time/Fc")
		b.ReportMetric(tOps.Seconds()/tZ0.Seconds(), "time/Z0")
		b.ReportMetric(mOps.cpu.Seconds()/mFc.cpu.Seconds(), "cpu/Fc")
		b.ReportMetric(float64(size)/float64(fcSize), "size/Fc")
		fmt.Fprintf(os.Stderr, "\ndatabase %.2f GB (scale %d); dump %s raw\n", float64(dbSize)/1e9, scale, human(z0Size))
		fmt.Fprintf(os.Stderr, "  %-48s %8s %8s %10s\n", "", "wall", "cpu", "size")
		for _, r := range []struct {
			name string
			m    measured
			size int64
		}{
			{"pg_dump -Fc > file", mFc, fcSize},
			{"pg_dump -Fc -Z0 > file (the floor)", mZ0, z0Size},
			{"opsdeck backup database (zstd, sha256, re-read)", mOps, size},
		} {
			fmt.Fprintf(os.Stderr, "  %-48s %7.1fs %7.1fs %10s\n", r.name, r.m.wall.Seconds(), r.m.cpu.Seconds(), human(r.size))
		}
		fmt.Fprintf(os.Stderr, "  ratios: wall %.2f× pg_dump -Fc (goal ≤ 0.25), %.2f× the floor (goal ≤ 1.3); cpu %.2f× pg_dump -Fc, %.2f× the floor; size %.2f× pg_dump -Fc (goal ≤ 1.0)\n",
			tOps.Seconds()/tFc.Seconds(), tOps.Seconds()/tZ0.Seconds(), mOps.cpu.Seconds()/mFc.cpu.Seconds(), mOps.cpu.Seconds()/mZ0.cpu.Seconds(), float64(size)/float64(fcSize))
		e.Store.Delete(ctx, res.Manifest.ID)
	}
}

// BenchmarkRedisVsRedisCLI: opsdeck's Redis snapshot (SYNC, CRC-64 parse,
// zstd, store, read back) against `redis-cli --rdb FILE` on the same server.
func BenchmarkRedisVsRedisCLI(b *testing.B) {
	benchEnabled(b)
	ctx := accesstest.Admin(context.Background())
	keys := sandbox.EnvInt("OPSDECK_BENCH_KEYS", 1_000_000)
	rs, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{Password: "bench-pw", MaxMemory: "4gb"})
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Stop()
	c := goredis.NewClient(&goredis.Options{Addr: rs.Addr(), Password: rs.Password, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer c.Close()
	fill := time.Now()
	for i := 0; i < keys; i += 10_000 {
		p := c.Pipeline()
		for j := i; j < min(i+10_000, keys); j++ {
			switch j % 4 {
			case 0:
				p.Set(ctx, fmt.Sprintf("quote:%07d", j), fmt.Sprintf(`{"px":%.4f,"vol":%d,"ts":%d}`, 10+float64(j%9973)/7.3, j*37%1000003, 1764000000+j), 0)
			case 1:
				p.HSet(ctx, fmt.Sprintf("session:%07d", j), "user", j%5000, "ip", fmt.Sprintf("10.%d.%d.%d", j%250, j/250%250, j%7), "ua", "StockApp/3.4.1")
			case 2:
				p.Set(ctx, fmt.Sprintf("cache:analysis:%07d", j), strings.Repeat(fmt.Sprintf("%x", j*2654435761), 4), time.Duration(1+j%48)*time.Hour)
			case 3:
				p.ZAdd(ctx, fmt.Sprintf("board:%07d", j), goredis.Z{Score: float64(j % 10007), Member: fmt.Sprintf("u%d", j)})
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	dbsize := c.DBSize(ctx).Val()
	b.Logf("filled %d keys in %s", dbsize, time.Since(fill).Round(time.Second))
	dir := b.TempDir()
	e := benchEngine(b, dir, func(c *config.Config) { c.Redis.URL = rs.URL() })
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, "cli.rdb")
		mCLI := measure(b, "redis-cli --rdb", func() error {
			return runner.Exec{}.Run(ctx, runner.Cmd{Path: "redis-cli", Args: []string{"-h", "127.0.0.1", "-p", strconv.Itoa(rs.Port), "--no-auth-warning", "--rdb", out},
				Env: []string{"REDISCLI_AUTH=" + rs.Password}, Stdout: io.Discard})
		})
		var res Result
		mOps := measure(b, "opsdeck backup redis", func() error {
			var err error
			res, err = e.Backup(ctx, Options{Kind: Redis})
			return err
		})
		b.ReportMetric(mOps.wall.Seconds(), "opsdeck-s")
		b.ReportMetric(mCLI.wall.Seconds(), "rediscli-s")
		b.ReportMetric(mOps.wall.Seconds()/mCLI.wall.Seconds(), "time/rediscli")
		fmt.Fprintf(os.Stderr, "\nredis %d keys                          wall     cpu\n  redis-cli --rdb FILE                  %6.2fs %6.2fs %10s\n  opsdeck backup redis (zstd, re-read)  %6.2fs %6.2fs %10s\n  ratio: wall %.2f× redis-cli --rdb (goal ≤ 1.2)\n",
			dbsize, mCLI.wall.Seconds(), mCLI.cpu.Seconds(), human(sandbox.FileSize(out)), mOps.wall.Seconds(), mOps.cpu.Seconds(), human(res.Manifest.Size()), mOps.wall.Seconds()/mCLI.wall.Seconds())
		e.Store.Delete(ctx, res.Manifest.ID)
	}
}

// benchEngine is an engine on a store in dir, at OPSDECK_BENCH_LEVEL.
func benchEngine(b *testing.B, dir string, set func(*config.Config)) *Engine {
	cfg := config.Default()
	cfg.Backup.CompressionLevel = sandbox.EnvInt("OPSDECK_BENCH_LEVEL", cfg.Backup.CompressionLevel)
	cfg.Backup.Dir = filepath.Join(dir, "store")
	cfg.StateDir = filepath.Join(dir, "state")
	set(cfg)
	e, err := New(cfg, "bench", cfg.OpenAudit())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Audit.Close() })
	return e
}

func human(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
