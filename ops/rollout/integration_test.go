package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/ops/rollout"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// cluster returns a clientset on the sandbox's API server and an opsdeck
// client watching ns.
func cluster(t *testing.T, ns string) (kubernetes.Interface, *kube.Client) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(kubeSrv.Config())
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.NewClientForConfig(kubeSrv.Config(), "sandbox", []string{ns}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return cs, c
}

func makeRollouts(t *testing.T, cs kubernetes.Interface, rs ...sandbox.Rollout) {
	t.Helper()
	for _, r := range rs {
		if err := sandbox.MakeRollout(t.Context(), cs, r); err != nil {
			t.Fatal(err)
		}
	}
}

// line finds the result of target's check.
func line(t *testing.T, rep rollout.Report, target, check string) health.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Target == target && r.Name == check {
			return r
		}
	}
	t.Fatalf("no line %s %s in %+v", target, check, rep.Results)
	return health.Result{}
}

func viewer(ctx context.Context) context.Context { return accesstest.As(ctx, "vera", access.Viewer) }

// TestCheckNamesEachProblem: a cluster with one healthy Deployment and one
// of each problem; every problem is named on its workload's line.
func TestCheckNamesEachProblem(t *testing.T) {
	need(t)
	ns := "rollout-check"
	cs, client := cluster(t, ns)
	makeRollouts(t, cs,
		sandbox.Rollout{Namespace: ns, Name: "good", Image: "shop/api:1.4.2", Replicas: 2, Service: true},
		sandbox.Rollout{Namespace: ns, Name: "floating", Image: "shop/web:latest", Replicas: 1},
		sandbox.Rollout{Namespace: ns, Name: "dark", Image: "shop/search:3.1", Replicas: 2, Service: true, EndpointsNotReady: true},
		sandbox.Rollout{Namespace: ns, Name: "midway", Image: "shop/worker:2.0", Replicas: 3, Updated: 1, Available: 3},
		sandbox.Rollout{Namespace: ns, Name: "stuck", Image: "shop/cron:5.0", Replicas: 2, Updated: 1, Available: 1, DeadlineExceeded: true},
	)
	cfg := config.Default()
	rep, err := rollout.Check(viewer(t.Context()), client, cfg, rollout.Request{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		target, check string
		status        health.Status
		value         string
	}{
		{"deploy/good", "rollout", health.OK, "rolled out: 2/2 updated, 2 ready, 2 available"},
		{"deploy/good", "images", health.OK, "shop/api:1.4.2"},
		{"deploy/good", "pods", health.OK, "2/2 ready; no restarts since"},
		{"deploy/good", "service/good", health.OK, "2 ready endpoints"},
		{"deploy/floating", "images", health.Warn, "not pinned: floating :latest"},
		{"deploy/dark", "service/dark", health.Crit, "no ready endpoints (2 not ready)"},
		{"deploy/midway", "rollout", health.Warn, "in progress: 1 of 3 new replicas updated"},
		{"deploy/stuck", "rollout", health.Crit, "exceeded its progress deadline"},
	} {
		r := line(t, rep, want.target, want.check)
		if r.Status != want.status || !strings.Contains(r.Value, want.value) {
			t.Errorf("%s %s: %s %q, want %s %q", want.target, want.check, r.Status, r.Value, want.status, want.value)
		}
	}
	if rep.Status != health.Crit || len(rep.Workloads) != 5 {
		t.Errorf("status %s, %d workloads", rep.Status, len(rep.Workloads))
	}

	t.Run("named", func(t *testing.T) {
		rep, err := rollout.Check(viewer(t.Context()), client, cfg, rollout.Request{Names: []string{"deploy/good", "floating"}})
		if err != nil || len(rep.Workloads) != 2 || rep.Status != health.Warn {
			t.Fatalf("%v: %s %+v", err, rep.Status, rep.Workloads)
		}
		_, err = rollout.Check(viewer(t.Context()), client, cfg, rollout.Request{Names: []string{"deploy/nope"}})
		if !rollout.IsUsage(err) || !strings.Contains(err.Error(), "there are deploy/dark, deploy/floating, deploy/good") {
			t.Fatalf("unknown name: %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		rc := kubeSrv.Config()
		rc.Host = "https://127.0.0.1:1"
		dead, err := kube.NewClientForConfig(rc, "dead", []string{ns}, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := rollout.Check(viewer(t.Context()), dead, cfg, rollout.Request{Names: []string{"deploy/good"}})
		if err != nil || rep.Status != health.Crit || len(rep.Results) != 1 {
			t.Fatalf("%v: %s %+v", err, rep.Status, rep.Results)
		}
		if r := rep.Results[0]; r.Name != "daemonsets/"+ns+" +6" || !strings.Contains(r.Hint, "cannot reach API server 127.0.0.1:1") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("no identity", func(t *testing.T) {
		if _, err := rollout.Check(t.Context(), client, cfg, rollout.Request{}); !errors.Is(err, access.ErrNoIdentity) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		kc, err := kubeSrv.AddUser("no-rollouts", nil)
		if err != nil {
			t.Fatal(err)
		}
		nobody, err := kube.NewClient(config.KubeConfig{Kubeconfig: kc, Namespaces: []string{ns}}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := rollout.Check(viewer(t.Context()), nobody, cfg, rollout.Request{})
		if err != nil {
			t.Fatal(err)
		}
		r := line(t, rep, rollout.KubeTarget, "deployments/"+ns)
		if r.Status != health.Unknown || !strings.Contains(r.Hint, "cannot list deployments") || !strings.Contains(r.Hint, "ask for RBAC list on deployments") {
			t.Fatalf("%s %q %q", r.Status, r.Value, r.Hint)
		}
	})
}

// TestWaitFollowsTheRollout: --wait sees the status advanced by hand, step
// by step, and ends when it is done; a rollout past its deadline ends it at
// once as failed; one that does not move runs out of time.
func TestWaitFollowsTheRollout(t *testing.T) {
	need(t)
	ns := "rollout-wait"
	cs, client := cluster(t, ns)
	makeRollouts(t, cs,
		sandbox.Rollout{Namespace: ns, Name: "api", Image: "shop/api:2.0", Replicas: 3, Updated: 1, Available: 3},
		sandbox.Rollout{Namespace: ns, Name: "cron", Image: "shop/cron:2.0", Replicas: 1, Updated: 1},
	)
	var (
		mu     sync.Mutex
		events []progress.Event
	)
	emit := func(e progress.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	go func() {
		for _, step := range [][2]int32{{2, 3}, {3, 2}, {3, 3}} {
			time.Sleep(400 * time.Millisecond)
			if err := sandbox.SetRolloutStatus(context.Background(), cs, ns, "api", step[0], step[1], false); err != nil {
				t.Error(err)
			}
		}
	}()
	start := time.Now()
	w, err := rollout.Wait(viewer(t.Context()), client, rollout.Request{Names: []string{"deploy/api"}}, 30*time.Second, 5*time.Second, emit)
	if err != nil || !w.Done || w.TimedOut || len(w.Failed) > 0 {
		t.Fatalf("%+v, %v", w, err)
	}
	if time.Since(start) < time.Second || time.Since(start) > 10*time.Second {
		t.Errorf("done after %s", time.Since(start))
	}
	mu.Lock()
	var seen []string
	for _, e := range events {
		seen = append(seen, e.String())
	}
	mu.Unlock()
	all := strings.Join(seen, "\n")
	for _, want := range []string{"info deploy/api: 1 of 3 new replicas updated", "info deploy/api: 2 of 3 new replicas updated", "finish deploy/api 3/3: rolled out"} {
		if !strings.Contains(all, want) {
			t.Errorf("events lack %q:\n%s", want, all)
		}
	}
	rep, err := rollout.Check(viewer(t.Context()), client, config.Default(), rollout.Request{Names: []string{"api"}})
	if err != nil || rep.Status != health.OK {
		t.Fatalf("after the wait: %v %s %+v", err, rep.Status, rep.Results)
	}

	t.Run("deadline", func(t *testing.T) {
		go func() {
			time.Sleep(300 * time.Millisecond)
			if err := sandbox.SetRolloutStatus(context.Background(), cs, ns, "cron", 0, 0, true); err != nil {
				t.Error(err)
			}
		}()
		w, err := rollout.Wait(viewer(t.Context()), client, rollout.Request{Names: []string{"deploy/cron"}}, 30*time.Second, 5*time.Second, nil)
		if err != nil || len(w.Failed) != 1 || w.Failed[0] != "deploy/cron" || w.Took > 10*time.Second {
			t.Fatalf("%+v, %v", w, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		if err := sandbox.SetRolloutStatus(t.Context(), cs, ns, "api", 1, 3, false); err != nil {
			t.Fatal(err)
		}
		w, err := rollout.Wait(viewer(t.Context()), client, rollout.Request{Names: []string{"api"}}, time.Second, 5*time.Second, nil)
		if err != nil || !w.TimedOut {
			t.Fatalf("%+v, %v", w, err)
		}
		rep, err := rollout.Check(viewer(t.Context()), client, config.Default(), rollout.Request{Names: []string{"api"}, TimedOut: true})
		if r := line(t, rep, "deploy/api", "rollout"); err != nil || r.Status != health.Crit || !strings.Contains(r.Value, "did not finish") {
			t.Fatalf("%v: %s %q", err, r.Status, r.Value)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(viewer(t.Context()))
		time.AfterFunc(300*time.Millisecond, cancel)
		_, err := rollout.Wait(ctx, client, rollout.Request{Names: []string{"api"}}, 30*time.Second, 5*time.Second, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestSmokeChecks: an endpoint answering 500 and a slow one are named,
// with their counts and p95; the requests default to 20.
func TestSmokeChecks(t *testing.T) {
	need(t)
	var hits atomic.Int64
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer ok.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer broken.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { time.Sleep(120 * time.Millisecond) }))
	defer slow.Close()
	ns := "rollout-smoke"
	cs, client := cluster(t, ns)
	makeRollouts(t, cs, sandbox.Rollout{Namespace: ns, Name: "api", Image: "shop/api:1.0", Replicas: 1})
	cfg := config.Default()
	cfg.Checks.HTTP = []config.HTTPCheck{
		{Name: "ok", URL: ok.URL + "/healthz"},
		{Name: "broken", URL: strings.Replace(broken.URL, "http://", "http://ops:hunter2@", 1), Requests: 8},
		{Name: "slow", URL: slow.URL, MaxLatency: 50 * time.Millisecond, Requests: 8},
	}
	start := time.Now()
	rep, err := rollout.Check(viewer(t.Context()), client, cfg, rollout.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s: the slow requests do not run concurrently", took)
	}
	if r := line(t, rep, rollout.SmokeTarget, "ok"); r.Status != health.OK || hits.Load() != 20 || !strings.HasPrefix(r.Value, "20×200") {
		t.Errorf("ok: %s %q after %d requests", r.Status, r.Value, hits.Load())
	}
	if r := line(t, rep, rollout.SmokeTarget, "broken"); r.Status != health.Crit || !strings.Contains(r.Value, "500 ×8 of 8") || strings.Contains(r.Value+r.Hint, "hunter2") {
		t.Errorf("broken: %s %q %q", r.Status, r.Value, r.Hint)
	}
	// The handler sleeps 120 ms: the p95 is at least that, more on a busy machine.
	r := line(t, rep, rollout.SmokeTarget, "slow")
	_, p95, _ := strings.Cut(r.Value, "p95 ")
	if d, err := time.ParseDuration(p95); r.Status != health.Warn || err != nil || d < 120*time.Millisecond || r.Threshold != "status 200, p95 ≤ 50ms" {
		t.Errorf("slow: %s %q %q", r.Status, r.Value, r.Threshold)
	}
	if rep.Status != health.Crit {
		t.Errorf("status %s", rep.Status)
	}
}

// TestMigrations reads a migrations table on the sandbox's PostgreSQL:
// behind, at the expected version, dirty, and absent.
func TestMigrations(t *testing.T) {
	need(t)
	ctx := t.Context()
	pool, err := postgres.Connect(ctx, pgSrv.DSN(), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA app; CREATE TABLE app.schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL DEFAULT false);
		INSERT INTO app.schema_migrations VALUES (9), (20261101)`); err != nil {
		t.Fatal(err)
	}
	pg := config.PostgresConfig{DSN: pgSrv.DSN()}
	m := config.MigrationsCheck{Table: "app.schema_migrations", Column: "version", Expected: "20261201"}
	check := func() health.Result {
		return rollout.CheckMigrations(ctx, pg, m, 3*time.Second, 5*time.Second, []string{pgSrv.Password})
	}
	if r := check(); r.Status != health.Crit || !strings.Contains(r.Value, "at 20261101, 20261201 not applied") {
		t.Errorf("behind: %s %q %q", r.Status, r.Value, r.Hint)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO app.schema_migrations VALUES (20261201)"); err != nil {
		t.Fatal(err)
	}
	if r := check(); r.Status != health.OK || !strings.HasSuffix(r.Value, "app.schema_migrations at 20261201") {
		t.Errorf("at it: %s %q %q", r.Status, r.Value, r.Hint)
	}
	if _, err := pool.Exec(ctx, "UPDATE app.schema_migrations SET dirty = true WHERE version = 20261201"); err != nil {
		t.Fatal(err)
	}
	if r := check(); r.Status != health.Crit || !strings.Contains(r.Value, "dirty") {
		t.Errorf("dirty: %s %q", r.Status, r.Value)
	}
	m.Table = "schema_migrations"
	if r := check(); r.Status != health.Crit || !strings.Contains(r.Value, "table "+sandbox.PostgresDatabase+".schema_migrations does not exist") {
		t.Errorf("absent: %s %q", r.Status, r.Value)
	}
	m.Table, m.Column = "app.schema_migrations", "revision"
	if r := check(); r.Status != health.Unknown || !strings.Contains(r.Hint, "has no column revision") {
		t.Errorf("no column: %s %q %q", r.Status, r.Value, r.Hint)
	}
	m.Database, m.Table, m.Column = "nosuchdb", "schema_migrations", "version"
	if r := check(); r.Status != health.Unknown || strings.Contains(r.Hint, pgSrv.Password) {
		t.Errorf("no database: %s %q %q", r.Status, r.Value, r.Hint)
	}
	var active int
	if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s' AND state = 'idle in transaction'", postgres.ApplicationName)).Scan(&active); err != nil || active != 0 {
		t.Errorf("%d sessions left in a transaction (%v)", active, err)
	}
}
