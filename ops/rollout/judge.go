package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// maxNamedPods bounds the pods a line names.
const maxNamedPods = 3

// JudgeRollout judges where a workload's rollout stands: done is OK, a
// failed one (its progress deadline passed) critical; one still going is
// a warning, or critical once a wait for it ran out (timedOut).
func JudgeRollout(w Workload, timedOut bool) health.Result {
	p := w.Progress
	r := health.Result{Name: "rollout", Status: health.OK, Runbook: "validating-a-deploy",
		Value: fmt.Sprintf("%s: %d/%d updated, %d ready, %d available", p.Message, p.Updated, p.Desired, p.Ready, p.Available)}
	how := fmt.Sprintf("kubectl -n %s rollout status %s", w.Namespace, w)
	switch {
	case p.Failed:
		r.Status = health.Crit
		r.Value = fmt.Sprintf("failed: %s", p.Message)
		r.Hint = fmt.Sprintf("the new pods do not become available: opsdeck logs %s; roll back with kubectl -n %s rollout undo %s", w, w.Namespace, w)
		r.Runbook = "failed-deploy"
	case !p.Done && timedOut:
		r.Status = health.Crit
		r.Value = fmt.Sprintf("did not finish: %s, %d available", p.Message, p.Available)
		r.Hint = "look at the new pods' events and logs (opsdeck logs " + w.String() + "); " + how
		r.Runbook = "failed-deploy"
	case !p.Done:
		r.Status = health.Warn
		r.Value = fmt.Sprintf("in progress: %s, %d available", p.Message, p.Available)
		r.Hint = "wait for it: opsdeck check deploy --wait " + w.String()
	case p.Desired == 0:
		r.Value = "scaled to 0"
	}
	return r
}

// JudgePods judges the pods of the newest revision: a container that
// cannot run is critical, a pod not ready a warning (thresholds as the
// morning check's PodStatus, restarts aside), and so is any restart since
// the rollout began (since); pods of older revisions still there are named.
func JudgePods(w Workload, since, now time.Time, th config.Thresholds) health.Result {
	r := health.Result{Name: "pods", Status: health.OK, Runbook: "validating-a-deploy"}
	var bad, restarted []string
	ready, restarts := 0, 0
	first := "" // the first pod named, for the hint
	for _, p := range w.Pods {
		row := kube.NewPodRow(p, now)
		if row.ReadyOK && row.Status == "Running" {
			ready++
		}
		// Restarts are judged against the rollout below, not all-time.
		row.MaxRestarts = 0
		if st := health.PodStatus(row, th); st != health.OK {
			r.Status = worse(r.Status, st)
			if len(bad) < maxNamedPods {
				bad = append(bad, fmt.Sprintf("%s %s %s", p.Name, row.Status, row.Ready))
			}
			if first == "" {
				first = p.Name
			}
		}
		if n := restartsSince(p, since); n > 0 {
			restarts += n
			r.Status = worse(r.Status, health.Warn)
			if len(restarted) < maxNamedPods {
				restarted = append(restarted, fmt.Sprintf("%s ×%d", p.Name, n))
			}
			if first == "" {
				first = p.Name
			}
		}
	}
	parts := []string{fmt.Sprintf("%d/%d ready", ready, len(w.Pods))}
	if len(bad) > 0 {
		parts = append(parts, strings.Join(bad, ", "))
	}
	if restarts > 0 {
		parts = append(parts, fmt.Sprintf("%d restarts since the rollout at %s: %s", restarts, since.Local().Format("15:04"), strings.Join(restarted, ", ")))
	} else if !since.IsZero() {
		parts = append(parts, "no restarts since "+since.Local().Format("Jan 2 15:04"))
	}
	if len(w.Old) > 0 {
		parts = append(parts, fmt.Sprintf("%d of an older revision", len(w.Old)))
	}
	r.Value = strings.Join(parts, "; ")
	if r.Status != health.OK {
		r.Hint = fmt.Sprintf("kubectl -n %s describe pod %s; opsdeck logs %s --previous", w.Namespace, first, first)
		if r.Status == health.Crit {
			r.Runbook = "pod-crashloop"
		}
	}
	if w.Progress.Desired == 0 && len(w.Pods) == 0 {
		r.Value = "none (scaled to 0)"
	}
	return r
}

