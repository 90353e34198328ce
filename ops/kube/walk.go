package kube

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/opsdeck/opsdeck/ops/access"
)

// WalkPods lists the pods of namespaces (the client's when empty) page by
// page and returns those keep says, in list order: the others are dropped
// as each page is read, so ten thousand pods cost a page of memory, not
// ten thousand pods. A namespace that fails is named in the joined error;
// the pods of the others are still returned.
func WalkPods(ctx context.Context, client *Client, namespaces []string, keep func(*corev1.Pod) bool) ([]*corev1.Pod, error) {
	namespaces = cleanNamespaces(namespaces)
	if len(namespaces) == 0 {
		namespaces = client.Namespaces()
	}
	var out []*corev1.Pod
	var errs []error
	for _, ns := range namespaces {
		err := paginate(ctx, metav1.ListOptions{}, func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := client.clientset.CoreV1().Pods(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range l.Items {
				if keep(&l.Items[i]) {
					p := l.Items[i] // not a pointer into the page, which may then go
					p.ManagedFields = nil
					out = append(out, &p)
				}
			}
			return l.Continue, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("pods of namespace %s: %w", ns, Explain(err)))
		}
	}
	return out, errors.Join(errs...)
}

// ListNodes lists every node.
func ListNodes(ctx context.Context, client *Client) ([]*corev1.Node, error) {
	nodes, err := listNodes(ctx, client.clientset)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", Explain(err))
	}
	return nodes, nil
}

// ListEvents lists the events of namespace ns, only the Warning ones when
// warningsOnly, at most limit of them (the first pages; 0: all).
func ListEvents(ctx context.Context, client *Client, ns string, warningsOnly bool, limit int) ([]*corev1.Event, error) {
	var opts metav1.ListOptions
	if warningsOnly {
		opts.FieldSelector = fields.OneTermEqualSelector("type", corev1.EventTypeWarning).String()
	}
	var out []*corev1.Event
	errEnough := errors.New("enough")
	err := paginate(ctx, opts, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := client.clientset.CoreV1().Events(ns).List(ctx, o)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			if limit > 0 && len(out) == limit {
				return "", errEnough
			}
			e := l.Items[i]
			e.ManagedFields = nil
			out = append(out, &e)
		}
		return l.Continue, nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return out, fmt.Errorf("events of namespace %s: %w", ns, Explain(err))
	}
	return out, nil
}

// StreamSources streams the logs of sources, containers already known
// (from WalkPods), as StreamLogs does once it has resolved its target:
// req's Target, Namespace and Container are ignored. The context must
// carry an identity.
func (c *Client) StreamSources(ctx context.Context, req LogRequest, sources []LogSource) (*LogStream, error) {
	if _, ok := access.FromContext(ctx); !ok {
		return nil, fmt.Errorf("logs refused: the request carries no identity: %w", access.ErrNoIdentity)
	}
	return c.streamSources(ctx, req, sources), nil
}
