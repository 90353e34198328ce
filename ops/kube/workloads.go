package kube

import (
	"context"
	"errors"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Sources of FetchWorkloads' errors, per namespace: "<resource>/<namespace>".
const (
	ResourceDeployments    = "deployments"
	ResourceStatefulSets   = "statefulsets"
	ResourceDaemonSets     = "daemonsets"
	ResourceReplicaSets    = "replicasets"
	ResourcePods           = "pods"
	ResourceServices       = "services"
	ResourceEndpointSlices = "endpointslices"
)

// WorkloadSource names one list of FetchWorkloads, as the key of its error.
func WorkloadSource(resource, namespace string) string {
	if namespace == "" {
		namespace = "*"
	}
	return resource + "/" + namespace
}

// Workloads are the objects a deployment's validation reads, listed once
// per namespace: the controllers (Deployments, StatefulSets, DaemonSets)
// and, unless only the controllers were asked for, what shows whether
// their rollout works: ReplicaSets and ControllerRevisions (when the
// rollout began), pods, Services and their EndpointSlices (or Endpoints
// where a Service has no slice). Each list fails alone: Errors holds the
// explained error of each that failed, keyed by WorkloadSource.
type Workloads struct {
	Deployments    []*appsv1.Deployment
	StatefulSets   []*appsv1.StatefulSet
	DaemonSets     []*appsv1.DaemonSet
	ReplicaSets    []*appsv1.ReplicaSet
	Revisions      []*appsv1.ControllerRevision
	Pods           []*corev1.Pod
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	// Endpoints are read only in a namespace where EndpointSlices could
	// not be listed or a selecting Service has none (they are the
	// deprecated API: a cluster's controllers mirror them into slices).
	//lint:ignore SA1019 the fallback where EndpointSlices are missing or not readable
	Endpoints []*corev1.Endpoints
	Errors    map[string]error
}

// FetchWorkloads lists the workloads of namespaces (client.Namespaces()
// when empty) with one-shot, paginated LIST calls, every list of every
// namespace concurrently; with controllersOnly just the Deployments,
// StatefulSets and DaemonSets (what a wait polls). ctx bounds the whole
// collection; each request is also bounded by the client's timeout. The
// error joins the lists that failed (nil when all succeeded); Workloads
// holds what succeeded. ControllerRevisions are optional: a refusal to
// list them is not an error.
func FetchWorkloads(ctx context.Context, client *Client, namespaces []string, controllersOnly bool) (Workloads, error) {
	if client == nil {
		return Workloads{}, errors.New("kube: FetchWorkloads needs a client")
	}
	namespaces = cleanNamespaces(namespaces)
	if len(namespaces) == 0 {
		namespaces = client.Namespaces()
	}
	cs := client.Clientset()
	var (
		w  = Workloads{Errors: map[string]error{}}
		mu sync.Mutex
		wg sync.WaitGroup
	)
	// run lists one resource of one namespace and keeps what it found.
	run := func(resource, ns string, list func(context.Context) error) {
		wg.Go(func() {
			if err := list(ctx); err != nil {
				mu.Lock()
				defer mu.Unlock()
				if resource != "" {
					w.Errors[WorkloadSource(resource, ns)] = Explain(err)
				}
			}
		})
	}
	keep := func(add func()) {
		mu.Lock()
		defer mu.Unlock()
		add()
	}
	for _, ns := range namespaces {
		run(ResourceDeployments, ns, func(ctx context.Context) error {
			items, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]appsv1.Deployment, string, error) {
				l, err := cs.AppsV1().Deployments(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				return l.Items, l.Continue, nil
			})
			keep(func() { w.Deployments = append(w.Deployments, items...) })
			return err
		})
		run(ResourceStatefulSets, ns, func(ctx context.Context) error {
			items, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]appsv1.StatefulSet, string, error) {
				l, err := cs.AppsV1().StatefulSets(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				return l.Items, l.Continue, nil
			})
			keep(func() { w.StatefulSets = append(w.StatefulSets, items...) })
			return err
		})
		run(ResourceDaemonSets, ns, func(ctx context.Context) error {
			items, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]appsv1.DaemonSet, string, error) {
				l, err := cs.AppsV1().DaemonSets(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				return l.Items, l.Continue, nil
			})
			keep(func() { w.DaemonSets = append(w.DaemonSets, items...) })
			return err
		})
		if controllersOnly {
			continue
		}
		run(ResourceReplicaSets, ns, func(ctx context.Context) error {
			items, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]appsv1.ReplicaSet, string, error) {
				l, err := cs.AppsV1().ReplicaSets(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				return l.Items, l.Continue, nil
			})
			keep(func() { w.ReplicaSets = append(w.ReplicaSets, items...) })
			return err
		})
		run("", ns, func(ctx context.Context) error {
			items, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]appsv1.ControllerRevision, string, error) {
				l, err := cs.AppsV1().ControllerRevisions(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				return l.Items, l.Continue, nil
			})
			keep(func() { w.Revisions = append(w.Revisions, items...) })
			return err
		})
		run(ResourcePods, ns, func(ctx context.Context) error {
			items, err := listPods(ctx, cs, ns, nil)
			keep(func() { w.Pods = append(w.Pods, items...) })
			return err
		})
		run(ResourceServices, ns, func(ctx context.Context) error {
			items, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]corev1.Service, string, error) {
				l, err := cs.CoreV1().Services(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				return l.Items, l.Continue, nil
			})
			keep(func() { w.Services = append(w.Services, items...) })
			return err
		})
		run(ResourceEndpointSlices, ns, func(ctx context.Context) error {
			items, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]discoveryv1.EndpointSlice, string, error) {
				l, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				return l.Items, l.Continue, nil
			})
			keep(func() { w.EndpointSlices = append(w.EndpointSlices, items...) })
			return err
		})
	}
	wg.Wait()
	if !controllersOnly {
		w.readEndpoints(ctx, cs, namespaces)
	}
	if len(w.Errors) == 0 {
		w.Errors = nil
	}
	return w, joinSourceErrors(w.Errors)
}