// restartsSince counts a pod's container restarts after since: all of
// them for a pod created since then, else one for a container whose last
// termination ended since then.
func restartsSince(p *corev1.Pod, since time.Time) int {
	n := 0
	for _, c := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
		if c.RestartCount == 0 {
			continue
		}
		switch t := c.LastTerminationState.Terminated; {
		case !p.CreationTimestamp.Time.Before(since):
			n += int(c.RestartCount)
		case t != nil && !t.FinishedAt.Time.Before(since):
			n++
		}
	}
	return n
}

// Endpoints counts a Service's endpoints by readiness.
type Endpoints struct {
	Ready, NotReady int
	// Known is false when neither EndpointSlices nor Endpoints could be read.
	Known bool
}

// CountEndpoints counts the endpoints of Service svc: from its
// EndpointSlices (an endpoint whose ready condition is unset is ready, as
// the API says), else from its Endpoints. Endpoints listed in several
// slices (one per address family) count once.
func CountEndpoints(svc *corev1.Service, objs kube.Workloads) Endpoints {
	e := Endpoints{Known: objs.Errors[kube.WorkloadSource(kube.ResourceEndpointSlices, svc.Namespace)] == nil}
	seen := map[string]bool{}
	sliced := false
	for _, s := range objs.EndpointSlices {
		if s.Namespace != svc.Namespace || s.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		sliced = true
		for _, ep := range s.Endpoints {
			key := ""
			switch {
			case ep.TargetRef != nil:
				key = ep.TargetRef.Name
			case len(ep.Addresses) > 0:
				key = ep.Addresses[0]
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				e.Ready++
			} else {
				e.NotReady++
			}
		}
	}
	if sliced {
		e.Known = true
		return e
	}
	for _, ep := range objs.Endpoints {
		if ep.Namespace != svc.Namespace || ep.Name != svc.Name {
			continue
		}
		e.Known = true
		for _, ss := range ep.Subsets {
			e.Ready += len(ss.Addresses)
			e.NotReady += len(ss.NotReadyAddresses)
		}
	}
	return e
}

// Selecting returns the Services of w's namespace whose selector picks
// w's pods.
func Selecting(w Workload, services []*corev1.Service) []*corev1.Service {
	var out []*corev1.Service
	for _, s := range services {
		if s.Namespace != w.Namespace || len(s.Spec.Selector) == 0 {
			continue
		}
		if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.Template.Labels)) {
			out = append(out, s)
		}
	}
	return out
}

// JudgeService judges a Service of a workload that should have desired
// pods: no ready endpoint is critical, fewer than desired a warning.
func JudgeService(svc *corev1.Service, e Endpoints, desired int32) health.Result {
	r := health.Result{Name: "service/" + svc.Name, Status: health.OK, Runbook: "validating-a-deploy",
		Value: fmt.Sprintf("%d ready endpoints", e.Ready)}
	if e.NotReady > 0 {
		r.Value += fmt.Sprintf(", %d not ready", e.NotReady)
	}
	switch {
	case !e.Known:
		r.Status, r.Value = health.Unknown, "endpoints not readable"
		r.Hint = "ask for RBAC list on endpointslices (discovery.k8s.io) or endpoints"
	case desired == 0:
		r.Value += " (workload scaled to 0)"
	case e.Ready == 0:
		r.Status = health.Crit
		if e.NotReady == 0 {
			r.Value = "no endpoints"
		} else {
			r.Value = fmt.Sprintf("no ready endpoints (%d not ready)", e.NotReady)
		}
		r.Hint = fmt.Sprintf("the Service sends traffic nowhere: its pods are not ready, or its selector or ports do not match them (kubectl -n %s describe service %s)", svc.Namespace, svc.Name)
	case int32(e.Ready) < desired:
		r.Status = health.Warn
		r.Value += fmt.Sprintf(" of %d desired", desired)
		r.Hint = "some pods are not ready: see the pods line"
	}
	return r
}

// worse returns the more severe of two statuses.
func worse(a, b health.Status) health.Status {
	if b.Worse(a) {
		return b
	}
	return a
}
