package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// The deployment player's bounds.
const (
	// playCallTimeout bounds one API request (and the opening of a watch).
	playCallTimeout = 10 * time.Second
	// playListTimeout bounds one LIST of an informer.
	playListTimeout = 30 * time.Second
	// playSyncTimeout bounds the first load of the Deployments and Pods.
	playSyncTimeout = 30 * time.Second
	// playResync is how often every Deployment is checked even without an
	// event (a failed request is retried then).
	playResync = time.Second
	// playExpectFor is how long a Deployment waits for the pods it just
	// created or deleted to show up in (or leave) the cache before it is
	// looked at afresh anyway.
	playExpectFor = 5 * time.Second
	// playFieldManager marks what the player writes.
	playFieldManager = "opsdeck-sandbox-deployments"
	// seededStartAge is how long before the seeder's clock setPodStatus
	// dates a Running pod's start; the player sets the seeder's clock that
	// far ahead so that the pods it creates start now.
	seededStartAge = 72 * time.Hour
)

// PlayDeployments stands in for the Deployment controller, which the
// sandbox's API server does not run: it watches the Deployments and Pods of
// namespace and, whenever a Deployment's spec.replicas differs from the
// number of its pods (pods matching its selector, not being deleted, not
// finished), deletes the surplus (newest first, grace 0) or creates the
// missing ones from the Deployment's template, named <deployment>-<5 random
// characters>, owned by the Deployment's ReplicaSet (else the Deployment),
// placed on a Ready node and given a Running, Ready status as SeedKube gives
// its healthy pods. Once the counts agree it writes the Deployment's status
// (replicas, ready, available, updated, observedGeneration). It reacts to
// changes at once and looks at every Deployment each second.
//
// Every request has its own timeout; cs should have no overall HTTP timeout
// (it would cut the watches, which then reopen). It returns once the first
// list has loaded (within 30s), or an error. stop ends the player and waits
// for its goroutines; so does the end of ctx. stop may be called more than
// once.
func PlayDeployments(ctx context.Context, cs kubernetes.Interface, namespace string) (stop func(), err error) {
	if cs == nil {
		return nil, errors.New("deployment player: nil clientset")
	}
	if namespace == "" {
		return nil, errors.New("deployment player: no namespace given")
	}
	p := &deploymentPlayer{
		cs:     cs,
		ns:     namespace,
		kick:   make(chan struct{}, 1),
		expect: map[types.UID]*expectation{},
		logged: map[string]string{},
		seeder: &kubeSeeder{cs: cs, ns: namespace},
	}
	// Pod IPs of the player's pods start far from the seeded ones.
	p.seeder.podIndex.Store(1 << 16)
	p.deploys = p.informer(&appsv1.Deployment{}, "deployments",
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().Deployments(namespace).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.AppsV1().Deployments(namespace).Watch(ctx, o)
		})
	p.pods = p.informer(&corev1.Pod{}, "pods",
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Pods(namespace).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Pods(namespace).Watch(ctx, o)
		})
	// Neither call can fail before the informer runs.
	_ = p.pods.SetTransform(func(obj any) (any, error) {
		if pod, ok := obj.(*corev1.Pod); ok {
			pod.ManagedFields = nil
		}
		return obj, nil
	})

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() {
		cancel()
		wg.Wait()
	}
	wg.Go(func() { p.deploys.RunWithContext(ctx) })
	wg.Go(func() { p.pods.RunWithContext(ctx) })
	syncCtx, syncCancel := context.WithTimeout(ctx, playSyncTimeout)
	synced := cache.WaitForCacheSync(syncCtx.Done(), p.deploys.HasSynced, p.pods.HasSynced)
	syncCancel()
	if !synced {
		stop()
		within := fmt.Sprintf("within %v", playSyncTimeout)
		if parent.Err() != nil {
			within = "before the caller gave up"
		}
		why := p.loadError()
		if why == nil {
			why = cmp.Or(parent.Err(), context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("deployment player: the Deployments and Pods of namespace %s did not load %s: %w — check that the sandbox's kube-apiserver runs and that the client may list Deployments and Pods there", namespace, within, why)
	}
	wg.Go(func() { p.run(ctx) })
	return stop, nil
}

// playDeployments starts PlayDeployments for the sandbox's namespace with a
// client of its own when the sandbox runs Kubernetes; Stop ends it. The
// player lives as long as the sandbox, not as long as Start's ctx.
func (sb *Sandbox) playDeployments(ctx context.Context, namespace string) error {
	if sb.Kube == nil {
		return nil
	}
	rc := sb.Kube.Config()
	rc.Timeout = 0 // every request of the player has its own timeout
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("deployment player: client: %w", err)
	}
	stop, err := PlayDeployments(context.WithoutCancel(ctx), cs, namespace)
	if err != nil {
		return err
	}
	sb.stopDeployments = stop
	return nil
}

