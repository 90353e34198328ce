package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// SourceNodes is the name of the cluster-wide node source in Errors and Sources.
const SourceNodes = "nodes"

// PodsSource is the name of the pod source of namespace ns ("" = all namespaces).
func PodsSource(ns string) string { return "pods/" + nsLabel(ns) }

// EventsSource is the name of the event source of namespace ns ("" = all namespaces).
func EventsSource(ns string) string { return "events/" + nsLabel(ns) }

func nsLabel(ns string) string {
	if ns == "" {
		return "*"
	}
	return ns
}

const (
	indexByNode   = "node"   // pods by spec.nodeName
	indexByObject = "object" // events by Kind/namespace/name of the involved object
)

// Cache keeps live views of nodes (cluster-wide) and of pods and events (per
// watched namespace) with one shared informer per source. Each source syncs
// and fails alone: a 403 on nodes leaves pods and events working. Getters
// return plain values built at call time and are safe for concurrent use.
type Cache struct {
	namespaces []string
	nodes      *source
	pods       []*source
	events     []*source
	changes    chan struct{}
	now        func() time.Time

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	subMu sync.Mutex
	subs  map[chan struct{}]struct{}
}

// SourceState is the sync and error state of one informer.
type SourceState struct {
	Name   string
	Synced bool
	Err    error // last list/watch error, nil once a list or watch succeeds again
}

type source struct {
	name     string
	informer cache.SharedIndexInformer

	mu  sync.Mutex
	err error
}

func (s *source) setErr(err error) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		err = Explain(err)
	}
	changed = (s.err == nil) != (err == nil) || (err != nil && s.err.Error() != err.Error())
	s.err = err
	return changed
}

func (s *source) getErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// NewCache prepares informers for the nodes and for the pods and events of
// namespaces (client.Namespaces() when empty; "" means all namespaces).
// Nothing runs until Start.
func NewCache(client *Client, namespaces []string) (*Cache, error) {
	if client == nil {
		return nil, errors.New("kube: NewCache needs a client")
	}
	namespaces = cleanNamespaces(namespaces)
	if len(namespaces) == 0 {
		namespaces = client.Namespaces()
	}
	var cs kubernetes.Interface = client.clientset
	if client.restConfig != nil {
		wcs, err := kubernetes.NewForConfig(client.watchConfig())
		if err != nil {
			return nil, fmt.Errorf("kubernetes watch client for %s: %w — check kubernetes.kubeconfig", client.host, err)
		}
		cs = wcs
	}
	return newCache(cs, namespaces, client.timeout, listTimeout(client.timeout)), nil
}

// listTimeout bounds one LIST page of an informer: a full list of thousands
// of pods takes longer than an ordinary request.
func listTimeout(timeout time.Duration) time.Duration {
	return max(6*timeout, 30*time.Second)
}

func newCache(cs kubernetes.Interface, namespaces []string, connectTO, listTO time.Duration) *Cache {
	c := &Cache{
		namespaces: namespaces,
		changes:    make(chan struct{}, 1),
		now:        time.Now,
	}
	c.nodes = c.newSource(cs, SourceNodes, &corev1.Node{}, connectTO, listTO,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Nodes().List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Nodes().Watch(ctx, o)
		}, nil)
	for _, ns := range namespaces {
		c.pods = append(c.pods, c.newSource(cs, PodsSource(ns), &corev1.Pod{}, connectTO, listTO,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return cs.CoreV1().Pods(ns).List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return cs.CoreV1().Pods(ns).Watch(ctx, o)
			}, cache.Indexers{indexByNode: podNodeIndex}))
		c.events = append(c.events, c.newSource(cs, EventsSource(ns), &corev1.Event{}, connectTO, listTO,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return cs.CoreV1().Events(ns).List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return cs.CoreV1().Events(ns).Watch(ctx, o)
			}, cache.Indexers{indexByObject: eventObjectIndex}))
	}
	return c
}

func (c *Cache) newSource(cs kubernetes.Interface, name string, example runtime.Object, connectTO, listTO time.Duration,
	list cache.ListWithContextFunc, watchFn cache.WatchFuncWithContext, indexers cache.Indexers) *source {
	s := &source{name: name}
	record := func(err error) {
		if err != nil && (errors.Is(err, context.Canceled) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err)) {
			return
		}
		if s.setErr(err) {
			c.notify()
		}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			ctx, cancel := context.WithTimeout(ctx, listTO)
			defer cancel()
			obj, err := list(ctx, o)
			record(err)
			return obj, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			w, err := openWatch(ctx, connectTO, o, watchFn)
			record(err)
			return w, err
		},
	}
	if indexers == nil {
		indexers = cache.Indexers{}
	}
	s.informer = cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, cs), example,
		cache.SharedIndexInformerOptions{Indexers: indexers, ObjectDescription: name})
	// Neither call can fail before the informer runs.
	_ = s.informer.SetTransform(StripForCache)
	_ = s.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return
		}
		record(err)
	})
	_, _ = s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.notify() },
		UpdateFunc: func(any, any) { c.notify() },
		DeleteFunc: func(any) { c.notify() },
	})
	return s
}

