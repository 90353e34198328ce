package sandbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// Rollout is a Deployment as the controllers would leave it mid-way or
// done, for tests of a deployment's validation: the API server runs no
// controller, so MakeRollout writes the Deployment, its ReplicaSet, its
// pods (and a Service with an EndpointSlice) and every status by hand.
type Rollout struct {
	Namespace, Name, Image string
	Replicas               int32
	// Updated and Available are the Deployment's status counts (both
	// Replicas when zero: rolled out).
	Updated, Available int32
	// DeadlineExceeded sets the Progressing condition of a rollout that
	// ran out of time.
	DeadlineExceeded bool
	// Service adds a Service selecting the pods, with an EndpointSlice of
	// one endpoint per pod, ready unless EndpointsNotReady.
	Service, EndpointsNotReady bool
}

// MakeRollout creates r's namespace when missing, then its Deployment,
// ReplicaSet, Replicas pods (Running and Ready, on no node) and Service,
// and sets their status.
func MakeRollout(ctx context.Context, cs kubernetes.Interface, r Rollout) error {
	co := metav1.CreateOptions{FieldManager: seedFieldManager}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.Namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, co); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", r.Namespace, err)
	}
	labels := map[string]string{"app": r.Name}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: r.Name, Image: r.Image}}}}
	replicas := r.Replicas
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}
	d, err := cs.AppsV1().Deployments(r.Namespace).Create(ctx, d, co)
	if err != nil {
		return fmt.Errorf("creating deployment %s: %w", r.Name, err)
	}
	hash := shortHash(r.Namespace+"/"+r.Name+"/"+r.Image, 10)
	rsTmpl := *tmpl.DeepCopy()
	rsTmpl.Labels["pod-template-hash"] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: r.Name + "-" + hash, Namespace: r.Namespace, Labels: rsTmpl.Labels,
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": "1"},
			OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", "apps/v1", d.Name, string(d.UID))}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Template: rsTmpl, Selector: &metav1.LabelSelector{MatchLabels: rsTmpl.Labels}},
	}
	rs, err = cs.AppsV1().ReplicaSets(r.Namespace).Create(ctx, rs, co)
	if err != nil {
		return fmt.Errorf("creating replicaset of %s: %w", r.Name, err)
	}
	var eps []discoveryv1.Endpoint
	for i := range int(replicas) {
		name := fmt.Sprintf("%s-%s", rs.Name, podSuffix(i))
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: rsTmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{controllerRef("ReplicaSet", "apps/v1", rs.Name, string(rs.UID))}}, Spec: rsTmpl.Spec}
		pod, err := cs.CoreV1().Pods(r.Namespace).Create(ctx, pod, co)
		if err != nil {
			return fmt.Errorf("creating pod %s: %w", name, err)
		}
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &now, PodIP: podIP(i + 1),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: r.Name, Image: r.Image, ImageID: "sha256:" + longHash(r.Image), Ready: true, Started: ptrTo(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
		if _, err := cs.CoreV1().Pods(r.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("setting status of pod %s: %w", name, err)
		}
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{podIP(i + 1)}, Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(!r.EndpointsNotReady)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: r.Namespace, Name: name, UID: pod.UID}})
	}
	if r.Service {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if _, err := cs.CoreV1().Services(r.Namespace).Create(ctx, svc, co); err != nil {
			return fmt.Errorf("creating service %s: %w", r.Name, err)
		}
		slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: r.Name + "-" + strings.ToLower(hash[:5]), Namespace: r.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: r.Name}}, AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps,
			Ports: []discoveryv1.EndpointPort{{Name: ptrTo("http"), Port: ptrTo(int32(8080))}}}
		if _, err := cs.DiscoveryV1().EndpointSlices(r.Namespace).Create(ctx, slice, co); err != nil {
			return fmt.Errorf("creating the endpoint slice of %s: %w", r.Name, err)
		}
	}
	updated, available := r.Updated, r.Available
	if updated == 0 && available == 0 && !r.DeadlineExceeded {
		updated, available = replicas, replicas
	}
	return SetRolloutStatus(ctx, cs, r.Namespace, r.Name, updated, available, r.DeadlineExceeded)
}

// SetRolloutStatus writes a Deployment's status as its controller would
// mid-rollout: updated of its replicas on the new ReplicaSet, available
// of them available, the old ones still there; deadline marks the
// rollout as past its progress deadline.
func SetRolloutStatus(ctx context.Context, cs kubernetes.Interface, namespace, name string, updated, available int32, deadline bool) error {
	d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading deployment %s: %w", name, err)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	now := metav1.NewTime(time.Now())
	total := want
	if updated < want {
		total = want + 1 // one old replica while the new ones come
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: total, UpdatedReplicas: updated,
		ReadyReplicas: available, AvailableReplicas: available, UnavailableReplicas: max(total-available, 0)}
	cond := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated",
		LastUpdateTime: now, LastTransitionTime: now, Message: fmt.Sprintf("ReplicaSet %q is progressing.", name)}
	switch {
	case deadline:
		cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, "ProgressDeadlineExceeded", fmt.Sprintf("ReplicaSet %q has timed out progressing.", name)
	case updated == want && available == want:
		cond.Reason, cond.Message = "NewReplicaSetAvailable", fmt.Sprintf("ReplicaSet %q has successfully progressed.", name)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{cond}
	if _, err := cs.AppsV1().Deployments(namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting status of deployment %s: %w", name, err)
	}
	return nil
}
