package restore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// pollEvery is how often the waits for pods look again.
var pollEvery = 250 * time.Millisecond

// writers stops and restarts the Deployments that write to the database
// (restore.writers), remembering their replica counts.
type writers struct {
	en   *env
	list []config.Writer
	// replicas are the counts found when they were stopped.
	replicas map[config.Writer]int32
	cs       kubernetes.Interface
}

func newWriters(en *env) *writers {
	return &writers{en: en, list: en.cfg().RestoreWriters(), replicas: map[config.Writer]int32{}}
}

// client connects to the API server once.
func (w *writers) client() (kubernetes.Interface, error) {
	if w.cs != nil {
		return w.cs, nil
	}
	c, err := w.en.eng.Backup.KubeClient()
	if err != nil {
		return nil, err
	}
	w.cs = c.Clientset()
	return w.cs, nil
}

func (w *writers) timeout() time.Duration { return w.en.cfg().Restore.ScaleTimeout }

// preflight finds every writer and its replica count.
func (w *writers) preflight(ctx context.Context) {
	if len(w.list) == 0 {
		w.en.check("writers", "configured", health.Warn, "restore.writers is empty: nothing stops the application during the swap (its sessions are ended, and it reconnects to the restored database)")
		return
	}
	cs, err := w.client()
	if err != nil {
		w.en.check("writers", "kubernetes", health.Crit, err.Error())
		return
	}
	var found []string
	for _, wr := range w.list {
		cctx, cancel := context.WithTimeout(ctx, w.en.cfg().Timeouts.Check)
		d, err := cs.AppsV1().Deployments(wr.Namespace).Get(cctx, wr.Name, metav1.GetOptions{})
		cancel()
		switch {
		case apierrors.IsNotFound(err):
			w.en.check("writers", wr.String(), health.Warn, "Deployment not found: nothing to stop (fix restore.writers if it was renamed)")
		case err != nil:
			w.en.check("writers", wr.String(), health.Crit, kubeErr(err, "read", wr))
		default:
			found = append(found, fmt.Sprintf("%s (%d)", wr, replicasOf(d.Spec.Replicas)))
		}
	}
	if len(found) > 0 {
		w.en.check("writers", "deployments", health.OK, "stopped for the swap: "+strings.Join(found, ", "))
	}
}

func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// kubeErr explains a refused call on a writer.
func kubeErr(err error, verb string, wr config.Writer) string {
	if apierrors.IsForbidden(err) {
		return fmt.Sprintf("%s %s is forbidden for opsdeck's Kubernetes user — grant get/update on deployments and deployments/scale in %s", verb, wr, wr.Namespace)
	}
	_, msg := kube.Classify(err) // what to do when the API server is unreachable, slow, ...
	return fmt.Sprintf("%s %s: %s", verb, wr, msg)
}

func (w *writers) names() string {
	var s []string
	for _, wr := range w.list {
		s = append(s, wr.Name)
	}
	if len(s) == 0 {
		return "(none configured)"
	}
	return strings.Join(s, ", ")
}

// downStep scales the writers to 0 and waits for their pods to go.
func (w *writers) downStep() *Step {
	return &Step{
		Name: "writers.down", Component: "writers",
		Title: "Scale the writers to 0 and wait for their pods to go: " + w.names(),
		Undo:  "Scale the writers back to their replica counts",
		do: func(ctx context.Context) error {
			if len(w.list) == 0 {
				w.en.note("no writers configured")
				return nil
			}
			cs, err := w.client()
			if err != nil {
				return err
			}
			for _, wr := range w.list {
				// The count is remembered (and journaled) before the scale,
				// so that an update applied but not acknowledged is undone.
				n, err := w.scale(ctx, cs, wr, 0, func(was int32) {
					w.replicas[wr] = was
					w.en.persist()
				})
				if apierrors.IsNotFound(err) {
					w.en.warn("%s not found: nothing to stop", wr)
					continue
				}
				if err != nil {
					return errors.New(kubeErr(err, "scale", wr))
				}
				w.en.note("%s: %d → 0", wr, n)
			}
			return w.waitGone(ctx, cs)
		},
		verify: func(ctx context.Context) error {
			if len(w.replicas) == 0 {
				return nil
			}
			cs, err := w.client()
			if err != nil {
				return err
			}
			left, err := w.podsLeft(ctx, cs)
			if err != nil {
				return err
			}
			if len(left) > 0 {
				return fmt.Errorf("pods still running: %s", strings.Join(left, ", "))
			}
			return nil
		},
		undo:        w.restart,
		undoTimeout: UndoTimeout + w.timeout(),
	}
}

