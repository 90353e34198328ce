package backup

import (
	"context"
	"errors"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/proc"
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
func measure(b testing.TB, name string, f func() error) measured {
	b.Helper()
	start, cpu := time.Now(), sandbox.ProcessCPU()
	if err := f(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return measured{time.Since(start), sandbox.ProcessCPU() - cpu}
}

// BenchmarkDatabaseVsPgDump: opsdeck's database backup (pg_dump -Fc -Z0
// streamed through zstd, SHA-256, the row counts and the store, proved
// stored before it reports "verified") against, on the same server in the
// same run:
//
//   - the anchor, pg_dump -Fc -Z0 | zstd -T2 -3 > file: the same archive,
//     compressed the same way by the zstd command line;
//   - pg_dump -Fc > file (gzip inside pg_dump);
//   - pg_dump -Fc -Z0 > file, the data-movement floor.
//
// Two databases of about the same size: the stock-analysis data set
// (numeric COPY text, compresses about 4×) and a pgbench one (pgbench -i,
// mostly blank-padded filler, compresses about 20×, where gzip is cheap).
// Each is dumped in OPSDECK_BENCH_ROUNDS rounds (default 3) of opsdeck,
// anchor, pg_dump -Fc, floor — so opsdeck and the anchor alternate — and
// the medians are reported, with the median of the per-round ratios.
// CPU time is this process and its children (pg_dump, zstd), not the
// server.
func BenchmarkDatabaseVsPgDump(b *testing.B) {
	benchEnabled(b)
	ctx := accesstest.Admin(context.Background())
	scale := sandbox.EnvInt("OPSDECK_BENCH_SCALE", 16)
	rounds := sandbox.EnvInt("OPSDECK_BENCH_ROUNDS", 3)
	for _, tool := range []string{"pg_dump", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s: %v — run `make deps`", tool, err)
		}
	}
	pgbench, err := pgbenchPath()
	if err != nil {
		b.Fatal(err)
	}
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
	stockSize := databaseSize(b, ctx, pg.DSN())
	b.Logf("seeded in %s: database %.2f GB", time.Since(seedStart).Round(time.Second), float64(stockSize)/1e9)

	// pgbench's scale 1 is about 16 MB with its indexes: size the pgbench
	// database like the stock one.
	pgbScale := sandbox.EnvInt("OPSDECK_BENCH_PGBENCH_SCALE", max(1, int((stockSize+8_000_000)/16_000_000)))
	seedStart = time.Now()
	if err := seedPgbench(ctx, pg, pgbench, pgbScale); err != nil {
		b.Fatal(err)
	}
	pgbSize := databaseSize(b, ctx, pg.DSNFor(pgbenchDatabase))
	b.Logf("pgbench -i -s %d in %s: database %.2f GB", pgbScale, time.Since(seedStart).Round(time.Second), float64(pgbSize)/1e9)

	for _, db := range []struct {
		name, dsn, about string
		size             int64
	}{
		{"stock", pg.DSN(), fmt.Sprintf("stock-analysis scale %d", scale), stockSize},
		{"pgbench", pg.DSNFor(pgbenchDatabase), fmt.Sprintf("pgbench -i -s %d", pgbScale), pgbSize},
	} {
		b.Run(db.name, func(b *testing.B) {
			benchDatabase(b, ctx, db.dsn, db.about, db.size, rounds)
		})
	}
}

// pgbenchDatabase is the database the benchmark fills with pgbench -i.
const pgbenchDatabase = "pgbench"

// benchDatabase runs the rounds on one database and prints the note's table.
func benchDatabase(b testing.TB, ctx context.Context, dsn, about string, dbSize int64, rounds int) {
	dir := b.TempDir()
	os.Chmod(dir, 0o755)
	e := benchEngine(b, dir, func(c *config.Config) { c.Postgres.DSN = dsn })
	plain, pw := SplitPassword(dsn)
	dumpArgs := func(extra ...string) []string {
		return append([]string{"--format=custom", "--no-password", "--dbname=" + plain}, extra...)
	}
	pgDump := func(out string, extra ...string) error {
		return shellPipeline(out, exec.CommandContext(ctx, "pg_dump", dumpArgs(extra...)...), pw)
	}
	// The anchor: the same archive through the zstd command line.
	anchor := func(out string) error {
		return shellPipeline(out, exec.CommandContext(ctx, "pg_dump", dumpArgs("--compress=0")...), pw,
			exec.CommandContext(ctx, "zstd", "-T2", "-3", "-q", "-c"))
	}

	type contender struct {
		name      string
		runs      []measured
		size, raw int64
	}
	ops := &contender{name: "opsdeck backup database"}
	anc := &contender{name: "pg_dump -Fc -Z0 | zstd -T2 -3 (anchor)"}
	fc := &contender{name: "pg_dump -Fc"}
	z0 := &contender{name: "pg_dump -Fc -Z0 (floor)"}
	ancFile, fcFile, z0File := filepath.Join(dir, "anchor.dump.zst"), filepath.Join(dir, "fc.dump"), filepath.Join(dir, "z0.dump")
	// OPSDECK_BENCH_QUICK=1 runs opsdeck and the anchor only, for iterating.
	quick := os.Getenv("OPSDECK_BENCH_QUICK") == "1"
	if bb, ok := b.(*testing.B); ok {
		rounds *= bb.N
		bb.ResetTimer()
		defer bb.StopTimer()
	}
	for i := 0; i < rounds; i++ {
		var res Result
		ops.runs = append(ops.runs, measure(b, ops.name, func() error {
			var err error
			res, err = e.Backup(ctx, Options{Kind: Database})
			return err
		}))
		ops.size = res.Manifest.Size()
		ops.raw = res.Manifest.Components[0].Files[0].RawSize
		e.Store.Delete(ctx, res.Manifest.ID)
		anc.runs = append(anc.runs, measure(b, anc.name, func() error { return anchor(ancFile) }))
		if !quick {
			fc.runs = append(fc.runs, measure(b, fc.name, func() error { return pgDump(fcFile) }))
			z0.runs = append(z0.runs, measure(b, z0.name, func() error { return pgDump(z0File, "--compress=0") }))
		}
		anc.size, fc.size, z0.size = sandbox.FileSize(ancFile), sandbox.FileSize(fcFile), sandbox.FileSize(z0File)
		for _, f := range []string{ancFile, fcFile, z0File} {
			os.Remove(f)
		}
	}
	wall := func(m measured) float64 { return m.wall.Seconds() }
	cpu := func(m measured) float64 { return m.cpu.Seconds() }
	med := func(c *contender, f func(measured) float64) float64 {
		var v []float64
		for _, m := range c.runs {
			v = append(v, f(m))
		}
		return median(v)
	}
	// ratio is the median of the per-round ratios of opsdeck to c.
	ratio := func(c *contender, f func(measured) float64) float64 {
		var v []float64
		for i := range c.runs {
			v = append(v, f(ops.runs[i])/f(c.runs[i]))
		}
		return median(v)
	}
	raw := z0.size
	if quick {
		raw = ops.raw
	}
	fmt.Fprintf(os.Stderr, "\n%s: database %.2f GB, dump %s raw; medians of %d rounds\n", about, float64(dbSize)/1e9, human(raw), len(ops.runs))
	fmt.Fprintf(os.Stderr, "  %-42s %8s %8s %10s   %s\n", "", "wall", "cpu", "size", "each round (wall/cpu s)")
	for _, c := range []*contender{ops, anc, fc, z0} {
		if len(c.runs) == 0 {
			continue
		}
		var each []string
		for _, m := range c.runs {
			each = append(each, fmt.Sprintf("%.1f/%.1f", wall(m), cpu(m)))
		}
		fmt.Fprintf(os.Stderr, "  %-42s %7.1fs %7.1fs %10s   %s\n", c.name, med(c, wall), med(c, cpu), human(c.size), strings.Join(each, " "))
	}
	fmt.Fprintf(os.Stderr, "  opsdeck / anchor:      wall %.2f× (goal ≤ 1.15), cpu %.2f×, size %.2f×\n", ratio(anc, wall), ratio(anc, cpu), float64(ops.size)/float64(anc.size))
	if !quick {
		fmt.Fprintf(os.Stderr, "  opsdeck / pg_dump -Fc: wall %.2f×, cpu %.2f×, size %.2f×\n", ratio(fc, wall), ratio(fc, cpu), float64(ops.size)/float64(fc.size))
		fmt.Fprintf(os.Stderr, "  opsdeck / floor:       wall %.2f×, cpu %.2f×\n", ratio(z0, wall), ratio(z0, cpu))
	}
	bb, ok := b.(*testing.B)
	if !ok {
		return
	}
	bb.ReportMetric(med(ops, wall), "opsdeck-s")
	bb.ReportMetric(med(anc, wall), "anchor-s")
	bb.ReportMetric(ratio(anc, wall), "time/anchor")
	bb.ReportMetric(ratio(anc, cpu), "cpu/anchor")
	bb.ReportMetric(float64(ops.size)/float64(anc.size), "size/anchor")
	if !quick {
		bb.ReportMetric(med(fc, wall), "pgdump-Fc-s")
		bb.ReportMetric(ratio(fc, wall), "time/Fc")
		bb.ReportMetric(ratio(fc, cpu), "cpu/Fc")
	}
}

// shellPipeline runs first | rest... > out as a shell does: each program's
// stdout is the next one's stdin (a pipe between two processes, nothing in
// between) and the last one writes the file itself. password goes in
// first's environment.
func shellPipeline(out string, first *exec.Cmd, password string, rest ...*exec.Cmd) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	first.Env = append(os.Environ(), PgEnv(password)...)
	cmds := append([]*exec.Cmd{first}, rest...)
	stderr := make([]strings.Builder, len(cmds))
	var pipes []*os.File
	for i, c := range cmds {
		c.Stderr = &stderr[i]
		if i == len(cmds)-1 {
			c.Stdout = f
			continue
		}
		rd, wr, err := os.Pipe()
		if err != nil {
			return err
		}
		c.Stdout, cmds[i+1].Stdin = wr, rd
		pipes = append(pipes, rd, wr)
	}
	var children []*proc.Child
	for _, c := range cmds {
		child, err := proc.Start(c)
		if err != nil {
			for _, p := range pipes {
				p.Close()
			}
			for _, ch := range children {
				ch.Wait()
			}
			return fmt.Errorf("%s: %w", c.Path, err)
		}
		children = append(children, child)
	}
	for _, p := range pipes {
		p.Close() // the children hold their ends
	}
	var errs []error
	for i, ch := range children {
		if err := ch.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w: %s", cmds[i].Path, err, strings.TrimSpace(stderr[i].String())))
		}
	}
	return errors.Join(errs...)
}

// pgbenchPath finds pgbench beside the server's binaries, else on PATH.
func pgbenchPath() (string, error) {
	if dir, err := sandbox.PostgresBinDir(); err == nil {
		if p := filepath.Join(dir, "pgbench"); sandbox.FileSize(p) > 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("pgbench")
	if err != nil {
		return "", fmt.Errorf("pgbench: %w — run `make deps`", err)
	}
	return p, nil
}

// seedPgbench creates pgbenchDatabase and fills it with pgbench -i at scale.
func seedPgbench(ctx context.Context, pg *sandbox.PostgresServer, pgbench string, scale int) error {
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgbenchDatabase)
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("create database %s: %w", pgbenchDatabase, err)
	}
	plain, pw := SplitPassword(pg.DSNFor(pgbenchDatabase))
	return runner.Exec{}.Run(ctx, runner.Cmd{Path: pgbench, Args: []string{"-i", "-q", "-s", strconv.Itoa(scale), plain}, Env: PgEnv(pw), Secrets: []string{pw}})
}

// databaseSize is pg_database_size of the database at dsn.
func databaseSize(b *testing.B, ctx context.Context, dsn string) int64 {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
func benchEngine(b testing.TB, dir string, set func(*config.Config)) *Engine {
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
