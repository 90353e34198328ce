package rollout

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opsdeck/opsdeck/ops/kube"
)

// Kind is a kind of workload, spelled as kubectl's short names.
type Kind string

// The workloads a rollout is judged for.
const (
	Deployment  Kind = "deploy"
	StatefulSet Kind = "statefulset"
	DaemonSet   Kind = "daemonset"
)

// Kinds are the workload kinds, in report order.
var Kinds = []Kind{Deployment, StatefulSet, DaemonSet}

// kindWords are the spellings of each kind a NAME may start with.
var kindWords = map[string]Kind{
	"deploy": Deployment, "deployment": Deployment, "deployments": Deployment, "deployment.apps": Deployment,
	"sts": StatefulSet, "statefulset": StatefulSet, "statefulsets": StatefulSet, "statefulset.apps": StatefulSet,
	"ds": DaemonSet, "daemonset": DaemonSet, "daemonsets": DaemonSet, "daemonset.apps": DaemonSet,
}

// ErrUnknownWorkload is wrapped by the error of a NAME that names no
// workload (or a kind that is not one).
var ErrUnknownWorkload = errors.New("unknown workload")

// Ref names one workload.
type Ref struct {
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String is "deploy/api", as kubectl writes it.
func (r Ref) String() string { return string(r.Kind) + "/" + r.Name }

// ParseName reads a NAME of the command line: "deploy/api" (kubectl's
// kind spellings: deploy, deployment, sts, statefulset, ds, daemonset…)
// or a bare "api", whose kind is "" (any).
func ParseName(s string) (Kind, string, error) {
	word, name, ok := strings.Cut(s, "/")
	if !ok {
		if s == "" {
			return "", "", fmt.Errorf("an empty name: %w", ErrUnknownWorkload)
		}
		return "", s, nil
	}
	k, known := kindWords[strings.ToLower(word)]
	if !known || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("%q is not deploy/NAME, statefulset/NAME, daemonset/NAME or NAME: %w", s, ErrUnknownWorkload)
	}
	return k, name, nil
}

// Workload is one workload with what its rollout is judged on.
type Workload struct {
	Ref
	Progress Progress
	// Template is the pod template of the newest spec.
	Template corev1.PodTemplateSpec
	// Started is when the newest rollout began: the newest ReplicaSet's or
	// ControllerRevision's creation, else the workload's.
	Started time.Time
	// Pods are the pods of the newest revision; Old the others.
	Pods, Old []*corev1.Pod
}

