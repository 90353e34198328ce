package metrics_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// The sampling-cost benchmarks of `make bench`. Each iteration is one round
// of the samplers that run every metrics.interval (fast) or every
// metrics.slow_interval (slow), against the real sandbox. Besides ns/op
// they report the process CPU time per round (cpu-ms/op) and the
// statements the Postgres server logged for opsdeck's sessions per round
// (pg-stmts/op, counted with log_statement=all). At the default 2s and 15s
// intervals the goals are under 2% of one core and under 5 statements a
// second: cpu% = fast cpu-ms/op / 20 + slow cpu-ms/op / 150, and
// statements/s = fast pg-stmts/op / 2 + slow pg-stmts/op / 15.

func BenchmarkSampleFast(b *testing.B) {
	s := needSandbox(b)
	th := config.DefaultThresholds()
	conn := opmetrics.NewPostgresConn(s.Postgres.DSN(), 3*time.Second)
	defer conn.Close()
	r := opmetrics.NewRedisSampler(s.Redis.URL(), 3*time.Second, 2*time.Second, th)
	defer r.Close()
	client, err := kube.NewClient(config.KubeConfig{Kubeconfig: s.Kube.KubeconfigPath(), Namespaces: []string{s.KubeSeed.Namespace}}, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	cache, err := kube.NewCache(client, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cache.Start(ctx)
	defer cache.Stop()
	if err := cache.WaitSynced(ctx); err != nil {
		b.Fatal(err)
	}
	ks := opmetrics.KubeFromCache(func(context.Context) (*kube.Cache, *kube.Client, error) { return cache, client, nil })
	prom, err := sandbox.StartPrometheus(ctx, sandbox.PrometheusOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer prom.Stop()
	p, err := opmetrics.NewPrometheusSampler(prom.URL(), 2*time.Second, 2*time.Second, config.DefaultPrometheusPanels(), th)
	if err != nil {
		b.Fatal(err)
	}
	e := opmetrics.NewEngine(opmetrics.Options{}, opmetrics.NewPostgresSampler(conn, 2*time.Second, th), r, opmetrics.NewKubeSampler(ks, 2*time.Second, th), p)
	benchRounds(b, s, e)
}

func BenchmarkSampleSlow(b *testing.B) {
	s := needSandbox(b)
	th := config.DefaultThresholds()
	conn := opmetrics.NewPostgresConn(s.Postgres.DSN(), 3*time.Second)
	defer conn.Close()
	e := opmetrics.NewEngine(opmetrics.Options{}, opmetrics.NewPostgresSizeSampler(conn, 15*time.Second, th),
		opmetrics.NewBusinessSampler(conn, 15*time.Second, config.DefaultBusinessPanels(), th))
	benchRounds(b, s, e)
}

func benchRounds(b *testing.B, s *sandbox.Sandbox, e *opmetrics.Engine) {
	ctx := context.Background()
	e.SampleOnce(ctx) // connect, prepare
	for _, st := range e.Snapshot(0).Sources {
		if !st.OK {
			b.Fatalf("%s: %s", st.Name, st.Err)
		}
	}
	logStatements(b, s, true)
	defer logStatements(b, s, false)
	before := countLogged(b, s)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		e.SampleOnce(ctx)
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	time.Sleep(200 * time.Millisecond) // let the server write its log
	b.ReportMetric(float64(countLogged(b, s)-before)/float64(b.N), "pg-stmts/op")
}

// logStatements turns log_statement=all (with the application name in the
// line prefix) on or off on the sandbox's server.
func logStatements(b *testing.B, s *sandbox.Sandbox, on bool) {
	b.Helper()
	conn, err := pgx.Connect(context.Background(), s.Postgres.DSN())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	stmts := []string{"ALTER SYSTEM RESET log_statement", "ALTER SYSTEM RESET log_line_prefix", "SELECT pg_reload_conf()"}
	if on {
		stmts = []string{"ALTER SYSTEM SET log_statement = 'all'", "ALTER SYSTEM SET log_line_prefix = '%a|'", "SELECT pg_reload_conf()"}
	}
	for _, q := range stmts {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // the reload reaches every backend
}

// countLogged counts the statements logged for opsdeck's sessions.
func countLogged(b *testing.B, s *sandbox.Sandbox) int {
	b.Helper()
	f, err := os.Open(s.Postgres.LogPath())
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "opsdeck|") && (strings.Contains(line, "statement: ") || strings.Contains(line, "execute ")) {
			n++
		}
	}
	return n
}
