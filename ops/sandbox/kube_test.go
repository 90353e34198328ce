package sandbox

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeBinDirForTest skips under OPSDECK_SKIP_INTEGRATION=1 and fails with
// the fix when the binaries are missing.
func kubeBinDirForTest(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		tb.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	dir, err := KubeBinDir()
	if err != nil {
		tb.Fatalf("kube integration test needs kube-apiserver and etcd: %v", err)
	}
	return dir
}

func TestKubeBinDir(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("OPSDECK_KUBEBIN", empty)
	if _, err := KubeBinDir(); err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("KubeBinDir with no binaries: err = %v, want one telling to run make deps", err)
	}

	cache := t.TempDir()
	bin := filepath.Join(cache, "kubebin", KubeVersion)
	writeFakeBins(t, bin, "#!/bin/sh\nexit 0\n")
	t.Setenv("OPSDECK_KUBEBIN", "")
	t.Setenv("OPSDECK_CACHE", cache)
	if got, err := KubeBinDir(); err != nil || got != bin {
		t.Fatalf("KubeBinDir with OPSDECK_CACHE = %q, %v; want %q", got, err, bin)
	}

	xdg := t.TempDir()
	xbin := filepath.Join(xdg, "opsdeck", "kubebin", KubeVersion)
	writeFakeBins(t, xbin, "#!/bin/sh\nexit 0\n")
	t.Setenv("OPSDECK_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", xdg)
	if got, err := KubeBinDir(); err != nil || got != xbin {
		t.Fatalf("KubeBinDir with XDG_CACHE_HOME = %q, %v; want %q", got, err, xbin)
	}

	t.Setenv("OPSDECK_KUBEBIN", bin)
	if got, err := KubeBinDir(); err != nil || got != bin {
		t.Fatalf("KubeBinDir with OPSDECK_KUBEBIN = %q, %v; want %q", got, err, bin)
	}
}

