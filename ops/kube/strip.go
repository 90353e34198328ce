package kube

import (
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
	return obj, nil
}
