package kube

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// strippedAnnotations are annotations that can be large and that opsdeck
// never shows.
var strippedAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision-history",
	"control-plane.alpha.kubernetes.io/leader",
}

// StripForCache is the informers' transform: it drops managedFields and large
// annotations (last-applied-configuration...) in place to keep the cache
// small. It is idempotent and leaves objects without metadata untouched.
func StripForCache(obj any) (any, error) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		if stripped, err := StripForCache(d.Obj); err == nil {
			d.Obj = stripped
		}
		return d, nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil //nolint:nilerr // not an object with metadata: keep as is
	}
	m.SetManagedFields(nil)
	if ann := m.GetAnnotations(); len(ann) > 0 {
		for _, k := range strippedAnnotations {
			delete(ann, k)
		}
		if len(ann) == 0 {
			m.SetAnnotations(nil)
		}
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		stripPod(pod)
	}
	return obj, nil
}

// stripPod drops the parts of a pod's spec that no view of the cache reads
// (environment, commands, probes, mounts, volumes): at 10,000 pods they are
// most of the cache's memory. Images, resources, ports and everything in
// status stay. Checks that need the rest (security findings) list pods
// directly instead of reading the cache.
func stripPod(pod *corev1.Pod) {
	pod.Spec.Volumes = nil
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			c := &cs[i]
			c.Env, c.EnvFrom, c.VolumeMounts, c.VolumeDevices = nil, nil, nil, nil
			c.Command, c.Args = nil, nil
			c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
		}
	}
	pod.Spec.EphemeralContainers = nil
	pod.Spec.Tolerations, pod.Spec.Affinity, pod.Spec.TopologySpreadConstraints = nil, nil, nil
	pod.Spec.ImagePullSecrets, pod.Spec.HostAliases, pod.Spec.DNSConfig, pod.Spec.ReadinessGates = nil, nil, nil, nil
}
