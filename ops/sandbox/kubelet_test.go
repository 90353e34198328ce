package sandbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestKubeletServesLogsThroughTheAPIServer asks the real kube-apiserver
// for pods/log of seeded pods and checks the fake kubelet answers every
// option as the kubelet does.
func TestKubeletServesLogsThroughTheAPIServer(t *testing.T) {
	bin := kubeBinDirForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := StartKube(ctx, KubeOptions{BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	k := srv.Kubelet()
	stats, err := SeedKube(ctx, srv.Config(), KubeSeedOptions{Nodes: 2, KubeletPort: k.Port()})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods("stockapp").List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
	if err != nil {
		t.Fatal(err)
	}
	var pod string
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			pod = p.Name
			break
		}
	}
	now := time.Now()
	var lines []LogLine
	for i := range 10 {
		lines = append(lines, LogLine{Time: now.Add(time.Duration(i-10) * time.Minute), Text: fmt.Sprintf("line %d", i)})
	}
	k.SetLog("stockapp", pod, "api", lines)
	k.SetPrevious("stockapp", stats.CrashLoopPod, "worker", []LogLine{{Time: now.Add(-time.Hour), Text: "panic: boom"}})
	k.SetLog("stockapp", stats.CrashLoopPod, "worker", []LogLine{{Time: now, Text: "starting"}})

	get := func(pod string, o corev1.PodLogOptions) (string, error) {
		b, err := cs.CoreV1().Pods("stockapp").GetLogs(pod, &o).DoRaw(ctx)
		return string(b), err
	}
	ptr := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name string
		pod  string
		opts corev1.PodLogOptions
		want string
	}{
		{"all", pod, corev1.PodLogOptions{}, "line 0\nline 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\n"},
		{"tail", pod, corev1.PodLogOptions{TailLines: ptr(2)}, "line 8\nline 9\n"},
		{"since", pod, corev1.PodLogOptions{SinceSeconds: ptr(150)}, "line 8\nline 9\n"},
		{"sinceTime", pod, corev1.PodLogOptions{SinceTime: &metav1.Time{Time: now.Add(-90 * time.Second)}}, "line 9\n"},
		{"limitBytes", pod, corev1.PodLogOptions{LimitBytes: ptr(10)}, "line 0\nlin"},
		{"previous", stats.CrashLoopPod, corev1.PodLogOptions{Previous: true}, "panic: boom\n"},
		{"current", stats.CrashLoopPod, corev1.PodLogOptions{}, "starting\n"},
	} {
		got, err := get(tc.pod, tc.opts)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	got, err := get(pod, corev1.PodLogOptions{Timestamps: true, TailLines: ptr(1)})
	if want := lines[9].Time.UTC().Format(time.RFC3339Nano) + " line 9\n"; err != nil || got != want {
		t.Errorf("timestamps: %q, %v; want %q", got, err, want)
	}
	// Previous without a previous log: the kubelet's 400.
	if _, err := get(pod, corev1.PodLogOptions{Previous: true}); statusCode(err) != http.StatusBadRequest {
		t.Errorf("previous of a container that never crashed: %v (%#v)", err, err)
	}
	// A pod the kubelet does not know: 404.
	k.Forget("stockapp", pod)
	if _, err := get(pod, corev1.PodLogOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a forgotten pod: %v, want 404", err)
	}

	// Follow a generator: lines arrive while the stream is open, and the
	// stream ends when the caller cancels.
	stop := k.Generate(ctx, "stockapp", pod, "api", 200, func(i int, _ time.Time) string { return fmt.Sprintf("gen %d", i) })
	defer stop()
	fctx, fcancel := context.WithCancel(ctx)
	rc, err := cs.CoreV1().Pods("stockapp").GetLogs(pod, &corev1.PodLogOptions{Follow: true}).Stream(fctx)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(rc)
	seen := 0
	for seen < 50 && sc.Scan() {
		if want := fmt.Sprintf("gen %d", seen); sc.Text() != want {
			t.Fatalf("followed line %d: %q, want %q", seen, sc.Text(), want)
		}
		seen++
	}
	fcancel()
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	if seen < 50 {
		t.Fatalf("followed %d lines: %v", seen, sc.Err())
	}

	// Only a caller with the API server's client certificate is served.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := hc.Get("https://" + k.Addr() + "/containerLogs/stockapp/" + pod + "/api"); err == nil {
		resp.Body.Close()
		t.Errorf("a caller without the client certificate got %s", resp.Status)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Get("https://" + k.Addr() + "/"); err == nil {
		t.Errorf("the kubelet still listens after Stop")
	}
}

func statusCode(err error) int32 {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Code
	}
	return 0
}
