package kube

import (
	"context"
	"fmt"
	"sort"
	"strconv"
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
				out = append(out, Happening{Time: t, Kind: "rollout", Text: rolloutText(rs, previousRevision(rss, rs))})
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

// rolloutText names a ReplicaSet's Deployment, revision and images; with
// the revision before it (prev, nil for none), the images that changed.
func rolloutText(rs appsv1.ReplicaSet, prev *appsv1.ReplicaSet) string {
	owner := "replicaset " + rs.Name
	if o := deploymentOf(rs); o != "" {
		owner = "deployment " + o
	}
	s := fmt.Sprintf("%s/%s rolled out", rs.Namespace, owner)
	if rev := rs.Annotations[revisionAnnotation]; rev != "" {
		s += " revision " + rev
	}
	was := map[string]string{}
	if prev != nil {
		for _, c := range prev.Spec.Template.Spec.Containers {
			was[c.Name] = c.Image
		}
	}
	var images []string
	for _, c := range rs.Spec.Template.Spec.Containers {
		if old, ok := was[c.Name]; ok && old != c.Image {
			images = append(images, fmt.Sprintf("%s: %s → %s", c.Name, old, c.Image))
		} else {
			images = append(images, c.Image)
		}
	}
	if len(images) > 0 {
		s += " (" + strings.Join(images, ", ") + ")"
	}
	return s
}

// revisionAnnotation numbers a Deployment's ReplicaSets.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// deploymentOf is the Deployment that owns rs, "" for none.
func deploymentOf(rs appsv1.ReplicaSet) string {
	for _, ref := range rs.OwnerReferences {
		if ref.Kind == "Deployment" {
			return ref.Name
		}
	}
	return ""
}

// previousRevision is the ReplicaSet of rs's Deployment with the highest
// revision below rs's, nil for none.
func previousRevision(rss []appsv1.ReplicaSet, rs appsv1.ReplicaSet) *appsv1.ReplicaSet {
	owner := deploymentOf(rs)
	rev, err := strconv.Atoi(rs.Annotations[revisionAnnotation])
	if owner == "" || err != nil {
		return nil
	}
	var best *appsv1.ReplicaSet
	bestRev := 0
	for i := range rss {
		r, err := strconv.Atoi(rss[i].Annotations[revisionAnnotation])
		if err != nil || r >= rev || r <= bestRev || deploymentOf(rss[i]) != owner {
			continue
		}
		best, bestRev = &rss[i], r
	}
	return best
}
