package kube

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
)

func withRequests(p *corev1.Pod, node, cpu, mem string) *corev1.Pod {
	p.Spec.NodeName = node
	p.Spec.Containers = []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
	}}}}
	return p
}

func allocatable(n *corev1.Node, cpu, mem string) *corev1.Node {
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	return n
}

func TestComputeUsage(t *testing.T) {
	nodes := []*corev1.Node{
		allocatable(testNode("b", corev1.ConditionTrue), "4", "8Gi"),
		allocatable(testNode("a", corev1.ConditionFalse), "2", "4Gi"),
	}
	runningPod := withRequests(testPod(corev1.PodRunning, running("app", true, 1)), "b", "500m", "1Gi")
	crashing := withRequests(testPod(corev1.PodRunning, waiting("app", "CrashLoopBackOff")), "b", "250m", "512Mi")
	crashing.Name = "crashing"
	crashing.Status.ContainerStatuses[0].RestartCount = 14
	done := withRequests(testPod(corev1.PodSucceeded, terminated("app", "Completed", 0)), "b", "4", "8Gi")
	done.Name = "done"
	pending := withRequests(testPod(corev1.PodPending), "", "1", "1Gi")
	pending.Name = "pending"
	initHeavy := withRequests(testPod(corev1.PodRunning, running("app", true, 0)), "a", "100m", "64Mi")
	initHeavy.Name = "init-heavy"
	initHeavy.Spec.InitContainers = []corev1.Container{{Name: "migrate", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("32Mi"),
	}}}}

	u := ComputeUsage(nodes, []*corev1.Pod{runningPod, crashing, done, pending, initHeavy}, testNow)
	if u.NodesTotal != 2 || u.NodesNotReady != 1 || u.PodsTotal != 5 {
		t.Errorf("nodes %d/%d not ready, pods %d", u.NodesNotReady, u.NodesTotal, u.PodsTotal)
	}
	if u.PodsNotReady != 2 {
		t.Errorf("PodsNotReady = %d, want the crash-looping and the pending pod", u.PodsNotReady)
	}
	if u.MaxRestarts != 14 || !strings.HasSuffix(u.MaxRestartsPod, "/crashing") || u.TotalRestarts != 15 {
		t.Errorf("restarts max %d (%s) total %d", u.MaxRestarts, u.MaxRestartsPod, u.TotalRestarts)
	}
	want := []NodeUsage{
		{Name: "a", CPUAllocatable: 2000, MemAllocatable: 4 << 30, CPURequested: 1000, MemRequested: 64 << 20},
		{Name: "b", Ready: true, CPUAllocatable: 4000, MemAllocatable: 8 << 30, CPURequested: 750, MemRequested: 1536 << 20},
	}
	if len(u.Nodes) != 2 || u.Nodes[0] != want[0] || u.Nodes[1] != want[1] {
		t.Errorf("Nodes =\n %+v\nwant\n %+v", u.Nodes, want)
	}
}

func TestFetchNodeMetrics(t *testing.T) {
	served := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != nodeMetricsPath || !served {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"NodeMetricsList","apiVersion":"metrics.k8s.io/v1beta1","items":[
			{"metadata":{"name":"node-1"},"timestamp":"2026-11-25T08:30:00Z","window":"20.5s","usage":{"cpu":"1250m","memory":"3Gi"}},
			{"metadata":{"name":"node-2"},"window":"15s","usage":{"cpu":"52873107n","memory":"524288Ki"}}]}`))
	}))
	defer srv.Close()
	c, err := NewClientForConfig(&rest.Config{Host: srv.URL}, "test", nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FetchNodeMetrics(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if m := got["node-1"]; m.CPU != 1250 || m.Memory != 3<<30 || m.Window != 20500*time.Millisecond {
		t.Errorf("node-1 = %+v", m)
	}
	if m := got["node-2"]; m.CPU != 53 || m.Memory != 512<<20 {
		t.Errorf("node-2 = %+v", m)
	}
	served = false
	if _, err := FetchNodeMetrics(t.Context(), c); err == nil || !strings.Contains(err.Error(), "metrics-server") {
		t.Errorf("without the API: %v, want ErrMetricsNotServed", err)
	}
}
