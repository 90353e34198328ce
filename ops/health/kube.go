package health

import (
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// failedStatuses are pod statuses that mean a container cannot run at all;
// anything else that is a problem (Pending, ContainerCreating, not ready) is
// a warning until it lasts.
var failedStatuses = map[string]bool{
	"CrashLoopBackOff": true, "Error": true, "OOMKilled": true, "ImagePullBackOff": true,
	"ErrImagePull": true, "InvalidImageName": true, "CreateContainerConfigError": true,
	"CreateContainerError": true, "RunContainerError": true, "Failed": true, "Unknown": true,
	"Evicted": true, "ContainerStatusUnknown": true,
}

// PodStatus judges one pod: critical when a container cannot run or restarts
// past the critical level, a warning when it is not ready, pending or
// restarting past the warning level.
func PodStatus(p kube.PodRow, th config.Thresholds) Status {
	switch {
	case failedStatuses[p.Status]:
		return Crit
	case float64(p.MaxRestarts) >= th.PodRestarts.Crit:
		return Crit
	case p.Problem:
		return Warn
	case float64(p.MaxRestarts) >= th.PodRestarts.Warn:
		return Warn
	}
	return OK
}

// NodeStatus judges one node: critical when not Ready, a warning when it has
// a pressure condition or is cordoned.
func NodeStatus(n kube.NodeRow) Status {
	switch {
	case !n.Ready:
		return Crit
	case n.Problem:
		return Warn
	}
	return OK
}
