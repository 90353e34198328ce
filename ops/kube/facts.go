package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// WarningWindow is how far back Facts counts Warning events.
const WarningWindow = time.Hour

// maxRecentWarnings caps Facts.RecentWarnings.
const maxRecentWarnings = 10

// listPageSize is the page size of FetchFacts' LIST calls.
const listPageSize = 500

// PodFact names one pod and its state, for the morning check.
type PodFact struct {
	Namespace string
	Name      string
	Status    string // kubectl STATUS
	Ready     string // "1/2"
	Reason    string
	Node      string
}

// RestartFact is a pod whose containers restarted.
type RestartFact struct {
	Namespace   string
	Name        string
	Restarts    int // sum over containers
	MaxRestarts int // worst single container (thresholds are per container)
	LastRestart time.Time
}

// Facts is what the morning check needs to know about the cluster. The
// fields of a source that failed are empty; Errors says which failed.
type Facts struct {
	CollectedAt time.Time
	Context     string
	Host        string
	Namespaces  []string

	NodesTotal    int
	NodesReady    int
	NotReadyNodes []string
	// ProblemNodes are nodes not Ready or with a pressure condition.
	ProblemNodes []NodeRow

	PodsTotal int
	// PodsNotOK are pods not Running+Ready and not Completed.
	PodsNotOK    []PodFact
	CrashLooping []PodFact
	Pending      []PodFact
	// Restarted are pods with at least one restart, most restarts first.
	Restarted []RestartFact

	// WarningEvents counts Warning events seen in the last WarningWindow;
	// RecentWarnings are the most recent of them, newest first.
	WarningEvents  int
	RecentWarnings []EventRow

	// Errors holds the error of each source that failed, keyed like
	// Cache.Errors (SourceNodes, PodsSource(ns), EventsSource(ns)).
	Errors map[string]error
}

// OK reports whether no source failed.
func (f Facts) OK() bool { return len(f.Errors) == 0 }

// FetchFacts collects Facts with one-shot, paginated LIST calls (no
// informers): nodes, then the pods and Warning events of each namespace
// (client.Namespaces() when namespaces is empty). Each source fails alone:
// the returned Facts holds what succeeded, Facts.Errors what failed, and
// the error joins those failures (nil when all succeeded). ctx bounds the
// whole collection; each request is also bounded by the client's timeout.
func FetchFacts(ctx context.Context, client *Client, namespaces []string) (Facts, error) {
	if client == nil {
		return Facts{}, errors.New("kube: FetchFacts needs a client")
	}
	namespaces = cleanNamespaces(namespaces)
	if len(namespaces) == 0 {
		namespaces = client.Namespaces()
	}
	// The pods are judged as each page arrives and not kept: ten thousand
	// of them would cost hundreds of megabytes.
	acc := newPodFacts(time.Now())
	var mu sync.Mutex
	nodes, _, events, errs := fetchObjects(ctx, client.Clientset(), namespaces, true, func(p *corev1.Pod) {
		mu.Lock()
		defer mu.Unlock()
		acc.add(p)
	})
	f := acc.facts(nodes, events)
	f.Context, f.Host, f.Namespaces = client.ContextName(), client.Host(), namespaces
	if len(errs) > 0 {
		f.Errors = errs
	}
	return f, joinSourceErrors(errs)
}

