package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Happening is something the cluster did at a moment: a rollout (a
// Deployment's new ReplicaSet) or a Warning event.
type Happening struct {
	Time time.Time
	// Kind is "rollout" or "event".
	Kind string
	Text string
}

// Happenings lists the rollouts and Warning events of the client's
// namespaces between from and to, oldest first. Each namespace's lists
// are bounded by the client's timeout; the first failure is returned
// with what was read.
func Happenings(ctx context.Context, c *Client, from, to time.Time) ([]Happening, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout())
	defer cancel()
	in := func(t time.Time) bool { return !t.Before(from) && !t.After(to) }
	var out []Happening
	var firstErr error
	for _, ns := range c.Namespaces() {
		rss, err := listReplicaSets(ctx, c, ns)
		if err != nil && firstErr == nil {
			firstErr = Explain(err)
		}
		for _, rs := range rss {
			if t := rs.CreationTimestamp.Time; in(t) {
				out = append(out, Happening{Time: t, Kind: "rollout", Text: rolloutText(rs)})
			}
		}
		evs, err := listWarnings(ctx, c.Clientset(), ns)
		if err != nil && firstErr == nil {
			firstErr = Explain(err)
		}
		for _, ev := range evs {
			if t := EventTime(ev); in(t) {
				out = append(out, Happening{Time: t, Kind: "event", Text: fmt.Sprintf("Warning %s %s %s/%s: %s",
					ev.Reason, strings.ToLower(ev.InvolvedObject.Kind), ev.Namespace, ev.InvolvedObject.Name, strings.TrimSpace(ev.Message))})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, firstErr
}

func listReplicaSets(ctx context.Context, c *Client, ns string) ([]appsv1.ReplicaSet, error) {
	var out []appsv1.ReplicaSet
	err := paginate(ctx, metav1.ListOptions{}, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := c.Clientset().AppsV1().ReplicaSets(ns).List(ctx, o)
		if err != nil {
			return "", err
		}
		out = append(out, l.Items...)
		return l.Continue, nil
	})
	return out, err
}

// rolloutText names a ReplicaSet's Deployment, revision and images.
func rolloutText(rs appsv1.ReplicaSet) string {
	owner := "replicaset " + rs.Name
	for _, ref := range rs.OwnerReferences {
		if ref.Kind == "Deployment" {
			owner = "deployment " + ref.Name
		}
	}
	var images []string
	for _, c := range rs.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	s := fmt.Sprintf("%s/%s rolled out", rs.Namespace, owner)
	if rev := rs.Annotations["deployment.kubernetes.io/revision"]; rev != "" {
		s += " revision " + rev
	}
	if len(images) > 0 {
		s += " (" + strings.Join(images, ", ") + ")"
	}
	return s
}
