package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// The Kubernetes series.
const (
	KubeCPU           = "kubernetes.cpu"
	KubeMemory        = "kubernetes.memory"
	KubeRestarts      = "kubernetes.restarts"
	KubeNodesNotReady = "kubernetes.nodes_not_ready"
	KubePodsNotReady  = "kubernetes.pods_not_ready"
)

// KubeSource is where the Kubernetes sampler reads the cluster.
type KubeSource struct {
	// Usage returns the objects' view: requests, restarts, readiness. A
	// partial Usage with Errors set is fine; an error with no usable
	// source fails the sample.
	Usage func(ctx context.Context) (kube.Usage, error)
	// NodeMetrics returns the nodes' measured use from metrics.k8s.io;
	// nil, or an error wrapping kube.ErrMetricsNotServed, means CPU and
	// memory fall back to requests against allocatable.
	NodeMetrics func(ctx context.Context) (map[string]kube.NodeMetrics, error)
}

// KubeFromClient reads with one-shot LIST calls (the CLI without informers).
func KubeFromClient(c *kube.Client) KubeSource {
	return KubeSource{
		Usage:       func(ctx context.Context) (kube.Usage, error) { return kube.FetchUsage(ctx, c, nil) },
		NodeMetrics: func(ctx context.Context) (map[string]kube.NodeMetrics, error) { return kube.FetchNodeMetrics(ctx, c) },
	}
}

// KubeFromCache reads a shared informer cache, which get returns (building
// and starting it on first use); no request is made for the objects.
func KubeFromCache(get func(ctx context.Context) (*kube.Cache, *kube.Client, error)) KubeSource {
	return KubeSource{
		Usage: func(ctx context.Context) (kube.Usage, error) {
			c, _, err := get(ctx)
			if err != nil {
				return kube.Usage{}, err
			}
			var pending []string
			for _, st := range c.Sources() {
				if !st.Synced && st.Err == nil && !strings.HasPrefix(st.Name, "events/") {
					pending = append(pending, st.Name)
				}
			}
			if len(pending) > 0 {
				return kube.Usage{}, fmt.Errorf("waiting for %s to sync", strings.Join(pending, ", "))
			}
			return c.Usage(), nil
		},
		NodeMetrics: func(ctx context.Context) (map[string]kube.NodeMetrics, error) {
			_, client, err := get(ctx)
			if err != nil {
				return nil, err
			}
			return kube.FetchNodeMetrics(ctx, client)
		},
	}
}

// metricsRecheck is how long a cluster without metrics.k8s.io is not asked again.
const metricsRecheck = time.Minute

// KubeSampler reads node CPU and memory (measured when metrics.k8s.io is
// served, else requests against allocatable), the worst container's
// restarts and the nodes and pods that are not ready.
type KubeSampler struct {
	src      KubeSource
	interval time.Duration
	series   []SeriesInfo

	mu            sync.Mutex
	noMetricsTill time.Time
}

// NewKubeSampler samples src every interval, judging with th.
func NewKubeSampler(src KubeSource, interval time.Duration, th config.Thresholds) *KubeSampler {
	s := systemSeries("kubernetes", th)
	return &KubeSampler{src: src, interval: interval, series: []SeriesInfo{
		s(KubeCPU, "node CPU", UnitPercent, "cpu_percent", 1),
		s(KubeMemory, "node memory", UnitPercent, "memory_percent", 1),
		s(KubeRestarts, "pod restarts", UnitNone, "pod_restarts", 1),
		s(KubeNodesNotReady, "nodes not ready", UnitNone, "nodes_not_ready", 1),
		s(KubePodsNotReady, "pods not ready", UnitNone, "pods_not_ready", 1),
	}}
}

// Name implements Sampler.
func (k *KubeSampler) Name() string { return "kubernetes" }

// Interval implements Sampler.
func (k *KubeSampler) Interval() time.Duration { return k.interval }

// Series implements Sampler.
func (k *KubeSampler) Series() []SeriesInfo { return k.series }

