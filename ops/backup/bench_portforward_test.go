package backup

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// BenchmarkDatabaseThroughPortForward: the same database backup over a
// direct connection and through a port-forward over the API server (the
// sandbox's kube-apiserver and fake kubelet), alternating, in the same
// run; it prints the medians and their ratio (the goal: ≤ 1.3×).
//
//	OPSDECK_BENCH_PF_SCALE   database size (default 4 ≈ 250 MB)
//	OPSDECK_BENCH_ROUNDS     rounds per contender (default 3)
func BenchmarkDatabaseThroughPortForward(b *testing.B) {
	benchEnabled(b)
	ctx := accesstest.Admin(context.Background())
	scale := sandbox.EnvInt("OPSDECK_BENCH_PF_SCALE", 4)
	rounds := sandbox.EnvInt("OPSDECK_BENCH_ROUNDS", 3)
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Stop()
	if _, err := sandbox.SeedPostgres(ctx, pg.DSN(), scale); err != nil {
		b.Fatal(err)
	}
	size := databaseSize(b, ctx, pg.DSN())
	kctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	kube, err := sandbox.StartKube(kctx, sandbox.KubeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer kube.Stop()
	if _, err := sandbox.SeedKube(kctx, kube.Config(), sandbox.KubeSeedOptions{}); err != nil {
		b.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(kube.Config())
	if err != nil {
		b.Fatal(err)
	}
	if err := sandbox.InClusterServer(kctx, cs, kube.Kubelet(), "bench-pf", "postgres", 5432, pg.Port); err != nil {
		b.Fatal(err)
	}
	direct := benchEngine(b, b.TempDir(), func(c *config.Config) { c.Postgres.DSN = pg.DSN() })
	tunneled := benchEngine(b, b.TempDir(), func(c *config.Config) {
		c.Postgres.DSN = pg.DSN()
		c.Postgres.Service = "bench-pf/postgres"
		c.Kubernetes.Kubeconfig = kube.KubeconfigPath()
	})
	var walls [2][]time.Duration
	for range rounds {
		for i, e := range []*Engine{direct, tunneled} {
			m := measure(b, []string{"direct", "port-forward"}[i], func() error {
				_, err := e.Backup(ctx, Options{Kind: Database})
				return err
			})
			walls[i] = append(walls[i], m.wall)
		}
	}
	median := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	d, p := median(walls[0]), median(walls[1])
	fmt.Printf("\nDatabase backup through a port-forward (%s database, median of %d):\n", human(size), rounds)
	fmt.Printf("  direct        %8s\n  port-forward  %8s\n  ratio         %.2f× (goal ≤ 1.3×)\n",
		d.Round(time.Millisecond), p.Round(time.Millisecond), float64(p)/float64(d))
}