// upStep scales the writers back and waits (within restore.scale_timeout)
// for them to be ready; a slow start is a warning, not a failure: the
// data is restored.
func (w *writers) upStep() *Step {
	return &Step{
		Name: "writers.up", Component: "writers",
		Title: "Scale the writers back to their replica counts",
		Undo:  "Stop the writers again before the swap is undone",
		do: func(ctx context.Context) error {
			if err := w.restart(ctx); err != nil {
				return err
			}
			if len(w.replicas) > 0 {
				w.waitReady(ctx)
			}
			return nil
		},
		undoTimeout: UndoTimeout + w.timeout(),
		undo: func(ctx context.Context) error {
			if len(w.replicas) == 0 {
				return nil
			}
			cs, err := w.client()
			if err != nil {
				return err
			}
			for _, wr := range w.stopped() {
				if _, err := w.scale(ctx, cs, wr, 0, nil); err != nil && !apierrors.IsNotFound(err) {
					return errors.New(kubeErr(err, "scale", wr))
				}
			}
			return w.waitGone(ctx, cs)
		},
	}
}

// restart scales every stopped writer back to its count.
func (w *writers) restart(ctx context.Context) error {
	if len(w.replicas) == 0 {
		return nil
	}
	cs, err := w.client()
	if err != nil {
		return err
	}
	var errs []error
	for _, wr := range w.stopped() {
		n := w.replicas[wr]
		if _, err := w.scale(ctx, cs, wr, n, nil); err != nil {
			errs = append(errs, errors.New(kubeErr(err, "scale", wr)))
			continue
		}
		w.en.note("%s: back to %d", wr, n)
	}
	return errors.Join(errs...)
}

// stopped lists the writers this run stopped, in a stable order (those of
// a journal may no longer be in the config).
func (w *writers) stopped() []config.Writer {
	out := slices.Collect(maps.Keys(w.replicas))
	slices.SortFunc(out, func(a, b config.Writer) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// scale sets a Deployment's replicas through the scale subresource and
// returns the count it had; before it changes anything, remember (when
// set) is told that count.
func (w *writers) scale(ctx context.Context, cs kubernetes.Interface, wr config.Writer, n int32, remember func(was int32)) (int32, error) {
	if err := w.en.eng.hook("scale:" + wr.Name); err != nil {
		return 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, w.en.cfg().Timeouts.Check)
	defer cancel()
	deps := cs.AppsV1().Deployments(wr.Namespace)
	sc, err := deps.GetScale(cctx, wr.Name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	was := sc.Spec.Replicas
	if remember != nil {
		remember(was)
	}
	if was == n {
		return was, nil
	}
	upd := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: wr.Name, Namespace: wr.Namespace, ResourceVersion: sc.ResourceVersion}, Spec: autoscalingv1.ScaleSpec{Replicas: n}}
	if _, err := deps.UpdateScale(cctx, wr.Name, upd, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return was, err
	}
	return was, nil
}

// podsLeft lists the pods of the stopped writers that still exist.
func (w *writers) podsLeft(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	var left []string
	for wr := range w.replicas {
		cctx, cancel := context.WithTimeout(ctx, w.en.cfg().Timeouts.Check)
		d, err := cs.AppsV1().Deployments(wr.Namespace).Get(cctx, wr.Name, metav1.GetOptions{})
		if err != nil {
			cancel()
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, errors.New(kubeErr(err, "read", wr))
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("%s: selector: %w", wr, err)
		}
		pods, err := cs.CoreV1().Pods(wr.Namespace).List(cctx, metav1.ListOptions{LabelSelector: sel.String()})
		cancel()
		if err != nil {
			return nil, errors.New(kubeErr(err, "list pods of", wr))
		}
		for _, p := range pods.Items {
			left = append(left, wr.Namespace+"/"+p.Name)
		}
	}
	return left, nil
}

// waitGone waits until the stopped writers have no pods left.
func (w *writers) waitGone(ctx context.Context, cs kubernetes.Interface) error {
	deadline := time.Now().Add(w.timeout())
	for {
		left, err := w.podsLeft(ctx, cs)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			w.en.note("no writer pods left")
			return nil
		}
		w.en.advance(int64(len(left)), 0, false)
		if time.Now().After(deadline) {
			return fmt.Errorf("the writers' pods did not go within %v (restore.scale_timeout): %s", w.timeout(), strings.Join(left, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// waitReady waits for the restarted writers to report their replicas
// ready, and notes those that did not in time.
func (w *writers) waitReady(ctx context.Context) {
	cs, err := w.client()
	if err != nil {
		return
	}
	deadline := time.Now().Add(w.timeout())
	for {
		var slow []string
		for wr, n := range w.replicas {
			cctx, cancel := context.WithTimeout(ctx, w.en.cfg().Timeouts.Check)
			d, err := cs.AppsV1().Deployments(wr.Namespace).Get(cctx, wr.Name, metav1.GetOptions{})
			cancel()
			if err != nil || d.Status.ReadyReplicas < n {
				ready := int32(0)
				if d != nil {
					ready = d.Status.ReadyReplicas
				}
				slow = append(slow, fmt.Sprintf("%s %d/%d", wr, ready, n))
			}
		}
		if len(slow) == 0 {
			w.en.note("writers ready")
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			w.en.warn("not ready within %v: %s — watch them in the Health tab", w.timeout(), strings.Join(slow, ", "))
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
	}
}
