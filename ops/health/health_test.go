package health_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// cfgCopy returns a copy of the sandbox's config the test may change.
func cfgCopy(t *testing.T) *config.Config {
	t.Helper()
	c := *sb.Config
	c.Kubernetes.Namespaces = append([]string(nil), sb.Config.Kubernetes.Namespaces...)
	return &c
}

func find(rep health.Report, target, name string) (health.Result, bool) {
	for _, r := range rep.Results {
		if r.Target == target && r.Name == name {
			return r, true
		}
	}
	return health.Result{}, false
}

func TestRunOnSandbox(t *testing.T) {
	requireSandbox(t)
	rep := health.Run(context.Background(), sb.Config)
	if rep.Status != health.Crit || rep.Status.ExitCode() != 2 {
		t.Fatalf("status %s, want crit (exit 2)", rep.Status)
	}
	for _, want := range []struct {
		target, name string
		status       health.Status
	}{
		{"postgres", "reachable", health.OK},
		{"postgres", "connections", health.OK},
		{"postgres", "cache hit", health.OK},
		{"redis", "reachable", health.OK},
		{"redis", "memory", health.OK},
		{"kubernetes", "nodes", health.Crit},
		{"kubernetes", "node/" + sb.KubeSeed.NotReadyNodes[0], health.Crit},
		{"kubernetes", "pod/stockapp/" + sb.KubeSeed.CrashLoopPod, health.Crit},
		{"kubernetes", "pod/stockapp/" + sb.KubeSeed.PendingPod, health.Warn},
		{"kubernetes", "warning events", health.Warn},
	} {
		r, ok := find(rep, want.target, want.name)
		if !ok {
			t.Errorf("no %s %s result in %+v", want.target, want.name, rep.Results)
			continue
		}
		if r.Status != want.status {
			t.Errorf("%s %s: %s (%s), want %s", want.target, want.name, r.Status, r.Value, want.status)
		}
		if r.Status != health.OK && r.Hint == "" {
			t.Errorf("%s %s is %s without a hint", want.target, want.name, r.Status)
		}
	}
	r, _ := find(rep, "kubernetes", "pod/stockapp/"+sb.KubeSeed.CrashLoopPod)
	if !strings.Contains(r.Value, "CrashLoopBackOff") || !strings.Contains(r.Hint, "--previous") {
		t.Errorf("crash loop result says %q / %q", r.Value, r.Hint)
	}
}

func TestOnlyTargets(t *testing.T) {
	requireSandbox(t)
	rep := health.Run(context.Background(), sb.Config, "postgres", "redis")
	if rep.Status != health.OK {
		t.Fatalf("postgres+redis on the sandbox: %s, want ok: %+v", rep.Status, rep.Results)
	}
	for _, r := range rep.Results {
		if r.Target == "kubernetes" {
			t.Fatalf("kubernetes checked although not asked for")
		}
	}
}

func TestPostgresStopped(t *testing.T) {
	requireSandbox(t)
	ctx := context.Background()
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	cfg := cfgCopy(t)
	cfg.Postgres.DSN = pg.DSN()
	start := time.Now()
	rs := health.CheckPostgres(ctx, cfg)
	if took := time.Since(start); took > cfg.Timeouts.Check {
		t.Errorf("took %s to notice a stopped server", took)
	}
	if len(rs) != 1 || rs[0].Status != health.Crit || rs[0].Value != "unreachable" {
		t.Fatalf("stopped postgres: %+v, want one crit unreachable", rs)
	}
	if strings.Contains(rs[0].Hint, pg.Password) {
		t.Fatal("hint leaks the password")
	}
}

func TestPostgresWrongPassword(t *testing.T) {
	requireSandbox(t)
	cfg := cfgCopy(t)
	u, _ := url.Parse(sb.Postgres.DSN())
	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	cfg.Postgres.DSN = u.String()
	rs := health.CheckPostgres(context.Background(), cfg)
	if len(rs) != 1 || rs[0].Status != health.Unknown || rs[0].Value != "auth failed" {
		t.Fatalf("wrong password: %+v, want one unknown auth failed", rs)
	}
	if !strings.Contains(rs[0].Hint, "password") || strings.Contains(rs[0].Hint, "not-the-password") {
		t.Fatalf("hint %q should mention the password without showing it", rs[0].Hint)
	}
}

