package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/commands"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// checkDeploy runs `opsdeck check deploy` inside the process as a viewer,
// on the sandbox's configuration watching ns with checks, and returns the
// exit code and everything printed.
func checkDeploy(t *testing.T, ns string, checks []config.HTTPCheck, args ...string) (int, string) {
	t.Helper()
	cfg := *sb.Config
	cfg.Kubernetes.Namespaces = []string{ns}
	cfg.Checks.HTTP = checks
	ctx, cancel := context.WithTimeout(accesstest.As(context.Background(), "vera", access.Viewer), time.Minute)
	defer cancel()
	var out strings.Builder
	code := commands.InProcess(&cfg, nil).Exec(ctx, append([]string{"check", "deploy"}, args...), &out)
	return code, out.String()
}

// TestCheckDeployCommand: each problem is named on its line and the exit
// code is the worst status's, as opsdeck check's.
func TestCheckDeployCommand(t *testing.T) {
	requireSandbox(t)
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	ns := "deploy-cli"
	for _, r := range []sandbox.Rollout{
		{Namespace: ns, Name: "api", Image: "shop/api:1.4.2", Replicas: 2, Service: true},
		{Namespace: ns, Name: "web", Image: "shop/web:latest", Replicas: 1},
		{Namespace: ns, Name: "search", Image: "shop/search:3.1", Replicas: 1, Service: true, EndpointsNotReady: true},
		{Namespace: ns, Name: "worker", Image: "shop/worker:2.0", Replicas: 3, Updated: 1, Available: 3},
	} {
		if err := sandbox.MakeRollout(t.Context(), cs, r); err != nil {
			t.Fatal(err)
		}
	}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer broken.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { time.Sleep(80 * time.Millisecond) }))
	defer slow.Close()
	smoke := []config.HTTPCheck{{Name: "api-health", URL: broken.URL}, {Name: "api-latency", URL: slow.URL, MaxLatency: 20 * time.Millisecond, Requests: 8}}

	t.Run("everything", func(t *testing.T) {
		code, out := checkDeploy(t, ns, smoke)
		if code != 2 {
			t.Fatalf("exit %d, want 2 (crit)\n%s", code, out)
		}
		for _, want := range []string{
			"TARGET", "deploy/api", "deploy/web", "not pinned: web :latest", "service/search", "no ready endpoints (1 not ready)",
			"in progress: 1 of 3 new replicas updated", "api-health", "500 ×20 of 20", "api-latency", "status 200, p95 ≤ 20ms", "CRIT:",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// Aligned like opsdeck check: the STATUS column starts at one place.
		lines := strings.Split(out, "\n")
		col := strings.Index(lines[0], "STATUS")
		for _, l := range lines[1:] {
			if l == "" {
				break
			}
			if st := strings.ToLower(l[col:min(len(l), col+4)]); st != "ok  " && st != "warn" && st != "crit" && st != "unkn" {
				t.Errorf("status column not aligned at %d: %q", col, l)
			}
		}
	})
	t.Run("warnings only", func(t *testing.T) {
		code, out := checkDeploy(t, ns, nil, "deploy/web", "worker")
		if code != 1 || strings.Contains(out, "deploy/api") {
			t.Fatalf("exit %d, want 1 (warn) for web and worker only\n%s", code, out)
		}
	})
	t.Run("ok", func(t *testing.T) {
		if code, out := checkDeploy(t, ns, nil, "api"); code != 0 || !strings.Contains(out, "OK: 4 ok, 0 warn, 0 crit, 0 unknown") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("json", func(t *testing.T) {
		code, out := checkDeploy(t, ns, smoke[:1], "-o", "json")
		var doc struct {
			Schema    string `json:"schema"`
			Status    string `json:"status"`
			Workloads []struct {
				Kind, Name string
				Done       bool
			} `json:"workloads"`
			Results []struct{ Target, Check, Status, Value string } `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 2 {
			t.Fatalf("exit %d, %v\n%s", code, err, out)
		}
		if doc.Schema != "opsdeck.check.deploy/v1" || doc.Status != "crit" || len(doc.Workloads) != 4 || doc.Results[len(doc.Results)-1].Check != "api-health" {
			t.Fatalf("document %+v", doc)
		}
	})
	t.Run("unknown name", func(t *testing.T) {
		code, out := checkDeploy(t, ns, nil, "deploy/nope")
		if code != 3 || !strings.Contains(out, `no workload "deploy/nope" in namespace "deploy-cli": there are deploy/api, deploy/search, deploy/web, deploy/worker`) {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if code, out := checkDeploy(t, ns, nil, "pod/x"); code != 3 || !strings.Contains(out, "is not deploy/NAME") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("no identity", func(t *testing.T) {
		cfg := *sb.Config
		cfg.Kubernetes.Namespaces = []string{ns}
		var out strings.Builder
		if code := commands.InProcess(&cfg, nil).Exec(context.Background(), []string{"check", "deploy"}, &out); code != 2 || !strings.Contains(out.String(), "no identity") {
			t.Fatalf("exit %d\n%s", code, out.String())
		}
	})
}

// TestCheckDeployWait: --wait follows a rollout the test advances by hand
// and then checks it (exit 0); a rollout past its progress deadline ends
// the wait as failed (exit 2).
func TestCheckDeployWait(t *testing.T) {
	requireSandbox(t)
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	ns := "deploy-cli-wait"
	for _, r := range []sandbox.Rollout{
		{Namespace: ns, Name: "api", Image: "shop/api:1.5.0", Replicas: 2, Updated: 1, Available: 2, Service: true},
		{Namespace: ns, Name: "cron", Image: "shop/cron:1.5.0", Replicas: 1, Updated: 1},
	} {
		if err := sandbox.MakeRollout(t.Context(), cs, r); err != nil {
			t.Fatal(err)
		}
	}
	time.AfterFunc(time.Second, func() {
		if err := sandbox.SetRolloutStatus(context.Background(), cs, ns, "api", 2, 2, false); err != nil {
			t.Error(err)
		}
	})
	code, out := checkDeploy(t, ns, nil, "deploy/api", "--wait", "--timeout", "30s")
	if code != 0 || !strings.Contains(out, "finish deploy/api 2/2: rolled out") || !strings.Contains(out, "rollout done in") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	time.AfterFunc(500*time.Millisecond, func() {
		if err := sandbox.SetRolloutStatus(context.Background(), cs, ns, "cron", 0, 0, true); err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	code, out = checkDeploy(t, ns, nil, "cron", "--wait")
	if code != 2 || !strings.Contains(out, "rollout failed after") || !strings.Contains(out, "exceeded its progress deadline") || time.Since(start) > 15*time.Second {
		t.Fatalf("exit %d after %s\n%s", code, time.Since(start), out)
	}
	if code, out := checkDeploy(t, ns, nil, "--wait", "--timeout", "0s"); code != 3 || !strings.Contains(out, "--timeout") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
