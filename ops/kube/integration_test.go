package kube_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/sandbox"
)

func adminClient(t testing.TB) *kube.Client {
	t.Helper()
	srv := needKube(t)
	c, err := kube.NewClient(config.KubeConfig{Kubeconfig: srv.KubeconfigPath()}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startCache(t testing.TB, c *kube.Client, namespaces []string) *kube.Cache {
	t.Helper()
	cache, err := kube.NewCache(c, namespaces)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		cache.Stop()
	})
	cache.Start(ctx)
	return cache
}

func TestClientFromKubeconfig(t *testing.T) {
	srv := needKube(t)
	c := adminClient(t)
	if c.ContextName() != sandbox.KubeContext {
		t.Errorf("ContextName = %q, want %q", c.ContextName(), sandbox.KubeContext)
	}
	if got := c.Namespaces(); !slices.Equal(got, []string{"stockapp"}) {
		t.Errorf("Namespaces = %v, want the context's [stockapp]", got)
	}
	if !strings.HasPrefix(c.Host(), "127.0.0.1:") {
		t.Errorf("Host = %q, want 127.0.0.1:port", c.Host())
	}
	if c.RESTConfig().Timeout != 10*time.Second || c.Timeout() != 10*time.Second {
		t.Errorf("timeout not applied: %v", c.RESTConfig().Timeout)
	}

	// KUBECONFIG is honoured and explicit namespaces win.
	t.Setenv("KUBECONFIG", srv.KubeconfigPath())
	c2, err := kube.NewClient(config.KubeConfig{Namespaces: []string{"stockapp", "default"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.Namespaces(); !slices.Equal(got, []string{"stockapp", "default"}) || c2.Timeout() != kube.DefaultTimeout {
		t.Errorf("Namespaces = %v, timeout %v", got, c2.Timeout())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c2.Clientset().CoreV1().Namespaces().Get(ctx, "stockapp", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	// A missing context says what to fix.
	_, err = kube.NewClient(config.KubeConfig{Kubeconfig: srv.KubeconfigPath(), Context: "nope"}, 0)
	if err == nil || !strings.Contains(err.Error(), "kubernetes.context") {
		t.Errorf("unknown context: err = %v", err)
	}
	// So does a missing file.
	_, err = kube.NewClient(config.KubeConfig{Kubeconfig: filepath.Join(t.TempDir(), "none")}, 0)
	if err == nil || !strings.Contains(err.Error(), "kubernetes.kubeconfig") {
		t.Errorf("missing kubeconfig: err = %v", err)
	}
}

func findPod(rows []kube.PodRow, name string) (kube.PodRow, bool) {
	for _, r := range rows {
		if r.Name == name {
			return r, true
		}
	}
	return kube.PodRow{}, false
}

func TestCacheSyncsRows(t *testing.T) {
	c := adminClient(t)
	cache := startCache(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cache.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if errs := cache.Errors(); len(errs) != 0 {
		t.Fatalf("Errors = %v", errs)
	}
	pods := cache.Pods()
	if len(pods) != kubeSeed.Pods {
		t.Errorf("Pods() = %d rows, want %d", len(pods), kubeSeed.Pods)
	}
	crash, ok := findPod(pods, kubeSeed.CrashLoopPod)
	if !ok || crash.Status != "CrashLoopBackOff" || crash.Restarts != 14 || !crash.Problem || crash.Ready != "0/1" {
		t.Errorf("crash loop row = %+v", crash)
	}
	pending, ok := findPod(pods, kubeSeed.PendingPod)
	if !ok || pending.Status != "Pending" || !pending.Problem || !strings.Contains(pending.Reason, "unschedulable") {
		t.Errorf("pending row = %+v", pending)
	}
	done, ok := findPod(pods, kubeSeed.CompletedPod)
	if !ok || done.Status != "Completed" || done.Problem {
		t.Errorf("completed row = %+v", done)
	}
	healthy := 0
	for _, p := range pods {
		if p.Status == "Running" && p.ReadyOK {
			healthy++
		}
	}
	if healthy != kubeSeed.RunningReady {
		t.Errorf("Running+Ready = %d, want %d", healthy, kubeSeed.RunningReady)
	}

	nodes := cache.Nodes()
	if len(nodes) != kubeSeed.Nodes {
		t.Fatalf("Nodes() = %d, want %d", len(nodes), kubeSeed.Nodes)
	}
	for _, n := range nodes {
		wantStatus := "Ready"
		if slices.Contains(kubeSeed.NotReadyNodes, n.Name) {
			wantStatus = "NotReady"
		}
		if n.Status != wantStatus || n.Problem != (wantStatus != "Ready") || n.Version == "" || n.MemAllocatable != "15.5Gi" || n.CPUAllocatable != "3800m" || n.PodsCount < 0 {
			t.Errorf("node row = %+v, want status %s", n, wantStatus)
		}
	}

	d, ok := cache.PodDetail("stockapp", kubeSeed.CrashLoopPod)
	if !ok || len(d.Containers) != 1 {
		t.Fatalf("PodDetail = %+v, %v", d, ok)
	}
	ct := d.Containers[0]
	if ct.State != "Waiting" || ct.StateReason != "CrashLoopBackOff" || ct.LastTermination == nil ||
		ct.LastTermination.Reason != "Error" || ct.LastTermination.ExitCode != 1 || ct.LastTermination.FinishedAt.IsZero() || ct.Image == "" {
		t.Errorf("crash loop container = %+v (last %+v)", ct, ct.LastTermination)
	}
	if len(d.Events) == 0 || d.Events[0].Reason != "BackOff" {
		t.Errorf("crash loop pod events = %+v", d.Events)
	}
	if _, ok := cache.PodDetail("stockapp", "nope"); ok {
		t.Error("PodDetail of a missing pod: ok")
	}

	nd, ok := cache.NodeDetail(kubeSeed.NotReadyNodes[0])
	if !ok || nd.Ready || len(nd.Taints) == 0 || len(nd.Pods) == 0 || nd.OSImage == "" {
		t.Errorf("NodeDetail = %+v, %v", nd, ok)
	}

	warnings := cache.Events(time.Hour, corev1.EventTypeWarning)
	// The API server may add warnings of its own (service IP repair loop).
	if len(warnings) < kubeSeed.WarningEvents {
		t.Errorf("Events(1h, Warning) = %d, want >= %d", len(warnings), kubeSeed.WarningEvents)
	}
	for _, w := range warnings {
		if w.Type != corev1.EventTypeWarning || w.Age > time.Hour {
			t.Errorf("Events(1h, Warning) returned %+v", w)
		}
	}
	for i := 1; i < len(warnings); i++ {
		if warnings[i].Last.After(warnings[i-1].Last) {
			t.Errorf("events not newest first: %v", warnings)
		}
	}
	if all := cache.Events(0, ""); len(all) <= len(warnings) {
		t.Errorf("Events(0, \"\") = %d, want more than the warnings", len(all))
	}

	f := cache.Facts()
	if f.NodesTotal != kubeSeed.Nodes || len(f.CrashLooping) != 1 || len(f.Pending) != 1 || !f.OK() {
		t.Errorf("cache Facts = %+v", f)
	}
}

func TestCacheChangesAndStrip(t *testing.T) {
	c := adminClient(t)
	cs := c.Clientset()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A pod with the annotation kubectl apply writes and managed fields.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "applied", Namespace: "stockapp", Annotations: map[string]string{
			"kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 4096),
			"team": "data",
		}},
		Spec: corev1.PodSpec{NodeName: "node-01", Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	created, err := cs.CoreV1().Pods("stockapp").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cs.CoreV1().Pods("stockapp").Delete(ctx, "applied", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	})
	if len(created.ManagedFields) == 0 {
		t.Fatal("the server returned no managed fields; the strip test would prove nothing")
	}

	cache := startCache(t, c, []string{"stockapp"})
	if err := cache.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	stored, ok := cache.CachedPodForTest("stockapp", "applied")
	if !ok {
		t.Fatal("pod not cached")
	}
	if len(stored.ManagedFields) != 0 {
		t.Errorf("managed fields kept: %d entries", len(stored.ManagedFields))
	}
	if _, ok := stored.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok || stored.Annotations["team"] != "data" {
		t.Errorf("annotations after strip = %v", stored.Annotations)
	}

	// Drain the sync burst, then a status update must signal once.
	drain := time.After(300 * time.Millisecond)
drained:
	for {
		select {
		case <-cache.Changes():
		case <-drain:
			break drained
		}
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "c", Image: "busybox:1.36", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
	}}
	if _, err := cs.CoreV1().Pods("stockapp").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cache.Changes():
	case <-time.After(10 * time.Second):
		t.Fatal("Changes() did not fire after a pod status update")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		row, _ := findPod(cache.Pods(), "applied")
		if row.Status == "Running" && row.Ready == "1/1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("row after update = %+v", row)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFetchFacts(t *testing.T) {
	c := adminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := kube.FetchFacts(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.NodesTotal != kubeSeed.Nodes || f.NodesReady != kubeSeed.Nodes-1 || !slices.Equal(f.NotReadyNodes, kubeSeed.NotReadyNodes) {
		t.Errorf("nodes: total %d ready %d not ready %v", f.NodesTotal, f.NodesReady, f.NotReadyNodes)
	}
	if len(f.CrashLooping) != 1 || f.CrashLooping[0].Name != kubeSeed.CrashLoopPod {
		t.Errorf("CrashLooping = %+v", f.CrashLooping)
	}
	if len(f.Pending) != 1 || f.Pending[0].Name != kubeSeed.PendingPod {
		t.Errorf("Pending = %+v", f.Pending)
	}
	var notOK []string
	for _, p := range f.PodsNotOK {
		notOK = append(notOK, p.Name)
	}
	for _, want := range []string{kubeSeed.CrashLoopPod, kubeSeed.PendingPod, kubeSeed.NotReadyPod} {
		if !slices.Contains(notOK, want) {
			t.Errorf("PodsNotOK %v misses %s", notOK, want)
		}
	}
	if len(f.Restarted) < 2 || f.Restarted[0].Name != kubeSeed.CrashLoopPod || f.Restarted[0].MaxRestarts != 14 {
		t.Errorf("Restarted = %+v", f.Restarted)
	}
	if f.WarningEvents < kubeSeed.WarningEvents || len(f.RecentWarnings) == 0 {
		t.Errorf("warnings = %d %+v, want >= %d", f.WarningEvents, f.RecentWarnings, kubeSeed.WarningEvents)
	}
	if f.Context != sandbox.KubeContext || !f.OK() {
		t.Errorf("context %q errors %v", f.Context, f.Errors)
	}
}

// grant gives user get/list/watch on pods and events of stockapp (not nodes).
func grant(t *testing.T, user string) {
	t.Helper()
	c := adminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rbac := c.Clientset().RbacV1()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "opsdeck-" + user, Namespace: "stockapp"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if _, err := rbac.Roles("stockapp").Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "opsdeck-" + user, Namespace: "stockapp"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user, APIGroup: "rbac.authorization.k8s.io"}},
	}
	if _, err := rbac.RoleBindings("stockapp").Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func TestForbidden(t *testing.T) {
	srv := needKube(t)
	// A fresh user per run: the grant below outlives the test (-count=N).
	user := fmt.Sprintf("bob-%d", userSeq.Add(1))
	path, err := srv.AddUser(user, nil)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := kube.NewClient(config.KubeConfig{Kubeconfig: path}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	f, err := kube.FetchFacts(ctx, bob, nil)
	if err == nil {
		t.Fatal("FetchFacts as an RBAC-less user succeeded")
	}
	for _, src := range []string{kube.SourceNodes, kube.PodsSource("stockapp"), kube.EventsSource("stockapp")} {
		kind, msg := kube.Classify(f.Errors[src])
		if kind != kube.KindForbidden || !strings.Contains(msg, `user "`+user+`" cannot list`) || !strings.Contains(msg, "ask for RBAC") {
			t.Errorf("%s: Classify = %s %q", src, kind, msg)
		}
	}
	if _, msg := kube.Classify(f.Errors[kube.PodsSource("stockapp")]); !strings.Contains(msg, `in namespace "stockapp"`) {
		t.Errorf("pods message lacks the namespace: %q", msg)
	}
	if _, msg := kube.Classify(f.Errors[kube.SourceNodes]); !strings.Contains(msg, "cannot list nodes at the cluster scope") {
		t.Errorf("nodes message: %q", msg)
	}

	// With pods and events granted, nodes fail alone.
	grant(t, user)
	// The RBAC authorizer sees the new Role and RoleBinding through its
	// informers, a moment after they are created.
	for deadline := time.Now().Add(10 * time.Second); ; {
		f, err = kube.FetchFacts(ctx, bob, nil)
		if (err != nil && len(f.Errors) == 1) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil || len(f.Errors) != 1 || f.Errors[kube.SourceNodes] == nil {
		t.Fatalf("partial RBAC: err %v, Errors %v", err, f.Errors)
	}
	if len(f.CrashLooping) != 1 || f.PodsTotal != kubeSeed.Pods || f.NodesTotal != 0 {
		t.Errorf("partial RBAC facts: pods %d crash %v nodes %d", f.PodsTotal, f.CrashLooping, f.NodesTotal)
	}

	cache := startCache(t, bob, nil)
	t0 := time.Now()
	err = cache.WaitSynced(ctx)
	if err == nil || !strings.Contains(err.Error(), "nodes:") {
		t.Fatalf("WaitSynced = %v, want the nodes error", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("WaitSynced took %v with a forbidden source", d)
	}
	errs := cache.Errors()
	if len(errs) != 1 {
		t.Errorf("Errors = %v, want nodes only", errs)
	}
	if kind, _ := kube.Classify(errs[kube.SourceNodes]); kind != kube.KindForbidden {
		t.Errorf("nodes error kind = %s (%v)", kind, errs[kube.SourceNodes])
	}
	if n := len(cache.Pods()); n != kubeSeed.Pods {
		t.Errorf("pods synced despite nodes 403: %d rows, want %d", n, kubeSeed.Pods)
	}
	if len(cache.Nodes()) != 0 {
		t.Error("nodes rows without permission")
	}
}

// writeKubeconfig points a kubeconfig at server with no credentials.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["x"] = &clientcmdapi.Cluster{Server: server, InsecureSkipTLSVerify: true}
	kc.AuthInfos["x"] = &clientcmdapi.AuthInfo{Token: "t"}
	kc.Contexts["x"] = &clientcmdapi.Context{Cluster: "x", AuthInfo: "x"}
	kc.CurrentContext = "x"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUnreachable(t *testing.T) {
	if kubeSkip {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	// A closed port: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()

	// A port that accepts and never answers: a timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	defer func() {
		_ = silent.Close()
		conns.Wait()
	}()
	conns.Go(func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	})

	for _, tc := range []struct {
		name, addr string
	}{{"refused", closed}, {"silent", silent.Addr().String()}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kube.NewClient(config.KubeConfig{Kubeconfig: writeKubeconfig(t, "https://"+tc.addr)}, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			t0 := time.Now()
			f, err := kube.FetchFacts(ctx, c, nil)
			if d := time.Since(t0); d > 4*time.Second {
				t.Errorf("FetchFacts took %v with a 1s timeout", d)
			}
			if err == nil {
				t.Fatal("FetchFacts against a dead server succeeded")
			}
			kind, msg := kube.Classify(f.Errors[kube.SourceNodes])
			if kind != kube.KindUnreachable || !strings.Contains(msg, tc.addr) || !strings.Contains(msg, "kubernetes.kubeconfig/context") {
				t.Errorf("Classify = %s %q", kind, msg)
			}

			cache := startCache(t, c, nil)
			wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer wcancel()
			t0 = time.Now()
			if err := cache.WaitSynced(wctx); err == nil {
				t.Error("WaitSynced against a dead server succeeded")
			}
			if d := time.Since(t0); d > 5*time.Second {
				t.Errorf("WaitSynced took %v with a 1s timeout", d)
			}
		})
	}
}

// BenchmarkCacheSync10k measures a cold cache sync of 10,000 pods (seeded
// once into the namespace "scale" of the shared server).
func BenchmarkCacheSync10k(b *testing.B) {
	srv := needKube(b)
	scaleOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		scaleStats, scaleErr = sandbox.SeedKube(ctx, srv.Config(), sandbox.KubeSeedOptions{Namespace: "scale", Nodes: 50, ExtraPods: 10000})
	})
	if scaleErr != nil {
		b.Fatal(scaleErr)
	}
	b.Logf("seeded %d pods in %v", scaleStats.Pods, scaleStats.Duration)
	c, err := kube.NewClient(config.KubeConfig{Kubeconfig: srv.KubeconfigPath(), Namespaces: []string{"scale"}}, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cache, err := kube.NewCache(c, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cache.Start(ctx)
		err = cache.WaitSynced(ctx)
		n := len(cache.Pods())
		cancel()
		cache.Stop()
		if err != nil || n != scaleStats.Pods {
			b.Fatalf("sync: %v, %d pods", err, n)
		}
	}
}

var userSeq atomic.Int32

var (
	scaleOnce  sync.Once
	scaleStats sandbox.KubeSeedStats
	scaleErr   error
)