// readEndpoints lists the Endpoints of each namespace where a Service
// with a selector has no EndpointSlice (or slices could not be listed);
// a failure there leaves the slices' verdict (or their error) standing.
func (w *Workloads) readEndpoints(ctx context.Context, cs kubernetes.Interface, namespaces []string) {
	sliced := map[string]bool{}
	for _, s := range w.EndpointSlices {
		sliced[s.Namespace+"/"+s.Labels[discoveryv1.LabelServiceName]] = true
	}
	need := map[string]bool{}
	for _, svc := range w.Services {
		if len(svc.Spec.Selector) > 0 && !sliced[svc.Namespace+"/"+svc.Name] {
			need[svc.Namespace] = true
		}
	}
	if len(need) > 0 && len(namespaces) == 1 && namespaces[0] == "" {
		// All namespaces were listed: so are their Endpoints, at once.
		need = map[string]bool{"": true}
	}
	for ns := range need {
		//lint:ignore SA1019 the fallback for clusters without EndpointSlices or the right to list them
		items, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]corev1.Endpoints, string, error) {
			l, err := cs.CoreV1().Endpoints(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
		if err == nil {
			w.Endpoints = append(w.Endpoints, items...)
		}
	}
}

// listAll runs a paginated LIST of one resource until its last page and
// returns pointers to its items.
func listAll[T any](ctx context.Context, page func(context.Context, metav1.ListOptions) ([]T, string, error)) ([]*T, error) {
	var out []*T
	err := paginate(ctx, metav1.ListOptions{}, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		items, next, err := page(ctx, o)
		if err != nil {
			return "", err
		}
		for i := range items {
			out = append(out, &items[i])
		}
		return next, nil
	})
	return out, err
}