func writeFakeBins(t *testing.T, dir, script string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKubeStartFailureCleansUp(t *testing.T) {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	bin := filepath.Join(t.TempDir(), "bin")
	writeFakeBins(t, bin, "#!/bin/sh\necho broken >&2\nexit 1\n")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := StartKube(ctx, KubeOptions{BinDir: bin, StartTimeout: 500 * time.Millisecond})
	if err == nil {
		_ = srv.Stop()
		t.Fatal("StartKube with broken binaries succeeded")
	}
	if !strings.Contains(err.Error(), "make deps") {
		t.Errorf("error %q does not say what to do", err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "*"))
	if len(left) > 0 {
		t.Errorf("failed start left files behind: %v", left)
	}
}

// kubeProcessesUnder lists the pids of processes whose arguments mention dir.
func kubeProcessesUnder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []string
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), dir) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// A start cut short by ctx leaves no process and no directory behind, even
// when kube-apiserver is still starting (envtest would forget it).
func TestKubeStartCanceledLeavesNothing(t *testing.T) {
	bin := kubeBinDirForTest(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	srv, err := StartKube(ctx, KubeOptions{BinDir: bin})
	if err == nil {
		_ = srv.Stop()
		t.Skip("the API server started within 1.5s; nothing to cancel")
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("canceled start took %v", d)
	}
	time.Sleep(200 * time.Millisecond)
	if pids := kubeProcessesUnder(t, tmp); len(pids) > 0 {
		t.Errorf("processes left running after a canceled start: %v", pids)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Errorf("files left after a canceled start: %v", left)
	}
}

func TestKubeStartSeedStop(t *testing.T) {
	bin := kubeBinDirForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t0 := time.Now()
	srv, err := StartKube(ctx, KubeOptions{BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("envtest start: %v", time.Since(t0).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Stop()
		}
	})

	stats, err := SeedKube(ctx, srv.Config(), KubeSeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed default: %+v", stats)
	if stats.Nodes != 6 || len(stats.NotReadyNodes) != 1 || stats.CrashLoopPod == "" || stats.PendingPod == "" {
		t.Fatalf("unexpected stats %+v", stats)
	}

	// The kubeconfig works with kubectl's loading rules.
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: srv.KubeconfigPath()}, &clientcmd.ConfigOverrides{})
	rc, err := loader.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if ns, _, _ := loader.Namespace(); ns != "stockapp" {
		t.Errorf("kubeconfig namespace = %q, want stockapp", ns)
	}
	rc.Timeout = 10 * time.Second
	cs := kubernetes.NewForConfigOrDie(rc)

	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	notReady := 0
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				notReady++
			}
		}
		if n.Status.NodeInfo.KubeletVersion != KubeVersion || n.Status.Allocatable.Cpu().IsZero() {
			t.Errorf("node %s status not set: %+v", n.Name, n.Status.NodeInfo)
		}
	}
	if len(nodes.Items) != 6 || notReady != 1 {
		t.Errorf("nodes = %d (not ready %d), want 6 (1)", len(nodes.Items), notReady)
	}

	pods, err := cs.CoreV1().Pods("stockapp").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != stats.Pods {
		t.Errorf("pods = %d, want %d", len(pods.Items), stats.Pods)
	}
	for _, p := range pods.Items {
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID == "" {
			t.Errorf("pod %s has no owner: %v", p.Name, p.OwnerReferences)
		}
		switch p.Name {
		case stats.CrashLoopPod:
			cs := p.Status.ContainerStatuses[0]
			if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.RestartCount != 14 ||
				cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
				t.Errorf("crash loop pod status: %+v", cs)
			}
		case stats.PendingPod:
			if p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" {
				t.Errorf("pending pod: phase %s node %q", p.Status.Phase, p.Spec.NodeName)
			}
		}
	}
	evs, err := cs.CoreV1().Events("stockapp").List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil {
		t.Fatal(err)
	}
	// The API server may add its own (the service IP repair loop), so only
	// the seeded reasons are required.
	reasons := map[string]bool{}
	for _, e := range evs.Items {
		reasons[e.Reason] = true
	}
	for _, want := range []string{"BackOff", "FailedScheduling", "NodeNotReady"} {
		if !reasons[want] {
			t.Errorf("no %s warning event among %v", want, reasons)
		}
	}
	if len(evs.Items) < stats.WarningEvents || stats.WarningEvents < 3 {
		t.Errorf("warning events = %d, stats say %d (want >= 3)", len(evs.Items), stats.WarningEvents)
	}
	for _, kind := range []string{"deployments", "statefulsets", "replicasets"} {
		var n int
		switch kind {
		case "deployments":
			l, err := cs.AppsV1().Deployments("stockapp").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			n = len(l.Items)
		case "statefulsets":
			l, err := cs.AppsV1().StatefulSets("stockapp").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			n = len(l.Items)
		case "replicasets":
			l, err := cs.AppsV1().ReplicaSets("stockapp").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			n = len(l.Items)
		}
		if n == 0 {
			t.Errorf("no %s seeded", kind)
		}
	}
	cjs, err := cs.BatchV1().CronJobs("stockapp").List(ctx, metav1.ListOptions{})
	if err != nil || len(cjs.Items) != 2 {
		t.Errorf("cron jobs = %v, %v; want backup and maintenance", cjs, err)
	}

	// Seeding the same namespace again is refused with advice.
	if _, err := SeedKube(ctx, srv.Config(), KubeSeedOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second seeding: err = %v", err)
	}

	// An RBAC-less user is authenticated but forbidden.
	path, err := srv.AddUser("bob", []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	bobCfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	bobCfg.Timeout = 10 * time.Second
	_, err = kubernetes.NewForConfigOrDie(bobCfg).CoreV1().Pods("stockapp").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("bob listing pods: err = %v, want 403", err)
	}

	u, err := url.Parse(srv.Host())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(srv.KubeconfigPath())
	if err := srv.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	stopped = true
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("kubeconfig dir %s still exists after Stop (%v)", dir, err)
	}
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		_ = c.Close()
		t.Errorf("API server %s still listening after Stop", u.Host)
	}
	if _, err := srv.AddUser("late", nil); err == nil {
		t.Error("AddUser after Stop succeeded")
	}
}

// BenchmarkKubeSeed10k seeds 10,000 pods on 50 nodes into a fresh server
// (one iteration is enough: b.N is 1 at this duration).
func BenchmarkKubeSeed10k(b *testing.B) {
	bin := kubeBinDirForTest(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv, err := StartKube(ctx, KubeOptions{BinDir: bin})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		stats, err := SeedKube(ctx, srv.Config(), KubeSeedOptions{
			Namespace: "scale-" + string(rune('a'+i%26)), Nodes: 50, ExtraPods: 10000,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(stats.Pods)/stats.Duration.Seconds(), "pods/s")
		b.Logf("seeded %d pods, %d objects on %d nodes in %v", stats.Pods, stats.Objects, stats.Nodes, stats.Duration.Round(time.Millisecond))
	}
}
