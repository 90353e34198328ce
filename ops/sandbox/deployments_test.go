package sandbox

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/opsdeck/opsdeck/ops/config"
)

// playCluster starts a kube-apiserver seeded with the stock application
// (namespace stockapp) and returns a client with no overall HTTP timeout,
// as PlayDeployments wants, and the seed's stats.
func playCluster(t *testing.T) (kubernetes.Interface, KubeSeedStats) {
	t.Helper()
	bin := kubeBinDirForTest(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv, err := StartKube(ctx, KubeOptions{BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	stats, err := SeedKube(ctx, srv.Config(), KubeSeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc := srv.Config()
	rc.Timeout = 0
	return kubernetes.NewForConfigOrDie(rc), stats
}

// scaleTo sets a Deployment's replicas through the scale subresource, as a
// restore does.
func scaleTo(t *testing.T, cs kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	sc, err := cs.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = n
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, name, sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deploymentPods lists the pods matching the Deployment's selector and its
// current state.
func deploymentPods(t *testing.T, cs kubernetes.Interface, ns, name string) (*appsv1.Deployment, []corev1.Pod) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	return d, pods.Items
}

// waitDeployment polls (every 50ms, within 5s) until the Deployment and
// its pods satisfy ok, which explains what is still missing, and returns
// how long that took.
func waitDeployment(t *testing.T, cs kubernetes.Interface, ns, name string, ok func(*appsv1.Deployment, []corev1.Pod) string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		d, pods := deploymentPods(t, cs, ns, name)
		why := ok(d, pods)
		if why == "" {
			return time.Since(start)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("deployment %s after %v: %s", name, time.Since(start).Round(time.Millisecond), why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scaledTo is the condition "n pods, all Running and Ready, and a status
// that says so for the current generation".
func scaledTo(n int32) func(*appsv1.Deployment, []corev1.Pod) string {
	return func(d *appsv1.Deployment, pods []corev1.Pod) string {
		if int32(len(pods)) != n {
			return fmt.Sprintf("%d pods, want %d", len(pods), n)
		}
		for _, p := range pods {
			if p.Status.Phase != corev1.PodRunning || !podReady(&p) {
				return fmt.Sprintf("pod %s is %s (ready %v)", p.Name, p.Status.Phase, podReady(&p))
			}
		}
		st := d.Status
		if st.ObservedGeneration != d.Generation || st.Replicas != n || st.ReadyReplicas != n ||
			st.AvailableReplicas != n || st.UpdatedReplicas != n || st.UnavailableReplicas != 0 {
			return fmt.Sprintf("status %+v at generation %d", st, d.Generation)
		}
		return ""
	}
}

func TestPlayDeploymentsScalesDownAndUp(t *testing.T) {
	cs, stats := playCluster(t)
	const ns = "stockapp"
	stop, err := PlayDeployments(t.Context(), cs, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	// A cluster whose counts agree is left alone: same pods, same status.
	time.Sleep(1500 * time.Millisecond)
	d, pods := deploymentPods(t, cs, ns, "api")
	if len(pods) != 3 || d.Status.Replicas != 3 || d.Status.ReadyReplicas != 2 {
		t.Fatalf("the player changed an agreeing deployment: %d pods, status %+v", len(pods), d.Status)
	}
	all, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Items) != stats.Pods {
		t.Fatalf("%d pods in %s, the seed made %d", len(all.Items), ns, stats.Pods)
	}

	// Down to 0: every pod goes, the pending one and the crash-looping one
	// included, and the status says 0.
	for _, name := range []string{"api", "worker"} {
		scaleTo(t, cs, ns, name, 0)
		took := waitDeployment(t, cs, ns, name, scaledTo(0))
		t.Logf("%s down to 0 in %v", name, took.Round(time.Millisecond))
		if took > 3*time.Second {
			t.Errorf("%s took %v to scale down, want about 1s", name, took)
		}
	}

	// Up to 3: healthy pods, scheduled on Ready nodes, owned by the
	// ReplicaSet, matching its pod-template-hash.
	scaleTo(t, cs, ns, "api", 3)
	took := waitDeployment(t, cs, ns, "api", scaledTo(3))
	t.Logf("api up to 3 in %v", took.Round(time.Millisecond))
	rss, err := cs.AppsV1().ReplicaSets(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=api"})
	if err != nil || len(rss.Items) != 1 {
		t.Fatalf("replica sets of api: %v, %v", rss, err)
	}
	rs := rss.Items[0]
	_, pods = deploymentPods(t, cs, ns, "api")
	for _, p := range pods {
		suffix, ok := strings.CutPrefix(p.Name, "api-")
		if !ok || len(suffix) != 5 {
			t.Errorf("pod name %q, want api-<5 characters>", p.Name)
		}
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.Kind != "ReplicaSet" || ref.UID != rs.UID {
			t.Errorf("pod %s controller %+v, want replica set %s", p.Name, ref, rs.Name)
		}
		if p.Labels["pod-template-hash"] != rs.Labels["pod-template-hash"] {
			t.Errorf("pod %s labels %v, want the hash of %s", p.Name, p.Labels, rs.Name)
		}
		if p.Spec.NodeName == "" || slices.Contains(stats.NotReadyNodes, p.Spec.NodeName) {
			t.Errorf("pod %s on node %q, want a Ready node", p.Name, p.Spec.NodeName)
		}
		if p.Status.PodIP == "" || p.Status.StartTime == nil || time.Since(p.Status.StartTime.Time) > time.Minute {
			t.Errorf("pod %s status: ip %q, started %v; want an IP and a start just now", p.Name, p.Status.PodIP, p.Status.StartTime)
		}
		if c := p.Status.ContainerStatuses; len(c) != 1 || !c[0].Ready || c[0].State.Running == nil || c[0].RestartCount != 0 {
			t.Errorf("pod %s container status %+v, want running and ready", p.Name, c)
		}
	}
	scaleTo(t, cs, ns, "worker", 2)
	waitDeployment(t, cs, ns, "worker", scaledTo(2))

	// Newest first: after a second (creation times have 1s resolution) a
	// fourth pod is added, and scaling back to 3 removes that one.
	time.Sleep(1100 * time.Millisecond)
	before := map[string]bool{}
	for _, p := range pods {
		before[p.Name] = true
	}
	scaleTo(t, cs, ns, "api", 4)
	waitDeployment(t, cs, ns, "api", scaledTo(4))
	scaleTo(t, cs, ns, "api", 3)
	waitDeployment(t, cs, ns, "api", scaledTo(3))
	_, pods = deploymentPods(t, cs, ns, "api")
	for _, p := range pods {
		if !before[p.Name] {
			t.Errorf("scaling 4 → 3 kept the newest pod %s and deleted an older one", p.Name)
		}
	}

	// The other Deployments were not touched.
	d, pods = deploymentPods(t, cs, ns, "scheduler")
	if len(pods) != 1 || pods[0].Name != stats.NotReadyPod || d.Status.ReadyReplicas != 0 {
		t.Errorf("scheduler changed: pods %d, status %+v", len(pods), d.Status)
	}
}

// A Deployment without a ReplicaSet gets pods owned by the Deployment; a
// deleted pod of a Deployment is replaced.
func TestPlayDeploymentsWithoutReplicaSet(t *testing.T) {
	cs, _ := playCluster(t)
	const ns = "stockapp"
	stop, err := PlayDeployments(t.Context(), cs, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	two := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "reports", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "reports"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "reports"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "reports", Image: "stockapp/reports:1.0"}}},
			},
		},
	}
	created, err := cs.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, cs, ns, "reports", scaledTo(2))
	_, pods := deploymentPods(t, cs, ns, "reports")
	for _, p := range pods {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.Kind != "Deployment" || ref.UID != created.UID {
			t.Errorf("pod %s controller %+v, want deployment reports", p.Name, ref)
		}
	}
	if err := cs.CoreV1().Pods(ns).Delete(t.Context(), pods[0].Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, cs, ns, "reports", func(d *appsv1.Deployment, ps []corev1.Pod) string {
		if why := scaledTo(2)(d, ps); why != "" {
			return why
		}
		for _, p := range ps {
			if p.Name == pods[0].Name {
				return "the deleted pod is still listed"
			}
		}
		return ""
	})
}

// stop, and the end of ctx, leave no goroutine of the player behind.
func TestPlayDeploymentsLeavesNoGoroutines(t *testing.T) {
	cs, _ := playCluster(t)
	const ns = "stockapp"
	// The client's connection exists before the snapshot.
	if _, err := cs.AppsV1().Deployments(ns).List(t.Context(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()

	stop, err := PlayDeployments(t.Context(), cs, ns)
	if err != nil {
		t.Fatal(err)
	}
	scaleTo(t, cs, ns, "scheduler", 2)
	waitDeployment(t, cs, ns, "scheduler", func(d *appsv1.Deployment, pods []corev1.Pod) string {
		if len(pods) != 2 || d.Status.Replicas != 2 {
			return fmt.Sprintf("%d pods, status %+v", len(pods), d.Status)
		}
		return ""
	})
	stop()
	goleak.VerifyNone(t, before)
	stop() // a second stop is harmless

	ctx, cancel := context.WithCancel(t.Context())
	stop, err = PlayDeployments(ctx, cs, ns)
	if err != nil {
		t.Fatal(err)
	}
	scaleTo(t, cs, ns, "scheduler", 1)
	waitDeployment(t, cs, ns, "scheduler", func(d *appsv1.Deployment, pods []corev1.Pod) string {
		if len(pods) != 1 || d.Status.Replicas != 1 {
			return fmt.Sprintf("%d pods, status %+v", len(pods), d.Status)
		}
		return ""
	})
	cancel()
	goleak.VerifyNone(t, before)
	stop()
}

// An unreachable API server fails the start with the reason and what to
// do, within ctx, and leaves nothing running.
func TestPlayDeploymentsUnreachable(t *testing.T) {
	if os.Getenv("OPSDECK_SKIP_INTEGRATION") == "1" {
		t.Skip("OPSDECK_SKIP_INTEGRATION=1")
	}
	before := goleak.IgnoreCurrent()
	if _, err := PlayDeployments(t.Context(), nil, "stockapp"); err == nil {
		t.Error("PlayDeployments with a nil clientset succeeded")
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: fmt.Sprintf("https://127.0.0.1:%d", port),
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	if _, err := PlayDeployments(t.Context(), cs, ""); err == nil {
		t.Error("PlayDeployments with no namespace succeeded")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	stop, err := PlayDeployments(ctx, cs, "stockapp")
	if err == nil {
		stop()
		t.Fatal("PlayDeployments against a closed port succeeded")
	}
	t.Logf("failed in %v: %v", time.Since(start), err)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("failing start took %v, ctx allowed 1.5s", took)
	}
	if msg := err.Error(); !strings.Contains(msg, "connection refused") || !strings.Contains(msg, "check that") {
		t.Errorf("error %q does not say why and what to do", msg)
	}
	goleak.VerifyNone(t, before)
}

// The sandbox runs the player for its namespace, names the writers in its
// config, and stops the player with everything else.
func TestSandboxPlaysDeployments(t *testing.T) {
	kubeBinDirForTest(t)
	if _, err := PostgresBinDir(); err != nil {
		t.Skipf("no PostgreSQL: %v", err)
	}
	if _, err := RedisServerPath(); err != nil {
		t.Skipf("no Redis: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	sb, err := Start(ctx, Options{Load: true})
	// The player outlives Start's ctx, as in RunTests; the load generator
	// runs until it ends.
	t.Cleanup(cancel)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Stop() })

	want := []string{"api", "worker", "scheduler"}
	if !slices.Equal(sb.Config.Restore.Writers, want) {
		t.Errorf("config writers %v, want %v", sb.Config.Restore.Writers, want)
	}
	written, err := config.Load(sb.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(written.Restore.Writers, want) {
		t.Errorf("written config writers %v, want %v", written.Restore.Writers, want)
	}
	rc := sb.Kube.Config()
	rc.Timeout = 10 * time.Second
	cs := kubernetes.NewForConfigOrDie(rc)
	for _, w := range written.RestoreWriters() {
		if _, err := cs.AppsV1().Deployments(w.Namespace).Get(t.Context(), w.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("writer %s: %v", w, err)
		}
	}

	scaleTo(t, cs, "stockapp", "api", 1)
	waitDeployment(t, cs, "stockapp", "api", func(d *appsv1.Deployment, pods []corev1.Pod) string {
		if len(pods) != 1 || d.Status.Replicas != 1 {
			return fmt.Sprintf("%d pods, status %+v", len(pods), d.Status)
		}
		return ""
	})

	// The load generator stands in for the application: it stops while
	// api is scaled to 0, as a restore does, and comes back with it.
	moving := func() bool {
		before := sb.Load.Stats().Requests
		time.Sleep(600 * time.Millisecond)
		return sb.Load.Stats().Requests > before
	}
	waitFor := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for moving() != want {
			if time.Now().After(deadline) {
				t.Fatalf("load moving = %v, want %v", !want, want)
			}
		}
	}
	waitFor(true)
	scaleTo(t, cs, "stockapp", "api", 0)
	waitFor(false)
	scaleTo(t, cs, "stockapp", "api", 2)
	waitFor(true)
}
