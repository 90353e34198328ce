package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

// NodeUsage is one node's capacity and what the pods on it ask for.
type NodeUsage struct {
	Name  string
	Ready bool
	// CPUAllocatable is in millicores, MemAllocatable in bytes.
	CPUAllocatable int64
	MemAllocatable int64
	// CPURequested and MemRequested add up the requests of the node's
	// non-terminated pods in the watched namespaces.
	CPURequested int64
	MemRequested int64
}

// Usage is what the live metrics read from the cluster's objects: requests
// against allocatable per node, restarts and the pods and nodes that are not
// ready. The fields of a source that failed are zero; Errors says which.
type Usage struct {
	CollectedAt   time.Time
	Nodes         []NodeUsage
	NodesTotal    int
	NodesNotReady int
	PodsTotal     int
	// PodsNotReady counts the pods that need attention: not Running and
	// Ready, Completed ones excepted (the Health tab's rule).
	PodsNotReady int
	// MaxRestarts is the highest restart count of a single container, in
	// pod MaxRestartsPod ("namespace/name"); TotalRestarts adds up all.
	MaxRestarts    int
	MaxRestartsPod string
	TotalRestarts  int
	// Errors holds the error of each source that failed, keyed like
	// Cache.Errors.
	Errors map[string]error
}

// ComputeUsage derives Usage from objects at now. Pure: no I/O.
func ComputeUsage(nodes []*corev1.Node, pods []*corev1.Pod, now time.Time) Usage {
	u := Usage{CollectedAt: now, NodesTotal: len(nodes), PodsTotal: len(pods)}
	byNode := make(map[string]*NodeUsage, len(nodes))
	u.Nodes = make([]NodeUsage, 0, len(nodes))
	for _, n := range nodes {
		row := NewNodeRow(n, -1, now)
		if !row.Ready {
			u.NodesNotReady++
		}
		u.Nodes = append(u.Nodes, NodeUsage{
			Name:           n.Name,
			Ready:          row.Ready,
			CPUAllocatable: n.Status.Allocatable.Cpu().MilliValue(),
			MemAllocatable: n.Status.Allocatable.Memory().Value(),
		})
	}
	slices.SortFunc(u.Nodes, func(a, b NodeUsage) int { return strings.Compare(a.Name, b.Name) })
	for i := range u.Nodes {
		byNode[u.Nodes[i].Name] = &u.Nodes[i]
	}
	for _, p := range pods {
		row := NewPodRow(p, now)
		if row.Problem && row.Status != "Completed" {
			u.PodsNotReady++
		}
		u.TotalRestarts += row.Restarts
		if row.MaxRestarts > u.MaxRestarts {
			u.MaxRestarts, u.MaxRestartsPod = row.MaxRestarts, p.Namespace+"/"+p.Name
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if nu := byNode[p.Spec.NodeName]; nu != nil {
			cpu, mem := PodRequests(p)
			nu.CPURequested += cpu
			nu.MemRequested += mem
		}
	}
	return u
}

// PodRequests returns the pod's effective CPU (millicores) and memory
// (bytes) requests as the scheduler counts them: the larger of the sum over
// its containers and the largest init container, plus the pod overhead.
func PodRequests(p *corev1.Pod) (cpuMilli, memBytes int64) {
	for _, c := range p.Spec.Containers {
		cpuMilli += c.Resources.Requests.Cpu().MilliValue()
		memBytes += c.Resources.Requests.Memory().Value()
	}
	for _, c := range p.Spec.InitContainers {
		cpuMilli = max(cpuMilli, c.Resources.Requests.Cpu().MilliValue())
		memBytes = max(memBytes, c.Resources.Requests.Memory().Value())
	}
	if p.Spec.Overhead != nil {
		cpuMilli += p.Spec.Overhead.Cpu().MilliValue()
		memBytes += p.Spec.Overhead.Memory().Value()
	}
	return cpuMilli, memBytes
}

// Usage computes Usage from the cache's current content; Usage.Errors holds
// the cache's per-source errors.
func (c *Cache) Usage() Usage {
	var nodes []*corev1.Node
	for _, it := range c.nodes.informer.GetStore().List() {
		if n, ok := it.(*corev1.Node); ok {
			nodes = append(nodes, n)
		}
	}
	var pods []*corev1.Pod
	for _, s := range c.pods {
		for _, it := range s.informer.GetStore().List() {
			if p, ok := it.(*corev1.Pod); ok {
				pods = append(pods, p)
			}
		}
	}
	u := ComputeUsage(nodes, pods, c.now())
	if errs := c.Errors(); len(errs) > 0 {
		for name := range errs {
			if strings.HasPrefix(name, "events/") {
				delete(errs, name) // Usage reads no events
			}
		}
		if len(errs) > 0 {
			u.Errors = errs
		}
	}
	return u
}

// FetchUsage collects Usage with one-shot paginated LIST calls of the nodes
// and of the pods of each namespace (client.Namespaces() when empty), for
// callers without a Cache. Each source fails alone, as in FetchFacts.
func FetchUsage(ctx context.Context, client *Client, namespaces []string) (Usage, error) {
	if client == nil {
		return Usage{}, errors.New("kube: FetchUsage needs a client")
	}
	namespaces = cleanNamespaces(namespaces)
	if len(namespaces) == 0 {
		namespaces = client.Namespaces()
	}
	nodes, pods, _, errs := fetchObjects(ctx, client.Clientset(), namespaces, false, nil)
	u := ComputeUsage(nodes, pods, time.Now())
	if len(errs) > 0 {
		u.Errors = errs
	}
	return u, joinSourceErrors(errs)
}

// NodeMetrics is a node's current use as the metrics API reports it.
type NodeMetrics struct {
	// CPU is in millicores, Memory (working set) in bytes.
	CPU    int64
	Memory int64
	// Window is the interval the CPU rate was measured over.
	Window time.Duration
}

// ErrMetricsNotServed is returned (wrapped) by FetchNodeMetrics when the
// cluster does not serve metrics.k8s.io (no metrics-server installed).
var ErrMetricsNotServed = errors.New("the cluster does not serve metrics.k8s.io (no metrics-server)")

// nodeMetricsPath lists every node's metrics.
const nodeMetricsPath = "/apis/metrics.k8s.io/v1beta1/nodes"

// nodeMetricsList is the part of metrics.k8s.io/v1beta1 NodeMetricsList
// opsdeck reads, decoded without the k8s.io/metrics module.
type nodeMetricsList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Window string                       `json:"window"`
		Usage  map[string]resource.Quantity `json:"usage"`
	} `json:"items"`
}

