package metrics_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// sampleTwice samples e, waits gap, then samples again (rates need two).
func sampleTwice(t *testing.T, e *opmetrics.Engine, gap time.Duration, between func()) opmetrics.Snapshot {
	t.Helper()
	e.SampleOnce(t.Context())
	if between != nil {
		between()
	}
	time.Sleep(gap)
	e.SampleOnce(t.Context())
	return e.Snapshot(0)
}

func value(t *testing.T, s opmetrics.Snapshot, id string) opmetrics.SeriesView {
	t.Helper()
	v, ok := s.Find(id)
	if !ok {
		t.Fatalf("no series %s", id)
	}
	if v.Err != "" {
		t.Fatalf("%s: %s", id, v.Err)
	}
	return v
}

func TestPostgresUnderLoad(t *testing.T) {
	s := needSandbox(t)
	th := config.DefaultThresholds()
	conn := opmetrics.NewPostgresConn(s.Postgres.DSN(), 3*time.Second)
	defer conn.Close()
	e := opmetrics.NewEngine(opmetrics.Options{}, opmetrics.NewPostgresSampler(conn, time.Second, th))

	idle := sampleTwice(t, e, time.Second, nil)
	idleTPS := value(t, idle, opmetrics.PGTransactions).Value

	load, err := sandbox.StartLoad(t.Context(), sandbox.LoadOptions{PostgresDSN: s.Postgres.DSN(), RedisURL: s.Redis.URL(), Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	busy := sampleTwice(t, e, 2*time.Second, nil)
	if err := load.Stop(); err != nil {
		t.Errorf("stop load: %v", err)
	}
	tps := value(t, busy, opmetrics.PGTransactions)
	tuples := value(t, busy, opmetrics.PGTuples)
	if tps.Value < idleTPS+20 {
		t.Errorf("transactions/s idle %.1f, under load %.1f: want a clear rise", idleTPS, tps.Value)
	}
	if tuples.Value <= 0 || !strings.Contains(tuples.Detail, "written") {
		t.Errorf("tuples/s = %v (%s)", tuples.Value, tuples.Detail)
	}
	if st := load.Stats(); st.Requests < 100 || st.Failed == 0 && st.Requests > 1000 {
		t.Errorf("load stats %+v", st)
	}
	if hit := value(t, busy, opmetrics.PGCacheHit); hit.Value <= 50 || hit.Value > 100 {
		t.Errorf("cache hit %v", hit.Value)
	}
	if lag := value(t, busy, opmetrics.PGReplicationLag); lag.Value != 0 || lag.State != health.OK || !strings.Contains(lag.Detail, "no standby") {
		t.Errorf("replication lag on a lone primary = %v %v %q", lag.Value, lag.State, lag.Detail)
	}
}

func TestPostgresConnectionsMatch(t *testing.T) {
	s := needSandbox(t)
	conn := opmetrics.NewPostgresConn(s.Postgres.DSN(), 3*time.Second)
	defer conn.Close()
	e := opmetrics.NewEngine(opmetrics.Options{}, opmetrics.NewPostgresSampler(conn, time.Second, config.DefaultThresholds()))
	total := func() int {
		e.SampleOnce(t.Context())
		v := value(t, e.Snapshot(0), opmetrics.PGConnections)
		return int(math.Round(v.Value * 97 / 100))
	}
	before := total()
	var opened []*pgx.Conn
	for range 5 {
		c, err := pgx.Connect(t.Context(), s.Postgres.DSN())
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, c)
	}
	during := total()
	for _, c := range opened {
		c.Close(context.Background())
	}
	if during-before != 5 {
		t.Errorf("connections %d before, %d with 5 more open", before, during)
	}
	time.Sleep(200 * time.Millisecond)
	if after := total(); after != before {
		t.Errorf("connections %d after closing them, want %d", after, before)
	}
}

func TestRedisFollowsTraffic(t *testing.T) {
	s := needSandbox(t)
	r := opmetrics.NewRedisSampler(s.Redis.URL(), 3*time.Second, time.Second, config.DefaultThresholds())
	defer r.Close()
	e := opmetrics.NewEngine(opmetrics.Options{}, r)
	c := goredis.NewClient(&goredis.Options{Addr: s.Redis.Addr(), Password: s.Redis.Password, DB: 0})
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "metrics-test:hit", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	script := func(hits, misses int) func() {
		return func() {
			p := c.Pipeline()
			for range hits {
				p.Get(ctx, "metrics-test:hit")
			}
			for range misses {
				p.Get(ctx, "metrics-test:missing")
			}
			if _, err := p.Exec(ctx); err != nil && err != goredis.Nil {
				t.Fatal(err)
			}
		}
	}
	all := sampleTwice(t, e, time.Second, script(1000, 0))
	if hit := value(t, all, opmetrics.RedisHitRate); hit.Value != 100 {
		t.Errorf("hit rate after 1000 hits = %v, want 100", hit.Value)
	}
	if ops := value(t, all, opmetrics.RedisOps); ops.Value < 1000/1.5 {
		t.Errorf("ops/s = %v after 1000 commands in about a second", ops.Value)
	}
	e.SampleOnce(ctx)
	script(600, 400)()
	time.Sleep(500 * time.Millisecond)
	e.SampleOnce(ctx)
	half := e.Snapshot(0)
	if hit := value(t, half, opmetrics.RedisHitRate); math.Abs(hit.Value-60) > 0.5 {
		t.Errorf("hit rate after 600 hits and 400 misses = %v, want 60", hit.Value)
	}
	if hit := value(t, half, opmetrics.RedisHitRate); hit.State != health.Crit {
		t.Errorf("60%% hit rate judged %v, want crit (≤80)", hit.State)
	}
	if mem := value(t, half, opmetrics.RedisMemory); mem.Value <= 0 || mem.Value > 100 || !strings.Contains(mem.Detail, "256") {
		t.Errorf("memory %v %q", mem.Value, mem.Detail)
	}
	if keys := value(t, half, opmetrics.RedisKeys); keys.Value < 100 {
		t.Errorf("keys = %v", keys.Value)
	}
	if cl := value(t, half, opmetrics.RedisClients); cl.Value <= 0 || !strings.Contains(cl.Detail, "of 10000") {
		t.Errorf("clients %v %q", cl.Value, cl.Detail)
	}
}

func TestKubeSampler(t *testing.T) {
	s := needSandbox(t)
	client, err := kube.NewClient(config.KubeConfig{Kubeconfig: s.Kube.KubeconfigPath(), Namespaces: []string{s.KubeSeed.Namespace}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	src := opmetrics.KubeFromClient(client)
	e := opmetrics.NewEngine(opmetrics.Options{}, opmetrics.NewKubeSampler(src, time.Second, config.DefaultThresholds()))
	e.SampleOnce(t.Context())
	snap := e.Snapshot(0)
	if v := value(t, snap, opmetrics.KubeNodesNotReady); v.Value != 1 || v.State != health.Warn {
		t.Errorf("nodes not ready = %v (%v)", v.Value, v.State)
	}
	if v := value(t, snap, opmetrics.KubePodsNotReady); v.Value != 3 || v.State != health.Warn {
		t.Errorf("pods not ready = %v (%v), want the crash loop, the pending and the not-ready pod", v.Value, v.State)
	}
	if v := value(t, snap, opmetrics.KubeRestarts); v.Value != 14 || v.State != health.Crit || !strings.Contains(v.Detail, s.KubeSeed.CrashLoopPod) {
		t.Errorf("restarts = %v (%v) %q", v.Value, v.State, v.Detail)
	}
	cpu := value(t, snap, opmetrics.KubeCPU)
	if cpu.Value <= 0 || cpu.Value > 100 || !strings.Contains(cpu.Detail, "requests (no metrics.k8s.io)") {
		t.Errorf("cpu = %v %q", cpu.Value, cpu.Detail)
	}

	// An API server that is gone fails the Kubernetes series only.
	rc := client.RESTConfig()
	rc.Host = fmt.Sprintf("https://127.0.0.1:%d", s.Postgres.Port) // answers, but is no API server
	gone, err := kube.NewClientForConfig(rc, "gone", nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	e = opmetrics.NewEngine(opmetrics.Options{}, opmetrics.NewKubeSampler(opmetrics.KubeFromClient(gone), time.Second, config.DefaultThresholds()))
	e.SampleOnce(t.Context())
	snap = e.Snapshot(0)
	if st := snap.Sources[0]; st.OK || st.Err == "" {
		t.Errorf("source status with the API server gone: %+v", st)
	}
	if v, _ := snap.Find(opmetrics.KubeCPU); v.Err == "" || v.State != health.Unknown {
		t.Errorf("cpu with the API server gone: %+v", v)
	}
}
