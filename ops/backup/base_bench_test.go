package backup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/runner"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// BenchmarkBaseVsPgBasebackup: opsdeck's base backup (pg_basebackup's tar
// on stdout, hashed member by member against the server's manifest,
// through zstd, SHA-256 and the store, read back; unencrypted) against,
// on the same server in the same run:
//
//   - the anchor, pg_basebackup -Ft -X none -D - | zstd -T2 -3 > file:
//     the same tar compressed the same way by the zstd command line;
//   - pg_basebackup -Ft -X none -D dir, the floor (no compression).
//
// Every contender asks for a fast checkpoint. The database is the
// stock-analysis data set at OPSDECK_BENCH_SCALE (16: about 1 GB).
// OPSDECK_BENCH_ROUNDS rounds (default 3) of opsdeck, anchor, floor —
// so they alternate — and the medians, with the median of the per-round
// ratios. CPU time is this process and its children (pg_basebackup,
// zstd), not the server's walsender.
func BenchmarkBaseVsPgBasebackup(b *testing.B) {
	benchEnabled(b)
	ctx := accesstest.Admin(context.Background())
	scale := sandbox.EnvInt("OPSDECK_BENCH_SCALE", 16)
	rounds := sandbox.EnvInt("OPSDECK_BENCH_ROUNDS", 3)
	for _, tool := range []string{"pg_basebackup", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s: %v — run `make deps`", tool, err)
		}
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
	dbSize := databaseSize(b, ctx, pg.DSN())
	b.Logf("seeded in %s: database %.2f GB", time.Since(seedStart).Round(time.Second), float64(dbSize)/1e9)

	dir := b.TempDir()
	os.Chmod(dir, 0o755)
	e := benchEngine(b, dir, func(c *config.Config) { c.Postgres.DSN = pg.DSN() })
	plain, pw := SplitPassword(pg.DSN())
	args := func(target string) []string {
		return []string{"--pgdata=" + target, "--format=tar", "--wal-method=none", "--checkpoint=fast", "--no-password", "--dbname=" + plain}
	}
	anchor := func(out string) error {
		return shellPipeline(out, exec.CommandContext(ctx, "pg_basebackup", args("-")...), pw,
			exec.CommandContext(ctx, "zstd", "-T2", "-3", "-q", "-c"))
	}
	floorDir := filepath.Join(dir, "floor")
	floor := func() error {
		os.RemoveAll(floorDir)
		return runner.Exec{}.Run(ctx, runner.Cmd{Path: "pg_basebackup", Args: args(floorDir), Env: PgEnv(pw), Secrets: []string{pw}})
	}

	type contender struct {
		name string
		runs []measured
		size int64
	}
	ops := &contender{name: "opsdeck backup base"}
	anc := &contender{name: "pg_basebackup -Ft -D - | zstd -T2 -3 (anchor)"}
	flo := &contender{name: "pg_basebackup -Ft -D dir (floor)"}
	ancFile := filepath.Join(dir, "anchor.tar.zst")
	var raw int64
	rounds *= b.N
	b.ResetTimer()
	for i := 0; i < rounds; i++ {
		var res Result
		ops.runs = append(ops.runs, measure(b, ops.name, func() error {
			var err error
			res, err = e.Backup(ctx, Options{Kind: Base})
			return err
		}))
		ops.size = res.Manifest.Size()
		raw = res.Manifest.Components[0].Files[0].RawSize
		e.Store.Delete(ctx, res.Manifest.ID)
		anc.runs = append(anc.runs, measure(b, anc.name, func() error { return anchor(ancFile) }))
		anc.size = sandbox.FileSize(ancFile)
		os.Remove(ancFile)
		flo.runs = append(flo.runs, measure(b, flo.name, floor))
		flo.size = sandbox.FileSize(filepath.Join(floorDir, "base.tar"))
		os.RemoveAll(floorDir)
	}
	b.StopTimer()
	wall := func(m measured) float64 { return m.wall.Seconds() }
	cpu := func(m measured) float64 { return m.cpu.Seconds() }
	med := func(c *contender, f func(measured) float64) float64 {
		var v []float64
		for _, m := range c.runs {
			v = append(v, f(m))
		}
		return median(v)
	}
	ratio := func(c *contender, f func(measured) float64) float64 {
		var v []float64
		for i := range c.runs {
			v = append(v, f(ops.runs[i])/f(c.runs[i]))
		}
		return median(v)
	}
	fmt.Fprintf(os.Stderr, "\nbase backup, stock-analysis scale %d: database %.2f GB, tar %s; medians of %d rounds\n", scale, float64(dbSize)/1e9, human(raw), len(ops.runs))
	fmt.Fprintf(os.Stderr, "  %-46s %8s %8s %10s   %s\n", "", "wall", "cpu", "size", "each round (wall/cpu s)")
	for _, c := range []*contender{ops, anc, flo} {
		var each []string
		for _, m := range c.runs {
			each = append(each, fmt.Sprintf("%.1f/%.1f", wall(m), cpu(m)))
		}
		fmt.Fprintf(os.Stderr, "  %-46s %7.1fs %7.1fs %10s   %s\n", c.name, med(c, wall), med(c, cpu), human(c.size), strings.Join(each, " "))
	}
	fmt.Fprintf(os.Stderr, "  opsdeck / anchor: wall %.2f× (goal ≤ 1.0), cpu %.2f×, size %.2f×\n", ratio(anc, wall), ratio(anc, cpu), float64(ops.size)/float64(anc.size))
	fmt.Fprintf(os.Stderr, "  opsdeck / floor:  wall %.2f×, cpu %.2f×\n", ratio(flo, wall), ratio(flo, cpu))
	b.ReportMetric(med(ops, wall), "opsdeck-s")
	b.ReportMetric(med(anc, wall), "anchor-s")
	b.ReportMetric(ratio(anc, wall), "time/anchor")
	b.ReportMetric(ratio(anc, cpu), "cpu/anchor")
	b.ReportMetric(ratio(flo, wall), "time/floor")
}
