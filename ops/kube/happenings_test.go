package kube

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A rollout names the images that changed since the Deployment's previous
// revision, and only those.
func TestRolloutTextNamesChangedImages(t *testing.T) {
	rs := func(name, rev, api, proxy string) appsv1.ReplicaSet {
		return appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "stockapp",
				Annotations:     map[string]string{revisionAnnotation: rev},
				OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "api"}}},
			Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "api", Image: api}, {Name: "proxy", Image: proxy}}}}},
		}
	}
	rss := []appsv1.ReplicaSet{
		rs("api-1", "1", "stockapp/api:2.13.0", "envoy:1.30"),
		rs("api-3", "3", "stockapp/api:2.15.0", "envoy:1.30"),
		rs("api-2", "2", "stockapp/api:2.14.1", "envoy:1.30"),
	}
	other := rs("web-9", "2", "web:1", "envoy:1.30")
	other.OwnerReferences[0].Name = "web"
	rss = append(rss, other)

	for _, tc := range []struct {
		rs   appsv1.ReplicaSet
		want string
	}{
		{rss[1], "stockapp/deployment api rolled out revision 3 (api: stockapp/api:2.14.1 → stockapp/api:2.15.0, envoy:1.30)"},
		{rss[0], "stockapp/deployment api rolled out revision 1 (stockapp/api:2.13.0, envoy:1.30)"},
	} {
		if got := rolloutText(tc.rs, previousRevision(rss, tc.rs)); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
