package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/commands"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

// runningPod is a scheduled pod of app in the sandbox.
func runningPod(t *testing.T, cs kubernetes.Interface, app string) string {
	t.Helper()
	pods, err := cs.CoreV1().Pods("stockapp").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && p.Name != sb.KubeSeed.CrashLoopPod && p.Name != sb.KubeSeed.NotReadyPod {
			return p.Name
		}
	}
	t.Fatalf("no running %s pod", app)
	return ""
}

func TestLogsCommand(t *testing.T) {
	requireSandbox(t)
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	k := sb.Kube.Kubelet()
	worker := runningPod(t, cs, "worker")
	now := time.Now()
	k.SetLog("stockapp", worker, "worker", []sandbox.LogLine{
		{Time: now.Add(-2 * time.Hour), Text: "INFO old line"},
		{Time: now.Add(-time.Minute), Text: "ERROR connecting with password=" + sb.Postgres.Password + " failed"},
		{Time: now, Text: "INFO last line"},
	})
	t.Run("a pod", func(t *testing.T) {
		r := opsdeck(t, nil, "--config", sb.ConfigPath, "logs", worker)
		if r.code != 0 || !strings.Contains(r.stdout, "INFO old line\n") || !strings.Contains(r.stdout, "INFO last line\n") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, sb.Postgres.Password) || !strings.Contains(r.stdout, "password=xxxxx") {
			t.Fatalf("the password is not masked:\n%s", r.stdout)
		}
	})
	t.Run("since and tail", func(t *testing.T) {
		r := opsdeck(t, nil, "--config", sb.ConfigPath, "logs", worker, "--since", "1h")
		if r.code != 0 || strings.Contains(r.stdout, "old line") || strings.Count(r.stdout, "\n") != 2 {
			t.Fatalf("--since 1h: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = opsdeck(t, nil, "--config", sb.ConfigPath, "logs", worker, "--tail", "1")
		if r.code != 0 || r.stdout != "INFO last line\n" {
			t.Fatalf("--tail 1: exit %d\n%q%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("previous", func(t *testing.T) {
		r := opsdeck(t, nil, "--config", sb.ConfigPath, "logs", sb.KubeSeed.CrashLoopPod, "--previous")
		if r.code != 0 || !strings.Contains(r.stdout, "fatal: unhandled exception") {
			t.Fatalf("--previous: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// deploy/worker: the crashed pod's previous log, the other skipped.
		r = opsdeck(t, nil, "--config", sb.ConfigPath, "logs", "deploy/worker", "--previous")
		if r.code != 0 || !strings.Contains(r.stdout, "fatal: unhandled exception") || !strings.Contains(r.stderr, "no previous log (never restarted): "+worker+"/worker") {
			t.Fatalf("deploy/worker --previous: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = opsdeck(t, nil, "--config", sb.ConfigPath, "logs", worker, "-p")
		if r.code != 3 || !strings.Contains(r.stderr, "has not restarted") {
			t.Fatalf("--previous of a container that never restarted: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("deploy", func(t *testing.T) {
		r := opsdeck(t, nil, "--config", sb.ConfigPath, "logs", "deploy/api", "--tail", "2")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 4 || strings.Count(r.stdout, "[api-") != 4 {
			t.Fatalf("deploy/api: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := opsdeck(t, nil, "--config", sb.ConfigPath, "logs", worker, "-o", "json")
		var doc struct {
			Schema string `json:"schema"`
			Lines  []struct{ Pod, Container, Text string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
			t.Fatalf("exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		if doc.Schema != "opsdeck.logs/v1" || len(doc.Lines) != 3 || doc.Lines[2].Text != "INFO last line" || doc.Lines[0].Pod != worker {
			t.Fatalf("document %+v", doc)
		}
	})
	t.Run("unknown pod", func(t *testing.T) {
		r := opsdeck(t, nil, "--config", sb.ConfigPath, "logs", "api-nope")
		if r.code != 3 || !strings.Contains(r.stderr, `pod "api-nope" not found in namespace "stockapp"`) || !strings.Contains(r.stderr, "-n") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("several containers", func(t *testing.T) {
		// A namespace of its own, so that the seeded one's counts stay.
		ns, name := "logs-cli", "two-containers"
		if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{
			NodeName:   "node-01",
			Containers: []corev1.Container{{Name: "app", Image: "stockapp/api:1"}, {Name: "proxy", Image: "envoy:1"}},
		}}
		if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		k.SetLog(ns, name, "proxy", []sandbox.LogLine{{Time: now, Text: "proxy up"}})
		r := opsdeck(t, nil, "--config", sb.ConfigPath, "-n", ns, "logs", name)
		if r.code != 3 || !strings.Contains(r.stderr, "app, proxy") || !strings.Contains(r.stderr, "--container") {
			t.Fatalf("no container chosen: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = opsdeck(t, nil, "--config", sb.ConfigPath, "-n", ns, "logs", name, "--container", "proxy")
		if r.code != 0 || r.stdout != "proxy up\n" {
			t.Fatalf("--container proxy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		kc, err := sb.Kube.AddUser("no-logs-cli", nil)
		if err != nil {
			t.Fatal(err)
		}
		r := opsdeck(t, nil, "--config", sb.ConfigPath, "--kubeconfig", kc, "logs", worker)
		if r.code != 2 || !strings.Contains(r.stderr, "cannot get pods") || !strings.Contains(r.stderr, "ask for RBAC get on pods") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestLogsFollowCommand follows a generator until Ctrl-C, which ends it
// with exit 0.
func TestLogsFollowCommand(t *testing.T) {
	requireSandbox(t)
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	pod := runningPod(t, cs, "postgres")
	k := sb.Kube.Kubelet()
	k.SetLog("stockapp", pod, "postgres", nil)
	stop := k.Generate(context.Background(), "stockapp", pod, "postgres", 100, func(i int, _ time.Time) string { return fmt.Sprintf("tick %d", i) })
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", sb.ConfigPath, "logs", pod, "-f")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	n := 0
	for n < 50 && sc.Scan() {
		if want := fmt.Sprintf("tick %d", n); sc.Text() != want {
			t.Fatalf("line %d: %q, want %q", n, sc.Text(), want)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("followed %d lines: %s", n, stderr.String())
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for sc.Scan() {
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after Ctrl-C: %v\n%s", err, stderr.String())
	}
}

// TestLogsInProcess runs `opsdeck logs` as a runbook or a served session
// does: a viewer may read in read-only mode; a context without an identity
// is refused.
func TestLogsInProcess(t *testing.T) {
	requireSandbox(t)
	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	pod := runningPod(t, cs, "redis")
	sb.Kube.Kubelet().SetLog("stockapp", pod, "redis", []sandbox.LogLine{{Time: time.Now(), Text: "Ready to accept connections tcp"}})
	cfg := *sb.Config
	cfg.ReadOnly = true
	ex := commands.InProcess(&cfg, nil)
	var out strings.Builder
	ctx := accesstest.As(context.Background(), "vera", access.Viewer)
	if code := ex.Exec(ctx, []string{"logs", pod}, &out); code != 0 || out.String() != "Ready to accept connections tcp\n" {
		t.Fatalf("a viewer, read-only: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := ex.Exec(context.Background(), []string{"logs", pod}, &out); code != 2 || !strings.Contains(out.String(), "no identity") {
		t.Fatalf("no identity: exit %d\n%s", code, out.String())
	}
}
