package kube

import corev1 "k8s.io/api/core/v1"

// CachedPodForTest returns the pod object as stored in the cache (after the
// transform), for tests that check what is kept in memory.
func (c *Cache) CachedPodForTest(ns, name string) (*corev1.Pod, bool) {
	for _, s := range c.pods {
		it, ok, err := s.informer.GetStore().GetByKey(ns + "/" + name)
		if err == nil && ok {
			p, ok := it.(*corev1.Pod)
			return p, ok
		}
	}
	return nil, false
}
