package restore_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// BenchmarkDrillVsPgRestore: a database drill of the ~1 GB benchmark set
// into a temporary instance — the instance's start, the dump staged and
// checked, pg_restore --jobs 2, every table's fingerprint recomputed, the
// instance removed — against plain `pg_restore -j2` of a `pg_dump -Fc`
// file of the same database into a fresh database on the same server, in
// the same run, OPSDECK_BENCH_ROUNDS rounds (default 3), medians. Goals:
// the drill's wall time (to its proof) ≤ 1.2× pg_restore's; its
// fingerprint pass alone ≤ 0.15× of its restore step.
func BenchmarkDrillVsPgRestore(b *testing.B) {
	benchEnabled(b)
	ctx := accesstest.Admin(context.Background())
	in := newBenchInputs(b, ctx)
	defer in.close()
	// The temporary instance runs as postgres: a work directory it reaches.
	work, err := os.MkdirTemp("", "opsdeck-drill-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(work)
	os.Chmod(work, 0o755)
	in.cfg.Restore.WorkDir = work
	eng := oprestore.New(in.be)
	rounds := sandbox.EnvInt("OPSDECK_BENCH_ROUNDS", 3)
	var wall, prove []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for n := 1; n <= rounds; n++ {
			plain, _ := in.plainRestore(b, ctx)
			in.db.exec(b, "CHECKPOINT")
			clk := &stepClock{mt: in.mt}
			var rep *oprestore.Report
			drill := in.mt.measure(b, "opsdeck drill database", func() error {
				plan, err := eng.Prepare(ctx, oprestore.Options{Kind: oprestore.Database, Drill: config.DrillInstance}, nil)
				if err != nil {
					return err
				}
				if err := plan.Blocked(); err != nil {
					return err
				}
				rep, err = eng.Run(ctx, plan, clk.progress())
				return err
			})
			restore, proof := clk.step("database.restore"), clk.step("database.prove")
			fmt.Fprintf(os.Stderr, "\nround %d of %d: pg_restore -j2 %.1fs; drill %.1fs (RTO %.1fs", n, rounds, plain.wall.Seconds(), drill.wall.Seconds(), rep.Drill.RTO.Seconds())
			for _, s := range rep.Steps {
				fmt.Fprintf(os.Stderr, ", %s %.1fs", s.Name, clk.step(s.Name).wall.Seconds())
			}
			fmt.Fprintf(os.Stderr, "); drill/pg_restore %.2f×, fingerprints/restore step %.2f×\n",
				drill.wall.Seconds()/plain.wall.Seconds(), proof.wall.Seconds()/restore.wall.Seconds())
			wall = append(wall, drill.wall.Seconds()/plain.wall.Seconds())
			prove = append(prove, proof.wall.Seconds()/restore.wall.Seconds())
		}
	}
	b.StopTimer()
	w, p := median(wall), median(prove)
	b.ReportMetric(w, "drill/pgrestore")
	b.ReportMetric(p, "prove/restore")
	fmt.Fprintf(os.Stderr, "\nmedians of %d rounds: drill wall / pg_restore -j2 %.2f× (goal ≤ 1.2); fingerprint pass / restore step %.2f× (goal ≤ 0.15)\n", len(wall), w, p)
}