// openWatch opens a watch whose connection, TLS handshake and response
// headers must come within connectTO; the stream itself then runs until the
// server ends it (the reflector asks for a timeout) or ctx ends. The watch
// client has no overall HTTP timeout, which would cut every stream.
func openWatch(ctx context.Context, connectTO time.Duration, o metav1.ListOptions, watchFn cache.WatchFuncWithContext) (watch.Interface, error) {
	wctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(connectTO, cancel)
	w, err := watchFn(wctx, o)
	if !timer.Stop() && err != nil {
		cancel()
		return nil, fmt.Errorf("opening a watch: no answer within %v: %w", connectTO, context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return &cancelOnStop{Interface: w, cancel: cancel}, nil
}

// cancelOnStop releases the watch's context when the reflector stops it.
type cancelOnStop struct {
	watch.Interface
	cancel context.CancelFunc
}

func (w *cancelOnStop) Stop() {
	w.Interface.Stop()
	w.cancel()
}

func podNodeIndex(obj any) ([]string, error) {
	if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		return []string{p.Spec.NodeName}, nil
	}
	return nil, nil
}

func eventObjectIndex(obj any) ([]string, error) {
	if e, ok := obj.(*corev1.Event); ok {
		return []string{objectKey(e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name)}, nil
	}
	return nil, nil
}

func objectKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// notify signals a change without ever blocking: bursts coalesce into one.
func (c *Cache) notify() {
	select {
	case c.changes <- struct{}{}:
	default:
	}
	c.subMu.Lock()
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	c.subMu.Unlock()
}

// Subscribe returns a change channel of the subscriber's own, like Changes
// but one per reader: several sessions sharing one cache each get every
// signal. It is forgotten (not closed) when ctx ends.
func (c *Cache) Subscribe(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.subMu.Lock()
	if c.subs == nil {
		c.subs = map[chan struct{}]struct{}{}
	}
	c.subs[ch] = struct{}{}
	c.subMu.Unlock()
	context.AfterFunc(ctx, func() {
		c.subMu.Lock()
		delete(c.subs, ch)
		c.subMu.Unlock()
	})
	return ch
}

// Subscribers returns the number of live subscriptions.
func (c *Cache) Subscribers() int {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	return len(c.subs)
}

// Changes delivers at most one pending signal after any add, update or
// delete, or a change of a source's error state; read it, then call the
// getters. Bursts (10,000 pod updates) coalesce into one signal.
func (c *Cache) Changes() <-chan struct{} { return c.changes }

// Namespaces are the watched namespaces ("" = all).
func (c *Cache) Namespaces() []string { return append([]string(nil), c.namespaces...) }

func (c *Cache) sources() []*source {
	all := []*source{c.nodes}
	all = append(all, c.pods...)
	return append(all, c.events...)
}

// Start runs the informers until ctx ends or Stop is called. Calling it again is a no-op.
func (c *Cache) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return
	}
	c.started = true
	ctx, c.cancel = context.WithCancel(ctx)
	for _, s := range c.sources() {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			s.informer.RunWithContext(ctx)
		}()
	}
}

// Stop ends the informers and waits for them to return. Idempotent; a
// stopped cache keeps its last content but cannot be started again.
func (c *Cache) Stop() {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
}

// WaitSynced waits until every source has either synced or failed, bounded
// by ctx. It returns nil when all synced, else one error per source that
// failed or is still pending, named by source ("nodes: user \"bob\" cannot
// list nodes..."); the sources that synced are usable either way.
func (c *Cache) WaitSynced(ctx context.Context) error {
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if !started {
		return errors.New("kube: WaitSynced before Start")
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		var pending []string
		var failed []error
		for _, s := range c.sources() {
			if s.informer.HasSynced() {
				continue
			}
			if err := s.getErr(); err != nil {
				failed = append(failed, fmt.Errorf("%s: %w", s.name, err))
				continue
			}
			pending = append(pending, s.name)
		}
		if len(pending) == 0 {
			return errors.Join(failed...)
		}
		select {
		case <-ctx.Done():
			failed = append(failed, fmt.Errorf("%s not synced: %w — the API server is slow or unreachable; retry or raise timeouts.check",
				strings.Join(pending, ", "), ctx.Err()))
			return errors.Join(failed...)
		case <-tick.C:
		}
	}
}

// Errors returns the current error of each failing source, keyed by source
// name (SourceNodes, PodsSource(ns), EventsSource(ns)); empty when all is well.
// The errors carry Classify's advice.
func (c *Cache) Errors() map[string]error {
	out := map[string]error{}
	for _, s := range c.sources() {
		if err := s.getErr(); err != nil {
			out[s.name] = err
		}
	}
	return out
}

