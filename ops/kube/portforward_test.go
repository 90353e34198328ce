package kube_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// The tunnel tests' PostgreSQL and Redis, started by the first of them.
var (
	dbOnce  sync.Once
	dbPG    *sandbox.PostgresServer
	dbRedis *sandbox.RedisServer
	dbErr   error
)

const tunnelRedisPassword = "tunnel-redis-secret"

// stopDatabases stops what startDatabases started (TestMain calls it).
func stopDatabases() error {
	var errs []error
	if dbPG != nil {
		errs = append(errs, dbPG.Stop())
	}
	if dbRedis != nil {
		errs = append(errs, dbRedis.Stop())
	}
	return errors.Join(errs...)
}

func needDatabases(t *testing.T) (*sandbox.PostgresServer, *sandbox.RedisServer) {
	t.Helper()
	needKube(t)
	dbOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		var pgErr, redisErr error
		wg.Go(func() { dbPG, pgErr = sandbox.StartPostgres(ctx, sandbox.PostgresOptions{}) })
		wg.Go(func() {
			dbRedis, redisErr = sandbox.StartRedis(ctx, sandbox.RedisOptions{Password: tunnelRedisPassword})
		})
		wg.Wait()
		dbErr = errors.Join(pgErr, redisErr)
	})
	if dbErr != nil {
		t.Fatalf("the tunnel tests need PostgreSQL and Redis (make deps): %v", dbErr)
	}
	return dbPG, dbRedis
}

// tunnelFixture is a namespace with a postgres and a redis Service, each
// with a ready pod on a sandbox node whose kubelet forwards the pod's port
// to the sandbox's server.
type tunnelFixture struct {
	ns     string
	cs     kubernetes.Interface
	client *kube.Client
	k      *sandbox.Kubelet
	pg     *sandbox.PostgresServer
	redis  *sandbox.RedisServer
}

var tunnelNS int

func newTunnelFixture(t *testing.T) *tunnelFixture {
	t.Helper()
	pg, rd := needDatabases(t)
	srv := needKube(t)
	cs, err := kubernetes.NewForConfig(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	tunnelNS++
	f := &tunnelFixture{ns: fmt.Sprintf("tunnel-%d", tunnelNS), cs: cs, k: srv.Kubelet(), pg: pg, redis: rd}
	f.client, err = kube.NewClientForConfig(srv.Config(), "sandbox", []string{f.ns}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		for _, p := range []string{"postgres-0", "postgres-1", "redis-0"} {
			f.k.RemovePortForward(f.ns, p)
		}
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), f.ns, metav1.DeleteOptions{})
	})
	if err := sandbox.InClusterServer(ctx, cs, f.k, f.ns, "postgres", 5432, pg.Port); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.InClusterServer(ctx, cs, f.k, f.ns, "redis", 6379, rd.Port); err != nil {
		t.Fatal(err)
	}
	f.slice(t, "redis", 6379, "redis-0")
	return f
}

// readyPod adds a ready pod of app whose port the kubelet forwards to
// 127.0.0.1:local.
func (f *tunnelFixture) readyPod(t *testing.T, app, name string, port int32, local int) {
	t.Helper()
	if err := sandbox.AddReadyPod(context.Background(), f.cs, f.k, f.ns, app, name, port, local); err != nil {
		t.Fatal(err)
	}
}

// slice is the Service's EndpointSlice listing pods as ready.
func (f *tunnelFixture) slice(t *testing.T, svc string, port int32, pods ...string) {
	t.Helper()
	ready := true
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-slice", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: &port}},
	}
	for _, p := range pods {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: f.ns, Name: p}})
	}
	if _, err := f.cs.DiscoveryV1().EndpointSlices(f.ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// throughTunnel is dsn with its host:port the tunnel's.
func throughTunnel(t *testing.T, dsn string, tun *kube.Tunnel) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = tun.Addr()
	return u.String()
}

func query(ctx context.Context, dsn string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, "SELECT 40 + 2").Scan(&n)
	return n, err
}

