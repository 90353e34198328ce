package kube

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fillPods puts n pods (1 in 50 crash looping) on 50 nodes into an unstarted cache.
func fillPods(tb testing.TB, n int) *Cache {
	tb.Helper()
	c := newCache(nil, []string{"stockapp"}, time.Second, time.Second)
	ctrl := true
	for i := range n {
		st := running("app", true, 0)
		if i%50 == 0 {
			st = waiting("app", "CrashLoopBackOff")
			st.RestartCount = 14
			st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(time.Minute)}
		}
		p := withCond(testPod(corev1.PodRunning, st), corev1.PodReady, corev1.ConditionTrue, "", "")
		p.Name = fmt.Sprintf("analyzer-7d9f8c6b5-%05d", i)
		p.Namespace = "stockapp"
		p.Spec.NodeName = fmt.Sprintf("node-%02d", i%50+1)
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "analyzer-7d9f8c6b5", Controller: &ctrl}}
		if err := c.pods[0].informer.GetStore().Add(p); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range 50 {
		if err := c.nodes.informer.GetStore().Add(testNode(fmt.Sprintf("node-%02d", i+1), corev1.ConditionTrue)); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// BenchmarkPods10k builds the sorted rows of 10,000 cached pods.
func BenchmarkPods10k(b *testing.B) {
	c := fillPods(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if rows := c.Pods(); len(rows) != 10000 {
			b.Fatal(len(rows))
		}
	}
}

func TestCacheGettersOnFilledStore(t *testing.T) {
	c := fillPods(t, 200)
	c.now = func() time.Time { return testNow }
	rows := c.Pods()
	if len(rows) != 200 || rows[0].Name > rows[1].Name {
		t.Fatalf("rows = %d, sorted %v", len(rows), rows[0].Name < rows[1].Name)
	}
	nodes := c.Nodes()
	if len(nodes) != 50 || nodes[0].PodsCount != -1 {
		// pod sources have not synced (never started): counts are unknown
		t.Errorf("nodes = %d, count %d", len(nodes), nodes[0].PodsCount)
	}
	d, ok := c.NodeDetail("node-01")
	if !ok || len(d.Pods) != 4 || d.PodsCount != 4 {
		t.Errorf("NodeDetail pods = %d count %d", len(d.Pods), d.PodsCount)
	}
	f := c.Facts()
	if f.PodsTotal != 200 || len(f.CrashLooping) != 4 {
		t.Errorf("facts pods %d crash %d", f.PodsTotal, len(f.CrashLooping))
	}
	// Changes coalesce: many notifications, one pending signal, never blocking.
	for range 10000 {
		c.notify()
	}
	if len(c.Changes()) != 1 {
		t.Errorf("pending signals = %d, want 1", len(c.Changes()))
	}
	// Subscribers each get every signal, coalesced, and are forgotten when
	// their context ends.
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	s1, s2 := c.Subscribe(ctx1), c.Subscribe(ctx2)
	for range 100 {
		c.notify()
	}
	if len(s1) != 1 || len(s2) != 1 {
		t.Errorf("subscribers got %d and %d pending signals, want 1 each", len(s1), len(s2))
	}
	cancel1()
	cancel2()
	deadline := time.Now().Add(time.Second)
	for c.Subscribers() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := c.Subscribers(); n != 0 {
		t.Errorf("%d subscribers left after their contexts ended", n)
	}
}
