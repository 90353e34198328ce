package reach_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/reach"
	"github.com/opsdeck/opsdeck/ops/redact"
	"github.com/opsdeck/opsdeck/ops/redis"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

var sb *sandbox.Sandbox

func TestMain(m *testing.M) {
	redis.RouteLibraryLogs(nil)
	kube.RouteLibraryLogs(nil)
	os.Exit(sandbox.RunTests(m, sandbox.Options{Scale: 0}, &sb))
}

// inCluster is a copy of the sandbox's configuration whose PostgreSQL and
// Redis are reached as Services of namespace ns, through the fake
// kubelet's port-forward, their passwords in a Secret and not in the DSN
// or URL (whose hosts do not resolve).
func inCluster(t *testing.T, ns string) (*config.Config, kubernetes.Interface) {
	t.Helper()
	if sb == nil {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := sandbox.InClusterServer(ctx, cs, sb.Kube.Kubelet(), ns, "postgres", 5432, sb.Postgres.Port); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.InClusterServer(ctx, cs, sb.Kube.Kubelet(), ns, "redis", 6379, sb.Redis.Port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sb.Kube.Kubelet().RemovePortForward(ns, "postgres-0")
		sb.Kube.Kubelet().RemovePortForward(ns, "redis-0")
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	redisURL, err := url.Parse(sb.Config.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	redisPassword, _ := redisURL.User.Password()
	_, err = cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "credentials"},
		Data:       map[string][]byte{"postgres-password": []byte(sb.Postgres.Password), "redis-password": []byte(redisPassword)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := *sb.Config
	cfg.Postgres.DSN = "postgres://" + sandbox.PostgresSuperuser + "@postgres." + ns + ".svc.cluster.invalid:5432/" + sandbox.PostgresDatabase + "?sslmode=disable"
	cfg.Postgres.Service, cfg.Postgres.PasswordSecret = ns+"/postgres", ns+"/credentials#postgres-password"
	cfg.Redis.URL = "redis://redis." + ns + ".svc.cluster.invalid:6379/0"
	cfg.Redis.Service, cfg.Redis.PasswordSecret = ns+"/redis", ns+"/credentials#redis-password"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg, cs
}

func TestThroughServiceWithSecretPassword(t *testing.T) {
	cfg, _ := inCluster(t, "reach-both")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pg, err := reach.Postgres(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if pg.Via() != "port-forward to postgres-0" {
		t.Errorf("Via = %q", pg.Via())
	}
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(pg.Explain(err))
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity").Scan(&n); err != nil || n == 0 {
		t.Errorf("query through the port-forward: %d, %v", n, pg.Explain(err))
	}
	_ = conn.Close(ctx)

	rd, err := reach.Redis(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	opts, err := goredis.ParseURL(rd.DSN)
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(opts)
	defer rc.Close()
	if got, err := rc.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Errorf("PING through the port-forward: %q, %v", got, rd.Explain(err))
	}

	// Registered with the redactor as it was read: every secret list and
	// every redaction masks it.
	if got := redact.String("pw " + sb.Postgres.Password); strings.Contains(got, sb.Postgres.Password) {
		t.Errorf("the Secret's password is not registered with the redactor: %q", got)
	}
	found := false
	for _, s := range cfg.Secrets() {
		found = found || s == sb.Postgres.Password
	}
	if !found {
		t.Error("the configuration's Secrets() lacks the password read from the Secret")
	}
}

func TestCheckSaysViaPortForward(t *testing.T) {
	cfg, _ := inCluster(t, "reach-check")
	rep := health.Run(context.Background(), cfg, "postgres", "redis")
	out, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"via port-forward to postgres-0", "via port-forward to redis-0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the check's report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), sb.Postgres.Password) {
		t.Error("the report holds the PostgreSQL password")
	}
}

func TestLostPodNamedInCheck(t *testing.T) {
	cfg, _ := inCluster(t, "reach-lost")
	sb.Kube.Kubelet().RemovePortForward("reach-lost", "postgres-0") // the pod's kubelet no longer answers
	start := time.Now()
	rs := health.CheckPostgres(context.Background(), cfg)
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the check took %s", took)
	}
	if len(rs) == 0 || rs[0].Status != health.Crit || !strings.Contains(rs[0].Hint, "postgres-0") {
		t.Fatalf("results %+v, want a critical reachable line naming postgres-0", rs)
	}
}

func TestSecretErrors(t *testing.T) {
	cfg, _ := inCluster(t, "reach-secret")
	cfg.Postgres.PasswordSecret = "reach-secret/credentials#nope"
	_, err := reach.Postgres(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), `the Secret has no key "nope" (it has postgres-password, redis-password)`) {
		t.Errorf("err = %v", err)
	}
	cfg.Postgres.PasswordSecret = "reach-secret/missing#password"
	if _, err := reach.Postgres(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "postgres.password_secret reach-secret/missing#password") {
		t.Errorf("err = %v", err)
	}
}