// Sources reports the sync and error state of every source, nodes first.
func (c *Cache) Sources() []SourceState {
	var out []SourceState
	for _, s := range c.sources() {
		out = append(out, SourceState{Name: s.name, Synced: s.informer.HasSynced(), Err: s.getErr()})
	}
	return out
}

// Pods returns a row per cached pod, sorted by namespace then name.
func (c *Cache) Pods() []PodRow {
	now := c.now()
	var pods []*corev1.Pod
	for _, s := range c.pods {
		items := s.informer.GetStore().List()
		if pods == nil {
			pods = make([]*corev1.Pod, 0, len(items))
		}
		for _, it := range items {
			if p, ok := it.(*corev1.Pod); ok {
				pods = append(pods, p)
			}
		}
	}
	// Sorting pointers is cheaper than sorting rows.
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		if a.Namespace != b.Namespace {
			return strings.Compare(a.Namespace, b.Namespace)
		}
		return strings.Compare(a.Name, b.Name)
	})
	rows := make([]PodRow, len(pods))
	for i, p := range pods {
		rows[i] = NewPodRow(p, now)
	}
	return rows
}

// Nodes returns a row per cached node, sorted by name. PodsCount counts the
// non-terminated pods of the watched namespaces (-1 before any pod source synced).
func (c *Cache) Nodes() []NodeRow {
	now := c.now()
	podsKnown := false
	for _, s := range c.pods {
		podsKnown = podsKnown || s.informer.HasSynced()
	}
	items := c.nodes.informer.GetStore().List()
	rows := make([]NodeRow, 0, len(items))
	for _, it := range items {
		n, ok := it.(*corev1.Node)
		if !ok {
			continue
		}
		count := -1
		if podsKnown {
			count = 0
			for _, p := range c.podsOnNode(n.Name) {
				if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					count++
				}
			}
		}
		rows = append(rows, NewNodeRow(n, count, now))
	}
	slices.SortFunc(rows, func(a, b NodeRow) int { return strings.Compare(a.Name, b.Name) })
	return rows
}

func (c *Cache) podsOnNode(node string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, s := range c.pods {
		items, err := s.informer.GetIndexer().ByIndex(indexByNode, node)
		if err != nil {
			continue
		}
		for _, it := range items {
			if p, ok := it.(*corev1.Pod); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

func (c *Cache) eventsAbout(kind, ns, name string) []*corev1.Event {
	var out []*corev1.Event
	for _, s := range c.events {
		items, err := s.informer.GetIndexer().ByIndex(indexByObject, objectKey(kind, ns, name))
		if err != nil {
			continue
		}
		for _, it := range items {
			if e, ok := it.(*corev1.Event); ok {
				out = append(out, e)
			}
		}
	}
	return out
}

// PodDetail returns the detail of pod ns/name with its cached events; false
// when the pod is not in the cache.
func (c *Cache) PodDetail(ns, name string) (PodDetail, bool) {
	for _, s := range c.pods {
		it, ok, err := s.informer.GetStore().GetByKey(ns + "/" + name)
		if err != nil || !ok {
			continue
		}
		if p, ok := it.(*corev1.Pod); ok {
			return NewPodDetail(p, c.eventsAbout("Pod", ns, name), c.now()), true
		}
	}
	return PodDetail{}, false
}

// NodeDetail returns the detail of node name with the watched pods on it and
// its cached events; false when the node is not in the cache.
func (c *Cache) NodeDetail(name string) (NodeDetail, bool) {
	it, ok, err := c.nodes.informer.GetStore().GetByKey(name)
	if err != nil || !ok {
		return NodeDetail{}, false
	}
	n, ok := it.(*corev1.Node)
	if !ok {
		return NodeDetail{}, false
	}
	now := c.now()
	pods := c.podsOnNode(name)
	rows := make([]PodRow, 0, len(pods))
	for _, p := range pods {
		rows = append(rows, NewPodRow(p, now))
	}
	slices.SortFunc(rows, func(a, b PodRow) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return NewNodeDetail(n, rows, c.eventsAbout("Node", "", name), now), true
}

// Events returns the cached events last seen within since (all when since
// <= 0) of type typ ("Warning", "Normal"; "" for all), newest first.
func (c *Cache) Events(since time.Duration, typ string) []EventRow {
	now := c.now()
	var rows []EventRow
	for _, s := range c.events {
		for _, it := range s.informer.GetStore().List() {
			e, ok := it.(*corev1.Event)
			if !ok || (typ != "" && e.Type != typ) {
				continue
			}
			if since > 0 && now.Sub(EventTime(e)) > since {
				continue
			}
			rows = append(rows, NewEventRow(e, now))
		}
	}
	SortEventsNewestFirst(rows)
	return rows
}