// Sample implements Sampler.
func (k *KubeSampler) Sample(ctx context.Context, now time.Time) ([]Reading, error) {
	u, err := k.src.Usage(ctx)
	nodesErr, podsErr := sourceErrors(u.Errors)
	if err != nil && (len(u.Errors) == 0 || (nodesErr != nil && podsErr != nil)) {
		return nil, err
	}
	used, usedErr := k.nodeMetrics(ctx, now)
	rs := make([]Reading, 0, len(k.series))
	cpu, mem := k.resources(u, used, usedErr)
	for _, r := range []Reading{cpu, mem} {
		if nodesErr != nil {
			r.Err = nodesErr
		}
		rs = append(rs, r)
	}
	restarts := Reading{ID: KubeRestarts, Value: float64(u.MaxRestarts), Detail: fmt.Sprintf("worst container · %d in all pods", u.TotalRestarts)}
	if u.MaxRestartsPod != "" {
		restarts.Detail = fmt.Sprintf("%s · %d in all pods", u.MaxRestartsPod, u.TotalRestarts)
	}
	pods := Reading{ID: KubePodsNotReady, Value: float64(u.PodsNotReady), Detail: fmt.Sprintf("%d of %d pods", u.PodsNotReady, u.PodsTotal)}
	if podsErr != nil {
		restarts.Err, pods.Err = podsErr, podsErr
	}
	nodes := Reading{ID: KubeNodesNotReady, Value: float64(u.NodesNotReady), Detail: fmt.Sprintf("%d of %d nodes", u.NodesNotReady, u.NodesTotal)}
	if nodesErr != nil {
		nodes.Err = nodesErr
	}
	return append(rs, restarts, nodes, pods), nil
}

// sourceErrors splits Usage.Errors into the node source's and the first pod source's.
func sourceErrors(errs map[string]error) (nodes, pods error) {
	for name, err := range errs {
		switch {
		case name == kube.SourceNodes:
			nodes = err
		case strings.HasPrefix(name, "pods/") && pods == nil:
			pods = fmt.Errorf("%s: %w", name, err)
		}
	}
	return nodes, pods
}

// nodeMetrics asks metrics.k8s.io unless it recently said it is not served.
func (k *KubeSampler) nodeMetrics(ctx context.Context, now time.Time) (map[string]kube.NodeMetrics, error) {
	if k.src.NodeMetrics == nil {
		return nil, kube.ErrMetricsNotServed
	}
	k.mu.Lock()
	skip := now.Before(k.noMetricsTill)
	k.mu.Unlock()
	if skip {
		return nil, kube.ErrMetricsNotServed
	}
	m, err := k.src.NodeMetrics(ctx)
	if errors.Is(err, kube.ErrMetricsNotServed) {
		k.mu.Lock()
		k.noMetricsTill = now.Add(metricsRecheck)
		k.mu.Unlock()
	}
	return m, err
}

// resources returns the busiest node's CPU and memory, measured or requested.
func (k *KubeSampler) resources(u kube.Usage, used map[string]kube.NodeMetrics, usedErr error) (cpu, mem Reading) {
	measured := usedErr == nil && len(used) > 0
	basis := "requests (no metrics.k8s.io)"
	switch {
	case measured:
		basis = "measured"
	case usedErr != nil && !errors.Is(usedErr, kube.ErrMetricsNotServed):
		basis = "requests (metrics API failed: " + usedErr.Error() + ")"
	}
	type pick struct {
		node     string
		pct      float64
		sum, cap int64
	}
	var c, m pick
	c.pct, m.pct = -1, -1
	for _, n := range u.Nodes {
		cpuUsed, memUsed := n.CPURequested, n.MemRequested
		if measured {
			nm, ok := used[n.Name]
			if !ok {
				continue
			}
			cpuUsed, memUsed = nm.CPU, nm.Memory
		}
		c.sum, c.cap = c.sum+cpuUsed, c.cap+n.CPUAllocatable
		m.sum, m.cap = m.sum+memUsed, m.cap+n.MemAllocatable
		if n.CPUAllocatable > 0 {
			if p := 100 * float64(cpuUsed) / float64(n.CPUAllocatable); p > c.pct {
				c.pct, c.node = p, n.Name
			}
		}
		if n.MemAllocatable > 0 {
			if p := 100 * float64(memUsed) / float64(n.MemAllocatable); p > m.pct {
				m.pct, m.node = p, n.Name
			}
		}
	}
	reading := func(id string, p pick) Reading {
		if p.pct < 0 {
			return Reading{ID: id, Value: math.NaN(), Detail: "no node reports allocatable " + basis}
		}
		return Reading{ID: id, Value: p.pct, Detail: fmt.Sprintf("%s · busiest %s · cluster %.0f%%", basis, p.node, 100*float64(p.sum)/float64(max(p.cap, 1)))}
	}
	return reading(KubeCPU, c), reading(KubeMemory, m)
}