// deploymentPlayer is the state of PlayDeployments. Everything but the
// informers and the load error belongs to the run goroutine.
type deploymentPlayer struct {
	cs            kubernetes.Interface
	ns            string
	deploys, pods cache.SharedIndexInformer
	kick          chan struct{}

	loadMu  sync.Mutex
	loadErr error

	expect map[types.UID]*expectation
	logged map[string]string // deployment → last error logged
	seeder *kubeSeeder       // pod status, node round robin, pod IPs
}

// expectation is what a Deployment waits to see in the pod cache after
// creating or deleting pods, so that a stale cache does not make it act twice.
type expectation struct {
	created  []string    // names that must appear
	deleted  []types.UID // pods that must be gone or being deleted
	deadline time.Time
}

// met reports whether pods (by name) reflect the changes.
func (e *expectation) met(pods map[string]*corev1.Pod) bool {
	for _, name := range e.created {
		if pods[name] == nil {
			return false
		}
	}
	for _, uid := range e.deleted {
		for _, pod := range pods {
			if pod.UID == uid && pod.DeletionTimestamp == nil {
				return false
			}
		}
	}
	return true
}

// informer builds a shared informer whose LIST and watch opening are bounded
// and whose errors are recorded rather than logged by klog.
func (p *deploymentPlayer) informer(example runtime.Object, what string, list cache.ListWithContextFunc, watchFn cache.WatchFuncWithContext) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			ctx, cancel := context.WithTimeout(ctx, playListTimeout)
			defer cancel()
			obj, err := list(ctx, o)
			if err != nil {
				p.setLoadError(fmt.Errorf("listing %s: %w", what, err))
			}
			return obj, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			w, err := openPlayWatch(ctx, o, watchFn)
			if err != nil {
				p.setLoadError(fmt.Errorf("watching %s: %w", what, err))
			}
			return w, err
		},
	}
	// Plain LIST then WATCH: client-go's streaming list backs off between
	// failed attempts without listening to ctx, which would hold stop up
	// for as long as 30s while the API server is unreachable.
	inf := cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, noWatchList{}), example,
		cache.SharedIndexInformerOptions{ObjectDescription: what + " of " + p.ns})
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		p.setLoadError(fmt.Errorf("loading %s: %w", what, err))
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.poke() },
		UpdateFunc: func(any, any) { p.poke() },
		DeleteFunc: func(any) { p.poke() },
	})
	return inf
}

// noWatchList tells the reflector not to use streaming lists.
type noWatchList struct{}

// IsWatchListSemanticsUnSupported is what client-go asks.
func (noWatchList) IsWatchListSemanticsUnSupported() bool { return true }

// openPlayWatch opens a watch whose response headers must come within
// playCallTimeout; the stream then runs until the server ends it (the
// reflector asks for a timeout), the reflector stops it or ctx ends.
func openPlayWatch(ctx context.Context, o metav1.ListOptions, watchFn cache.WatchFuncWithContext) (watch.Interface, error) {
	wctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(playCallTimeout, cancel)
	w, err := watchFn(wctx, o)
	if !timer.Stop() && err != nil {
		cancel()
		return nil, fmt.Errorf("opening a watch: no answer within %v: %w", playCallTimeout, context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return &playWatch{Interface: w, cancel: cancel}, nil
}

// playWatch releases the watch's context when the reflector stops it.
type playWatch struct {
	watch.Interface
	cancel context.CancelFunc
}

func (w *playWatch) Stop() {
	w.Interface.Stop()
	w.cancel()
}

func (p *deploymentPlayer) setLoadError(err error) {
	p.loadMu.Lock()
	p.loadErr = err
	p.loadMu.Unlock()
}

func (p *deploymentPlayer) loadError() error {
	p.loadMu.Lock()
	defer p.loadMu.Unlock()
	return p.loadErr
}

// poke asks the run loop for a pass without blocking; bursts coalesce.
func (p *deploymentPlayer) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *deploymentPlayer) run(ctx context.Context) {
	tick := time.NewTicker(playResync)
	defer tick.Stop()
	for {
		p.syncAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-tick.C:
		}
	}
}

// syncAll brings every Deployment of the namespace in line with one
// snapshot of the pod cache.
func (p *deploymentPlayer) syncAll(ctx context.Context) {
	pods := map[string]*corev1.Pod{}
	for _, obj := range p.pods.GetStore().List() {
		if pod, ok := obj.(*corev1.Pod); ok {
			pods[pod.Name] = pod
		}
	}
	seen := map[types.UID]bool{}
	for _, obj := range p.deploys.GetStore().List() {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		seen[d.UID] = true
		err := p.sync(ctx, d, pods)
		if ctx.Err() != nil {
			return
		}
		p.report(d.Name, err)
	}
	for uid := range p.expect {
		if !seen[uid] {
			delete(p.expect, uid)
		}
	}
}

