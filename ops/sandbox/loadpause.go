package sandbox

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// followWriters pauses the load generator while the seeded api Deployment
// is scaled to 0, as a restore does with the writers: the generator stands
// in for the application's pods, which would be gone too. It returns the
// function that stops following.
func followWriters(cs kubernetes.Interface, namespace string, l *LoadGenerator) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			d, err := cs.AppsV1().Deployments(namespace).Get(rctx, "api", metav1.GetOptions{})
			rcancel()
			if err == nil && d.Spec.Replicas != nil {
				l.SetPaused(*d.Spec.Replicas == 0)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