// waitGoroutines fails unless the goroutines go back to at most base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTunnelQueryAndPing(t *testing.T) {
	f := newTunnelFixture(t)
	ctx := context.Background()
	f.client.Clientset().CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{}) // warm the client's connections
	base := runtime.NumGoroutine()

	pgTun, err := kube.OpenTunnel(ctx, f.client, f.ns+"/postgres", 5432)
	if err != nil {
		t.Fatal(err)
	}
	if pgTun.Pod() != "postgres-0" || !strings.HasPrefix(pgTun.Addr(), "127.0.0.1:") {
		t.Errorf("tunnel to %s at %s, want postgres-0 on 127.0.0.1", pgTun.Pod(), pgTun.Addr())
	}
	for range 3 { // several connections through one session
		if n, err := query(ctx, throughTunnel(t, f.pg.DSN(), pgTun)); err != nil || n != 42 {
			t.Fatalf("query through the tunnel: %d, %v", n, pgTun.Explain(err))
		}
	}

	rdTun, err := kube.OpenTunnel(ctx, f.client, f.ns+"/redis", 6379)
	if err != nil {
		t.Fatal(err)
	}
	if rdTun.Pod() != "redis-0" {
		t.Errorf("redis tunnel to %s, want redis-0 (from the EndpointSlice)", rdTun.Pod())
	}
	rc := goredis.NewClient(&goredis.Options{Addr: rdTun.Addr(), Password: tunnelRedisPassword, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second})
	if got, err := rc.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING through the tunnel: %q, %v", got, rdTun.Explain(err))
	}
	_ = rc.Close()

	if err := pgTun.Close(); err != nil {
		t.Error(err)
	}
	if err := rdTun.Close(); err != nil {
		t.Error(err)
	}
	waitGoroutines(t, base)
}

func TestTunnelFollowsAReplacedPod(t *testing.T) {
	f := newTunnelFixture(t)
	ctx := context.Background()
	tun, err := kube.OpenTunnel(ctx, f.client, f.ns+"/postgres", 5432)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	dsn := throughTunnel(t, f.pg.DSN(), tun)
	if _, err := query(ctx, dsn); err != nil {
		t.Fatal(tun.Explain(err))
	}
	if err := f.cs.CoreV1().Pods(f.ns).Delete(ctx, "postgres-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.k.RemovePortForward(f.ns, "postgres-0")
	f.readyPod(t, "postgres", "postgres-1", 5432, f.pg.Port)

	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := query(ctx, dsn)
		if err == nil && tun.Pod() == "postgres-1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tunnel did not follow to postgres-1 within 10s: pod %s, %v", tun.Pod(), tun.Explain(err))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestTunnelLostNamesThePod(t *testing.T) {
	f := newTunnelFixture(t)
	ctx := context.Background()
	tun, err := kube.OpenTunnel(ctx, f.client, f.ns+"/postgres", 5432)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	conn, err := pgx.Connect(ctx, throughTunnel(t, f.pg.DSN(), tun))
	if err != nil {
		t.Fatal(tun.Explain(err))
	}
	defer conn.Close(context.Background())

	f.k.RemovePortForward(f.ns, "postgres-0") // the kubelet no longer reaches the pod
	start := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err = conn.Exec(qctx, "SELECT pg_sleep(0.1)")
	if err == nil {
		t.Fatal("a query through a lost tunnel succeeded")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the lost tunnel took %s to fail", took)
	}
	want := "port-forward to " + f.ns + "/postgres-0 lost"
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(fmt.Sprint(tun.Explain(err)), want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := tun.Explain(err).Error(); !strings.Contains(got, want) {
		t.Errorf("error %q, want it to say %q", got, want)
	}
	// A new connection fails too, within the bound, and says why.
	start = time.Now()
	if _, err := query(ctx, throughTunnel(t, f.pg.DSN(), tun)); err == nil {
		t.Error("a new connection through the lost tunnel succeeded")
	} else if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a new connection took %s to fail", took)
	}
	if err := tun.Err(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Err() = %v, want it to say %q", err, want)
	}
}