// report logs a Deployment's error once until it changes or clears.
func (p *deploymentPlayer) report(name string, err error) {
	if err == nil {
		delete(p.logged, name)
		return
	}
	if p.logged[name] == err.Error() {
		return
	}
	p.logged[name] = err.Error()
	slog.Warn("sandbox deployment player: will retry", "namespace", p.ns, "deployment", name, "err", err)
}

// sync scales one Deployment's pods or, when they agree, writes its status.
func (p *deploymentPlayer) sync(ctx context.Context, d *appsv1.Deployment, all map[string]*corev1.Pod) error {
	if d.DeletionTimestamp != nil || d.Spec.Selector == nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("reading the selector of deployment %s: %w", d.Name, err)
	}
	if sel.Empty() {
		return nil // it would match every pod of the namespace
	}
	if e := p.expect[d.UID]; e != nil {
		if !e.met(all) && time.Now().Before(e.deadline) {
			return nil // the cache has not caught up with the last change yet
		}
		delete(p.expect, d.UID)
	}
	var pods []*corev1.Pod
	for _, pod := range all {
		if pod.DeletionTimestamp == nil && !podFinished(pod) && sel.Matches(labels.Set(pod.Labels)) {
			pods = append(pods, pod)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	switch have := int32(len(pods)); {
	case have > want:
		return p.scaleDown(ctx, d, pods, int(have-want))
	case have < want:
		return p.scaleUp(ctx, d, int(want-have))
	}
	if err := p.startUnstarted(ctx, pods); err != nil {
		return err
	}
	return p.writeStatus(ctx, d, pods, want)
}

func podFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// scaleDown deletes the n newest pods at once (grace 0).
func (p *deploymentPlayer) scaleDown(ctx context.Context, d *appsv1.Deployment, pods []*corev1.Pod, n int) error {
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.Name, a.Name)
	})
	e := &expectation{deadline: time.Now().Add(playExpectFor)}
	p.expect[d.UID] = e
	grace := int64(0)
	for _, pod := range pods[:n] {
		cctx, cancel := context.WithTimeout(ctx, playCallTimeout)
		err := p.cs.CoreV1().Pods(p.ns).Delete(cctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &grace,
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		cancel()
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("scaling deployment %s down to %d: deleting pod %s: %w", d.Name, len(pods)-n, pod.Name, err)
		}
		e.deleted = append(e.deleted, pod.UID)
	}
	return nil
}

// scaleUp creates n pods from the Deployment's template, Running and Ready.
func (p *deploymentPlayer) scaleUp(ctx context.Context, d *appsv1.Deployment, n int) error {
	owner, hash, err := p.podOwner(ctx, d)
	if err != nil {
		return err
	}
	nodes, err := p.readyNodes(ctx)
	if err != nil {
		return err
	}
	p.seeder.readyNodes = nodes
	e := &expectation{deadline: time.Now().Add(playExpectFor)}
	p.expect[d.UID] = e
	for range n {
		name, err := p.createPod(ctx, d, owner, hash)
		if name != "" {
			e.created = append(e.created, name)
		}
		if err != nil {
			return fmt.Errorf("scaling deployment %s up: %w", d.Name, err)
		}
	}
	return nil
}

// podOwner returns the controller reference of new pods: the newest
// ReplicaSet the Deployment controls, with its pod-template-hash, or the
// Deployment itself when it has none.
func (p *deploymentPlayer) podOwner(ctx context.Context, d *appsv1.Deployment) (metav1.OwnerReference, string, error) {
	cctx, cancel := context.WithTimeout(ctx, playCallTimeout)
	defer cancel()
	list, err := p.cs.AppsV1().ReplicaSets(p.ns).List(cctx, metav1.ListOptions{})
	if err != nil {
		return metav1.OwnerReference{}, "", fmt.Errorf("listing the replica sets of deployment %s: %w", d.Name, err)
	}
	var newest *appsv1.ReplicaSet
	for i := range list.Items {
		rs := &list.Items[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID || rs.DeletionTimestamp != nil {
			continue
		}
		if newest == nil || rs.CreationTimestamp.After(newest.CreationTimestamp.Time) {
			newest = rs
		}
	}
	if newest == nil {
		return controllerRef("Deployment", "apps/v1", d.Name, string(d.UID)), "", nil
	}
	hash := newest.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if newest.Spec.Selector != nil {
		if h, ok := newest.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
			hash = h
		}
	}
	return controllerRef("ReplicaSet", "apps/v1", newest.Name, string(newest.UID)), hash, nil
}