// fetchObjects lists the nodes and, per namespace, the pods (and the Warning
// events when withEvents), all concurrently so that an unreachable server
// costs one timeout, not one per source. With eachPod, the pods are handed
// to it page by page (from several goroutines) and not returned. Each
// source fails alone: errs holds the explained error of each that failed,
// keyed like Cache.Errors.
func fetchObjects(ctx context.Context, cs kubernetes.Interface, namespaces []string, withEvents bool, eachPod func(*corev1.Pod)) (
	nodes []*corev1.Node, pods []*corev1.Pod, events []*corev1.Event, errs map[string]error) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	errs = map[string]error{}
	fail := func(source string, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs[source] = Explain(err)
	}
	wg.Go(func() {
		ns, err := listNodes(ctx, cs)
		if err != nil {
			fail(SourceNodes, err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		nodes = ns
	})
	for _, ns := range namespaces {
		wg.Go(func() {
			ps, err := listPods(ctx, cs, ns, eachPod)
			if err != nil {
				fail(PodsSource(ns), err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			pods = append(pods, ps...)
		})
		if !withEvents {
			continue
		}
		wg.Go(func() {
			es, err := listWarnings(ctx, cs, ns)
			if err != nil {
				fail(EventsSource(ns), err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			events = append(events, es...)
		})
	}
	wg.Wait()
	return nodes, pods, events, errs
}

// Facts computes the morning-check facts from the cache's current content;
// Facts.Errors holds the cache's per-source errors.
func (c *Cache) Facts() Facts {
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
	var events []*corev1.Event
	for _, s := range c.events {
		for _, it := range s.informer.GetStore().List() {
			if e, ok := it.(*corev1.Event); ok {
				events = append(events, e)
			}
		}
	}
	f := ComputeFacts(nodes, pods, events, c.now())
	f.Namespaces = c.Namespaces()
	if errs := c.Errors(); len(errs) > 0 {
		f.Errors = errs
	}
	return f
}

// ComputeFacts derives Facts from objects at now. Pure: no I/O.
func ComputeFacts(nodes []*corev1.Node, pods []*corev1.Pod, events []*corev1.Event, now time.Time) Facts {
	acc := newPodFacts(now)
	for _, p := range pods {
		acc.add(p)
	}
	return acc.facts(nodes, events)
}

// podFacts gathers the pods' part of Facts one pod at a time, so that a
// listing need not keep the pods.
type podFacts struct {
	f       Facts
	perNode map[string]int
}

func newPodFacts(now time.Time) *podFacts {
	return &podFacts{f: Facts{CollectedAt: now}, perNode: map[string]int{}}
}

// add counts and judges one pod.
func (a *podFacts) add(p *corev1.Pod) {
	f := &a.f
	f.PodsTotal++
	if p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		a.perNode[p.Spec.NodeName]++
	}
	row := NewPodRow(p, f.CollectedAt)
	fact := PodFact{Namespace: row.Namespace, Name: row.Name, Status: row.Status, Ready: row.Ready, Reason: row.Reason, Node: row.Node}
	if row.Problem {
		f.PodsNotOK = append(f.PodsNotOK, fact)
	}
	switch {
	case row.Status == "CrashLoopBackOff":
		f.CrashLooping = append(f.CrashLooping, fact)
	case row.Phase == string(corev1.PodPending) && row.Status == "Pending":
		f.Pending = append(f.Pending, fact)
	}
	if row.Restarts > 0 {
		f.Restarted = append(f.Restarted, RestartFact{
			Namespace: row.Namespace, Name: row.Name, Restarts: row.Restarts,
			MaxRestarts: row.MaxRestarts, LastRestart: row.LastRestart,
		})
	}
}

// facts completes the Facts with the nodes and events.
func (a *podFacts) facts(nodes []*corev1.Node, events []*corev1.Event) Facts {
	f, now := a.f, a.f.CollectedAt
	f.NodesTotal = len(nodes)
	for _, n := range nodes {
		row := NewNodeRow(n, a.perNode[n.Name], now)
		if row.Ready {
			f.NodesReady++
		} else {
			f.NotReadyNodes = append(f.NotReadyNodes, n.Name)
		}
		if row.Problem {
			f.ProblemNodes = append(f.ProblemNodes, row)
		}
	}
	slices.Sort(f.NotReadyNodes)
	slices.SortFunc(f.ProblemNodes, func(a, b NodeRow) int { return strings.Compare(a.Name, b.Name) })

	byName := func(a, b PodFact) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	}
	slices.SortFunc(f.PodsNotOK, byName)
	slices.SortFunc(f.CrashLooping, byName)
	slices.SortFunc(f.Pending, byName)
	slices.SortFunc(f.Restarted, func(a, b RestartFact) int {
		if a.MaxRestarts != b.MaxRestarts {
			return b.MaxRestarts - a.MaxRestarts
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})

	for _, e := range events {
		if e.Type != corev1.EventTypeWarning || now.Sub(EventTime(e)) > WarningWindow {
			continue
		}
		f.WarningEvents++
		f.RecentWarnings = append(f.RecentWarnings, NewEventRow(e, now))
	}
	SortEventsNewestFirst(f.RecentWarnings)
	if len(f.RecentWarnings) > maxRecentWarnings {
		f.RecentWarnings = f.RecentWarnings[:maxRecentWarnings]
	}
	return f
}

func joinSourceErrors(errs map[string]error) error {
	if len(errs) == 0 {
		return nil
	}
	names := make([]string, 0, len(errs))
	for n := range errs {
		names = append(names, n)
	}
	slices.Sort(names)
	joined := make([]error, 0, len(names))
	for _, n := range names {
		joined = append(joined, fmt.Errorf("%s: %w", n, errs[n]))
	}
	return errors.Join(joined...)
}

// paginate runs a paginated LIST until the last page.
func paginate(ctx context.Context, opts metav1.ListOptions, page func(context.Context, metav1.ListOptions) (string, error)) error {
	opts.Limit = listPageSize
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := page(ctx, opts)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		opts.Continue = next
	}
}

func listNodes(ctx context.Context, cs kubernetes.Interface) ([]*corev1.Node, error) {
	var out []*corev1.Node
	err := paginate(ctx, metav1.ListOptions{}, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := cs.CoreV1().Nodes().List(ctx, o)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
		return l.Continue, nil
	})
	return out, err
}

// listPods lists the pods of ns, or hands each to each when it is set.
func listPods(ctx context.Context, cs kubernetes.Interface, ns string, each func(*corev1.Pod)) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	err := paginate(ctx, metav1.ListOptions{}, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, o)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			if each != nil {
				each(&l.Items[i])
				continue
			}
			out = append(out, &l.Items[i])
		}
		return l.Continue, nil
	})
	return out, err
}

func listWarnings(ctx context.Context, cs kubernetes.Interface, ns string) ([]*corev1.Event, error) {
	var out []*corev1.Event
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("type", corev1.EventTypeWarning).String()}
	err := paginate(ctx, opts, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := cs.CoreV1().Events(ns).List(ctx, o)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
		return l.Continue, nil
	})
	return out, err
}