// FetchNodeMetrics reads every node's CPU and memory use from
// metrics.k8s.io, keyed by node name. A cluster without the API gives an
// error wrapping ErrMetricsNotServed; other failures carry Explain's advice.
func FetchNodeMetrics(ctx context.Context, client *Client) (map[string]NodeMetrics, error) {
	if client == nil {
		return nil, errors.New("kube: FetchNodeMetrics needs a client")
	}
	rc := client.Clientset().Discovery().RESTClient()
	if rc == nil {
		return nil, fmt.Errorf("node metrics: %w", ErrMetricsNotServed)
	}
	raw, err := rc.Get().AbsPath(nodeMetricsPath).Do(ctx).Raw()
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("node metrics: %w — install metrics-server, or read requests against allocatable instead", ErrMetricsNotServed)
		}
		return nil, fmt.Errorf("node metrics: %w", Explain(err))
	}
	return parseNodeMetrics(raw)
}

func parseNodeMetrics(raw []byte) (map[string]NodeMetrics, error) {
	var list nodeMetricsList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("node metrics: decoding the metrics API's answer: %w", err)
	}
	out := make(map[string]NodeMetrics, len(list.Items))
	for _, it := range list.Items {
		m := NodeMetrics{}
		if q, ok := it.Usage["cpu"]; ok {
			m.CPU = q.MilliValue()
		}
		if q, ok := it.Usage["memory"]; ok {
			m.Memory = q.Value()
		}
		if d, err := time.ParseDuration(it.Window); err == nil {
			m.Window = d
		}
		out[it.Metadata.Name] = m
	}
	return out, nil
}