// readyNodes lists the schedulable nodes whose Ready condition is True, by
// name; none when the client may not list nodes.
func (p *deploymentPlayer) readyNodes(ctx context.Context) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, playCallTimeout)
	defer cancel()
	list, err := p.cs.CoreV1().Nodes().List(cctx, metav1.ListOptions{})
	if apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing nodes to place new pods: %w", err)
	}
	var names []string
	for _, n := range list.Items {
		if n.Spec.Unschedulable {
			continue
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				names = append(names, n.Name)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// createPod creates one pod of d and sets its status. It returns the pod's
// name once it exists, even when setting the status failed.
func (p *deploymentPlayer) createPod(ctx context.Context, d *appsv1.Deployment, owner metav1.OwnerReference, hash string) (string, error) {
	tmpl := d.Spec.Template.DeepCopy()
	lbls := maps.Clone(tmpl.Labels)
	if hash != "" {
		lbls = withLabel(lbls, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Labels: lbls, Annotations: tmpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{owner}},
		Spec: tmpl.Spec,
	}
	pod.Spec.NodeName = p.seeder.nextNode()
	var got *corev1.Pod
	for attempt := 0; ; attempt++ {
		pod.Name = d.Name + "-" + randomSuffix()
		cctx, cancel := context.WithTimeout(ctx, playCallTimeout)
		var err error
		got, err = p.cs.CoreV1().Pods(p.ns).Create(cctx, pod, metav1.CreateOptions{FieldManager: playFieldManager})
		cancel()
		if apierrors.IsAlreadyExists(err) && attempt < 3 {
			continue // another pod has that random name
		}
		if err != nil {
			return "", fmt.Errorf("creating pod %s: %w", pod.Name, err)
		}
		break
	}
	return got.Name, p.start(ctx, got)
}

// start gives a pod the status of a healthy running pod, as SeedKube does.
func (p *deploymentPlayer) start(ctx context.Context, pod *corev1.Pod) error {
	pod = pod.DeepCopy()
	p.seeder.now = time.Now().Add(seededStartAge)
	p.seeder.setPodStatus(pod, podRunning)
	cctx, cancel := context.WithTimeout(ctx, playCallTimeout)
	defer cancel()
	if _, err := p.cs.CoreV1().Pods(p.ns).UpdateStatus(cctx, pod, metav1.UpdateOptions{FieldManager: playFieldManager}); err != nil {
		return fmt.Errorf("setting the status of pod %s: %w", pod.Name, err)
	}
	return nil
}

// startUnstarted starts the pods that no one has given a status yet (a
// status update of scaleUp that failed after its pod was created).
func (p *deploymentPlayer) startUnstarted(ctx context.Context, pods []*corev1.Pod) error {
	for _, pod := range pods {
		if pod.Status.Phase != corev1.PodPending || len(pod.Status.Conditions) > 0 || pod.Status.StartTime != nil || len(pod.Spec.Containers) == 0 {
			continue
		}
		if err := p.start(ctx, pod); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// writeStatus records the counts of pods in d's status when they changed.
func (p *deploymentPlayer) writeStatus(ctx context.Context, d *appsv1.Deployment, pods []*corev1.Pod, want int32) error {
	have, ready := int32(len(pods)), int32(0)
	for _, pod := range pods {
		if podReady(pod) {
			ready++
		}
	}
	st := d.Status
	st.ObservedGeneration = d.Generation
	st.Replicas, st.UpdatedReplicas = have, have
	st.ReadyReplicas, st.AvailableReplicas = ready, ready
	st.UnavailableReplicas = max(0, want-ready)
	if st.ObservedGeneration == d.Status.ObservedGeneration && st.Replicas == d.Status.Replicas &&
		st.UpdatedReplicas == d.Status.UpdatedReplicas && st.ReadyReplicas == d.Status.ReadyReplicas &&
		st.AvailableReplicas == d.Status.AvailableReplicas && st.UnavailableReplicas == d.Status.UnavailableReplicas {
		return nil
	}
	upd := d.DeepCopy()
	upd.Status = st
	cctx, cancel := context.WithTimeout(ctx, playCallTimeout)
	defer cancel()
	_, err := p.cs.AppsV1().Deployments(p.ns).UpdateStatus(cctx, upd, metav1.UpdateOptions{FieldManager: playFieldManager})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // a newer version (or its deletion) is on its way through the watch
	}
	if err != nil {
		return fmt.Errorf("setting the status of deployment %s: %w", d.Name, err)
	}
	return nil
}

// randomSuffix is 5 random characters of the generated-name alphabet.
func randomSuffix() string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = nameAlphabet[rand.IntN(len(nameAlphabet))]
	}
	return string(b)
}