// Workloads builds every workload of objs with its pods, sorted by
// namespace, kind and name.
func Workloads(objs kube.Workloads) []Workload {
	owned := map[types.UID][]*corev1.Pod{}
	for _, p := range objs.Pods {
		if ref := metav1.GetControllerOf(p); ref != nil {
			owned[ref.UID] = append(owned[ref.UID], p)
		}
	}
	var out []Workload
	for _, d := range objs.Deployments {
		w := Workload{Ref: Ref{Deployment, d.Namespace, d.Name}, Progress: DeploymentProgress(d), Template: d.Spec.Template, Started: d.CreationTimestamp.Time}
		var newest *appsv1.ReplicaSet
		var sets []*appsv1.ReplicaSet
		for _, rs := range objs.ReplicaSets {
			if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == d.UID {
				sets = append(sets, rs)
				if newest == nil || newerReplicaSet(rs, newest) {
					newest = rs
				}
			}
		}
		w.Pods = owned[d.UID] // pods the Deployment owns itself
		for _, rs := range sets {
			if rs == newest {
				w.Pods = append(w.Pods, owned[rs.UID]...)
				w.Started = rs.CreationTimestamp.Time
			} else {
				w.Old = append(w.Old, owned[rs.UID]...)
			}
		}
		out = append(out, w)
	}
	for _, s := range objs.StatefulSets {
		w := Workload{Ref: Ref{StatefulSet, s.Namespace, s.Name}, Progress: StatefulSetProgress(s), Template: s.Spec.Template, Started: s.CreationTimestamp.Time}
		for _, cr := range objs.Revisions {
			if cr.Namespace == s.Namespace && cr.Name == s.Status.UpdateRevision {
				w.Started = cr.CreationTimestamp.Time
			}
		}
		for _, p := range owned[s.UID] {
			if rev := p.Labels[appsv1.ControllerRevisionHashLabelKey]; s.Status.UpdateRevision == "" || rev == "" || rev == s.Status.UpdateRevision {
				w.Pods = append(w.Pods, p)
			} else {
				w.Old = append(w.Old, p)
			}
		}
		out = append(out, w)
	}
	for _, d := range objs.DaemonSets {
		w := Workload{Ref: Ref{DaemonSet, d.Namespace, d.Name}, Progress: DaemonSetProgress(d), Template: d.Spec.Template, Started: d.CreationTimestamp.Time}
		var newest *appsv1.ControllerRevision
		for _, cr := range objs.Revisions {
			if ref := metav1.GetControllerOf(cr); ref != nil && ref.UID == d.UID && (newest == nil || cr.Revision > newest.Revision) {
				newest = cr
			}
		}
		if newest != nil {
			w.Started = newest.CreationTimestamp.Time
		}
		for _, p := range owned[d.UID] {
			if newest == nil || p.Labels[appsv1.ControllerRevisionHashLabelKey] == "" ||
				newest.Labels[appsv1.ControllerRevisionHashLabelKey] == p.Labels[appsv1.ControllerRevisionHashLabelKey] {
				w.Pods = append(w.Pods, p)
			} else {
				w.Old = append(w.Old, p)
			}
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b Workload) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if c := slices.Index(Kinds, a.Kind) - slices.Index(Kinds, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := range out {
		byName := func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) }
		slices.SortFunc(out[i].Pods, byName)
		slices.SortFunc(out[i].Old, byName)
	}
	return out
}

// newerReplicaSet reports whether a is a later revision of its Deployment
// than b: by the controller's revision annotation, else by creation.
func newerReplicaSet(a, b *appsv1.ReplicaSet) bool {
	ra, errA := strconv.ParseInt(a.Annotations["deployment.kubernetes.io/revision"], 10, 64)
	rb, errB := strconv.ParseInt(b.Annotations["deployment.kubernetes.io/revision"], 10, 64)
	if errA == nil && errB == nil && ra != rb {
		return ra > rb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

// Select keeps the workloads names name (ParseName's forms; all when
// names is empty). A name that matches none is an error naming what
// exists; a bare name matches every kind it names.
func Select(all []Workload, names []string) ([]Workload, error) {
	if len(names) == 0 {
		return all, nil
	}
	picked := make([]bool, len(all))
	for _, n := range names {
		kind, name, err := ParseName(n)
		if err != nil {
			return nil, err
		}
		found := false
		for i, w := range all {
			if w.Name == name && (kind == "" || kind == w.Kind) {
				picked[i], found = true, true
			}
		}
		if !found {
			return nil, unknown(n, all)
		}
	}
	var out []Workload
	for i, w := range all {
		if picked[i] {
			out = append(out, w)
		}
	}
	return out, nil
}

// maxNamed bounds the workloads an unknown name's error lists.
const maxNamed = 20

func unknown(name string, all []Workload) error {
	if len(all) == 0 {
		return fmt.Errorf("no workload %q: there is no Deployment, StatefulSet or DaemonSet in these namespaces — check -n or kubernetes.namespaces: %w", name, ErrUnknownWorkload)
	}
	var have []string
	nss := map[string]bool{}
	for _, w := range all {
		nss[w.Namespace] = true
		if len(have) < maxNamed {
			have = append(have, w.String())
		}
	}
	more := ""
	if len(all) > maxNamed {
		more = fmt.Sprintf(" and %d more", len(all)-maxNamed)
	}
	where := "these namespaces"
	if len(nss) == 1 {
		where = fmt.Sprintf("namespace %q", all[0].Namespace)
	}
	return fmt.Errorf("no workload %q in %s: there are %s%s: %w", name, where, strings.Join(have, ", "), more, ErrUnknownWorkload)
}
