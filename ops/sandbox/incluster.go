package sandbox

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// InClusterServer makes a local server (a sandbox PostgreSQL or Redis)
// look like one running in the cluster, for the port-forward's tests: a
// Service app in namespace ns (created if missing) selecting app=<app>,
// its port named app, and AddReadyPod's pod <app>-0 behind it.
func InClusterServer(ctx context.Context, cs kubernetes.Interface, k *Kubelet, ns, app string, port int32, local int) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	_, err = cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: app},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: app, Port: port, TargetPort: intstr.FromString(app)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("service %s/%s: %w", ns, app, err)
	}
	return AddReadyPod(ctx, cs, k, ns, app, app+"-0", port, local)
}

// AddReadyPod creates a running, ready pod of app (label app=<app>, a
// container port named app) on the first node, and registers with the
// fake kubelet that its port reaches 127.0.0.1:local.
func AddReadyPod(ctx context.Context, cs kubernetes.Interface, k *Kubelet, ns, app, name string, port int32, local int) error {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil || len(nodes.Items) == 0 {
		return fmt.Errorf("a node for pod %s/%s: %v (seed the cluster first)", ns, name, err)
	}
	p, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			NodeName:   nodes.Items[0].Name,
			Containers: []corev1.Container{{Name: app, Image: app, Ports: []corev1.ContainerPort{{Name: app, ContainerPort: port}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("pod %s/%s: %w", ns, name, err)
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("pod %s/%s status: %w", ns, name, err)
	}
	k.SetPortForward(ns, name, int(port), net.JoinHostPort("127.0.0.1", strconv.Itoa(local)))
	return nil
}