func TestRedisRequirePass(t *testing.T) {
	requireSandbox(t)
	ctx := context.Background()
	rd, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{Password: "s3cret-pass"})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Stop()
	cfg := cfgCopy(t)
	cfg.Redis.URL = "redis://" + rd.Addr() + "/0"
	rs := health.CheckRedis(ctx, cfg)
	if len(rs) != 1 || rs[0].Status != health.Unknown || rs[0].Value != "auth failed" {
		t.Fatalf("no password: %+v, want unknown auth failed", rs)
	}
	cfg.Redis.URL = "redis://:s3cret-pass@" + rd.Addr() + "/0"
	rs = health.CheckRedis(ctx, cfg)
	if rs[0].Status != health.OK {
		t.Fatalf("with the password: %+v", rs)
	}
}

func TestKubeForbidden(t *testing.T) {
	requireSandbox(t)
	kubeconfig, err := sb.Kube.AddUser("viewer-without-rbac", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cfgCopy(t)
	cfg.Kubernetes.Kubeconfig = kubeconfig
	cfg.Kubernetes.Context = ""
	rs := health.CheckKube(context.Background(), cfg)
	var forbidden int
	for _, r := range rs {
		if r.Value == "forbidden" {
			forbidden++
			if r.Status != health.Unknown || !strings.Contains(r.Hint, "cannot list") || !strings.Contains(r.Hint, "RBAC") {
				t.Errorf("forbidden source %s: %+v", r.Name, r)
			}
		}
	}
	if forbidden < 2 {
		t.Fatalf("want nodes and pods reported forbidden, got %+v", rs)
	}
}

// TestUnreachableIsBounded points every target at an address that drops
// packets: the whole check must end within the timeout, every target crit
// or unknown.
func TestUnreachableIsBounded(t *testing.T) {
	requireSandbox(t)
	cfg := cfgCopy(t)
	cfg.Timeouts.Check = 1500 * time.Millisecond
	cfg.Timeouts.Connect = time.Second
	cfg.Postgres.DSN = "postgres://u:p@10.255.255.1:5432/db?sslmode=disable"
	cfg.Redis.URL = "redis://10.255.255.1:6379/0"
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(blackholeKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Kubernetes.Kubeconfig = kc
	start := time.Now()
	rep := health.Run(context.Background(), cfg)
	if took := time.Since(start); took > cfg.Timeouts.Check+time.Second {
		t.Fatalf("took %s, want about %s", took, cfg.Timeouts.Check)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.Target] = true
		if r.Status == health.OK {
			t.Errorf("%s %s ok against a black hole", r.Target, r.Name)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("want a result per target, got %+v", rep.Results)
	}
}

const blackholeKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster:
    server: https://10.255.255.1:6443
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: abc
contexts:
- name: gone
  context:
    cluster: gone
    user: u
current-context: gone
`

func TestRunCheckersStopsWaitingForAHungChecker(t *testing.T) {
	hung := health.Checker{Target: "stuck", Check: func(context.Context) []health.Result {
		time.Sleep(time.Hour)
		return nil
	}}
	fine := health.Checker{Target: "fine", Check: func(context.Context) []health.Result {
		return []health.Result{{Name: "reachable", Status: health.OK}}
	}}
	start := time.Now()
	rep := health.RunCheckers(context.Background(), 200*time.Millisecond, []health.Checker{hung, fine})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %s", took)
	}
	if len(rep.Results) != 2 || rep.Results[0].Status != health.Unknown || rep.Results[1].Status != health.OK {
		t.Fatalf("got %+v", rep.Results)
	}
	if rep.Status != health.Unknown {
		t.Fatalf("status %s, want unknown", rep.Status)
	}
}
