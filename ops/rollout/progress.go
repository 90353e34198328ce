package rollout

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
)

// TimedOutReason is the reason of a Deployment's Progressing condition
// once its progress deadline passed: the rollout failed.
const TimedOutReason = "ProgressDeadlineExceeded"

// Progress is where a workload's rollout stands, judged as `kubectl
// rollout status` judges it: Done when the controller has seen the newest
// spec and every replica is updated and available (old ones gone),
// Failed when a Deployment's progress deadline passed.
type Progress struct {
	Done   bool `json:"done"`
	Failed bool `json:"failed"`
	// Message says what the rollout waits for, or why it failed.
	Message string `json:"message"`
	// Desired is the replicas asked for (a DaemonSet: the nodes it
	// should run on); Current the pods there are, old ones included.
	Desired   int32 `json:"desired"`
	Current   int32 `json:"current"`
	Updated   int32 `json:"updated"`
	Ready     int32 `json:"ready"`
	Available int32 `json:"available"`
}

// DeploymentProgress judges a Deployment's rollout.
func DeploymentProgress(d *appsv1.Deployment) Progress {
	st := d.Status
	p := Progress{Desired: replicas(d.Spec.Replicas), Current: st.Replicas, Updated: st.UpdatedReplicas, Ready: st.ReadyReplicas, Available: st.AvailableReplicas}
	if d.Generation > st.ObservedGeneration {
		p.Message = fmt.Sprintf("the controller has not seen the newest spec yet (generation %d, observed %d)", d.Generation, st.ObservedGeneration)
		return p
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == TimedOutReason {
			p.Failed = true
			p.Message = "exceeded its progress deadline"
			if c.Message != "" {
				p.Message += ": " + c.Message
			}
			return p
		}
	}
	switch {
	case st.UpdatedReplicas < p.Desired:
		p.Message = fmt.Sprintf("%d of %d new replicas updated", st.UpdatedReplicas, p.Desired)
	case st.Replicas > st.UpdatedReplicas:
		p.Message = fmt.Sprintf("%d old replicas pending termination", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < st.UpdatedReplicas:
		p.Message = fmt.Sprintf("%d of %d updated replicas available", st.AvailableReplicas, st.UpdatedReplicas)
	default:
		p.Done = true
		p.Message = "rolled out"
	}
	return p
}

// StatefulSetProgress judges a StatefulSet's rollout. An OnDelete
// StatefulSet has no rollout to follow: it is done once its pods are
// ready.
func StatefulSetProgress(s *appsv1.StatefulSet) Progress {
	st := s.Status
	p := Progress{Desired: replicas(s.Spec.Replicas), Current: st.Replicas, Updated: st.UpdatedReplicas, Ready: st.ReadyReplicas, Available: st.AvailableReplicas}
	if st.ObservedGeneration == 0 || s.Generation > st.ObservedGeneration {
		p.Message = fmt.Sprintf("the controller has not seen the newest spec yet (generation %d, observed %d)", s.Generation, st.ObservedGeneration)
		return p
	}
	if st.ReadyReplicas < p.Desired {
		p.Message = fmt.Sprintf("%d of %d pods ready", st.ReadyReplicas, p.Desired)
		return p
	}
	strategy := s.Spec.UpdateStrategy
	if strategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && strategy.RollingUpdate != nil && strategy.RollingUpdate.Partition != nil {
		want := p.Desired - *strategy.RollingUpdate.Partition
		if st.UpdatedReplicas < want {
			p.Message = fmt.Sprintf("%d of %d pods above the partition updated", st.UpdatedReplicas, want)
			return p
		}
		p.Done, p.Message = true, "rolled out"
		return p
	}
	if strategy.Type != appsv1.OnDeleteStatefulSetStrategyType && st.UpdateRevision != st.CurrentRevision {
		p.Message = fmt.Sprintf("%d pods at revision %s, the others still at %s", st.UpdatedReplicas, st.UpdateRevision, st.CurrentRevision)
		return p
	}
	p.Done, p.Message = true, "rolled out"
	return p
}

// DaemonSetProgress judges a DaemonSet's rollout. An OnDelete DaemonSet
// is done once its pods are available.
func DaemonSetProgress(d *appsv1.DaemonSet) Progress {
	st := d.Status
	p := Progress{Desired: st.DesiredNumberScheduled, Current: st.CurrentNumberScheduled, Updated: st.UpdatedNumberScheduled, Ready: st.NumberReady, Available: st.NumberAvailable}
	if d.Generation > st.ObservedGeneration {
		p.Message = fmt.Sprintf("the controller has not seen the newest spec yet (generation %d, observed %d)", d.Generation, st.ObservedGeneration)
		return p
	}
	switch {
	case d.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType && st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		p.Message = fmt.Sprintf("%d of %d new pods updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)
	case st.NumberAvailable < st.DesiredNumberScheduled:
		p.Message = fmt.Sprintf("%d of %d updated pods available", st.NumberAvailable, st.DesiredNumberScheduled)
	default:
		p.Done, p.Message = true, "rolled out"
	}
	return p
}

// replicas is a spec's replica count; nil means the API default, 1.
func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}
