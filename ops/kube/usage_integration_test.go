package kube_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/kube"
)

func TestUsageFromSandbox(t *testing.T) {
	c := adminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fetched, err := kube.FetchUsage(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := startCache(t, c, nil)
	if err := cache.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	cached := cache.Usage()
	for name, u := range map[string]kube.Usage{"FetchUsage": fetched, "Cache.Usage": cached} {
		if u.NodesTotal != kubeSeed.Nodes || u.NodesNotReady != len(kubeSeed.NotReadyNodes) {
			t.Errorf("%s: nodes %d, not ready %d; want %d, %d", name, u.NodesTotal, u.NodesNotReady, kubeSeed.Nodes, len(kubeSeed.NotReadyNodes))
		}
		// The crash-looping worker, the pending api replica and the
		// scheduler on the NotReady node.
		if u.PodsTotal != kubeSeed.Pods || u.PodsNotReady != 3 {
			t.Errorf("%s: pods %d, not ready %d; want %d, 3", name, u.PodsTotal, u.PodsNotReady, kubeSeed.Pods)
		}
		if u.MaxRestarts != 14 || u.MaxRestartsPod != kubeSeed.Namespace+"/"+kubeSeed.CrashLoopPod {
			t.Errorf("%s: max restarts %d in %s", name, u.MaxRestarts, u.MaxRestartsPod)
		}
		var requested, allocatable int64
		for _, n := range u.Nodes {
			requested += n.CPURequested
			allocatable += n.CPUAllocatable
		}
		if requested <= 0 || allocatable < int64(kubeSeed.Nodes)*1000 || requested >= allocatable {
			t.Errorf("%s: CPU requested %dm of %dm", name, requested, allocatable)
		}
		if len(u.Errors) != 0 {
			t.Errorf("%s: errors %v", name, u.Errors)
		}
	}
	if _, err := kube.FetchNodeMetrics(ctx, c); !errors.Is(err, kube.ErrMetricsNotServed) {
		t.Errorf("FetchNodeMetrics on a cluster without metrics-server: %v, want ErrMetricsNotServed", err)
	}
}
