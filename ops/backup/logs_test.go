package backup

import (
	"context"
	"fmt"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestLogsThroughTheAPIServer serves a kubelet's log endpoint on loopback,
// registers a Node pointing at it, and takes the logs component: the real
// kube-apiserver proxies each pod log request to it, as it would to a kubelet.
func TestLogsThroughTheAPIServer(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	// The engine fetches logs in parallel, so the handler runs concurrently.
	var (
		mu       sync.Mutex
		requests []string
	)
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		// /containerLogs/NAMESPACE/POD/CONTAINER
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
		if len(parts) != 3 || parts[1] == "broken" {
			http.Error(w, "container not found", http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "2026-11-25T08:00:00Z %s/%s started\n2026-11-25T08:00:01Z ready\n", parts[1], parts[2])
	}))
	defer kubelet.Close()
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(kubelet.URL, "https://"))
	port, _ := strconv.Atoi(portStr)

	cs, err := kubernetes.NewForConfig(sb.Kube.Config())
	if err != nil {
		t.Fatal(err)
	}
	ns := "logs-" + strconv.FormatInt(time.Now().UnixNano()%100000, 10)
	node := "kubelet-" + ns
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.CoreV1().Namespaces().Delete(accesstest.Admin(context.Background()), ns, metav1.DeleteOptions{})
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.CoreV1().Nodes().Delete(accesstest.Admin(context.Background()), node, metav1.DeleteOptions{})
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api-1", "worker-1", "broken"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{
			NodeName: node, AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{Name: "app", Image: "stockapp:1"}, {Name: "sidecar", Image: "proxy:1"}},
		}}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t)
	cfg.Kubernetes.Namespaces = []string{ns}
	e := newEngine(t, cfg)
	res, err := e.Backup(ctx, Options{Kind: Logs})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	c, _ := res.Manifest.Component(Logs)
	if c.Logs.Containers != 4 || c.Logs.Failed != 2 || len(c.Warnings) != 2 {
		t.Fatalf("logs facts %+v warnings %v (kubelet saw %v)", c.Logs, c.Warnings, requests)
	}
	if !strings.Contains(requests[0], "sinceSeconds=86400") || !strings.Contains(requests[0], "timestamps=true") {
		t.Errorf("request %s", requests[0])
	}
	var names []string
	for _, f := range readTar(t, extract(t, e, res.Manifest, Logs, nil)) {
		if !strings.Contains(string(f.data), "started") {
			t.Errorf("%s: %q", f.name, f.data)
		}
		names = append(names, f.name)
	}
	want := ns + "/api-1/app.log," + ns + "/api-1/sidecar.log," + ns + "/worker-1/app.log," + ns + "/worker-1/sidecar.log"
	if strings.Join(names, ",") != want {
		t.Errorf("files %v", names)
	}
}
