package health

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// CheckKube lists nodes, pods and Warning events once (no informers) and
// judges them.
func CheckKube(ctx context.Context, cfg *config.Config) []Result {
	client, err := kube.NewClient(cfg.Kubernetes, cfg.Timeouts.Check)
	if err != nil {
		return []Result{{Name: "reachable", Status: Unknown, Value: "no usable kubeconfig", Hint: err.Error(), Runbook: "kubernetes-access"}}
	}
	facts, _ := kube.FetchFacts(ctx, client, cfg.Kubernetes.Namespaces)
	return JudgeKube(facts, cfg.Thresholds)
}

// JudgeKube turns cluster facts into check results: one summary line per
// source and one line per problem, naming the node or pod.
func JudgeKube(f kube.Facts, th config.Thresholds) []Result {
	var rs []Result
	// A source that failed is reported once, with the advice Classify gave.
	for _, name := range slices.Sorted(maps.Keys(f.Errors)) {
		kind, msg := kube.Classify(f.Errors[name])
		st := Unknown
		if kind == kube.KindUnreachable {
			st = Crit
		}
		rs = append(rs, Result{Name: name, Status: st, Value: string(kind), Hint: msg, Runbook: "kubernetes-access"})
	}
	if _, failed := f.Errors[kube.SourceNodes]; !failed {
		r := Result{Name: "nodes", Status: OK, Value: fmt.Sprintf("%d/%d Ready", f.NodesReady, f.NodesTotal), Runbook: "node-not-ready"}
		summary := len(rs)
		rs = append(rs, r)
		for _, n := range f.ProblemNodes {
			st := NodeStatus(n)
			if st.Worse(rs[summary].Status) {
				rs[summary].Status = st
				rs[summary].Hint = "see the node/ lines for each node that needs attention"
			}
			rs = append(rs, Result{
				Name: "node/" + n.Name, Status: st, Value: nodeValue(n),
				Hint:    fmt.Sprintf("kubectl describe node %s; check the kubelet on it; cordon and drain if it does not recover", n.Name),
				Runbook: "node-not-ready",
			})
		}
	}
	if podsFetched(f) {
		notOK := len(f.PodsNotOK)
		summary := len(rs)
		rs = append(rs, Result{Name: "pods", Status: OK, Value: fmt.Sprintf("%d, %d not running/ready", f.PodsTotal, notOK), Runbook: "pod-problems"})
		listed := map[string]bool{}
		for _, p := range f.PodsNotOK {
			st := Warn
			if failedStatuses[p.Status] {
				st = Crit
			}
			key := p.Namespace + "/" + p.Name
			listed[key] = true
			res := Result{Name: "pod/" + key, Status: st, Value: podValue(p, f), Runbook: "pod-problems"}
			switch {
			case p.Status == "CrashLoopBackOff" || failedStatuses[p.Status]:
				res.Hint = fmt.Sprintf("kubectl logs -n %s %s --previous; kubectl describe pod -n %s %s", p.Namespace, p.Name, p.Namespace, p.Name)
				res.Runbook = "pod-crashloop"
			case p.Status == "Pending":
				res.Hint = fmt.Sprintf("kubectl describe pod -n %s %s: look at FailedScheduling events (resources, taints, PVCs)", p.Namespace, p.Name)
				res.Runbook = "pod-pending"
			default:
				res.Hint = fmt.Sprintf("kubectl describe pod -n %s %s", p.Namespace, p.Name)
			}
			if res.Status.Worse(rs[summary].Status) {
				rs[summary].Status = res.Status
				rs[summary].Hint = "see the pod/ lines for each pod that needs attention"
			}
			rs = append(rs, res)
		}
		for _, p := range f.Restarted {
			key := p.Namespace + "/" + p.Name
			if listed[key] {
				continue
			}
			st := Above(float64(p.MaxRestarts), th.PodRestarts)
			if st == OK {
				continue
			}
			rs = append(rs, Result{
				Name: "pod/" + key, Status: st, Value: fmt.Sprintf("Running, %d restarts", p.Restarts),
				Threshold: Count(th.PodRestarts) + " per container",
				Hint:      fmt.Sprintf("kubectl logs -n %s %s --previous: why does it restart?", p.Namespace, p.Name),
				Runbook:   "pod-crashloop",
			})
		}
	}
	if eventsFetched(f) {
		r := Result{Name: "warning events", Status: OK, Value: "none in the last hour", Runbook: "warning-events"}
		if f.WarningEvents > 0 {
			r.Status = Warn
			r.Value = fmt.Sprintf("%d in the last hour", f.WarningEvents)
			var reasons []string
			for _, e := range f.RecentWarnings {
				reasons = append(reasons, e.Reason+" "+e.Object)
				if len(reasons) == 3 {
					break
				}
			}
			r.Hint = "latest: " + strings.Join(reasons, "; ")
		}
		rs = append(rs, r)
	}
	return rs
}

func podsFetched(f kube.Facts) bool {
	for name := range f.Errors {
		if strings.HasPrefix(name, "pods/") {
			return false
		}
	}
	return true
}

func eventsFetched(f kube.Facts) bool {
	for name := range f.Errors {
		if strings.HasPrefix(name, "events/") {
			return false
		}
	}
	return true
}

func nodeValue(n kube.NodeRow) string {
	if n.Reason != "" {
		return n.Reason
	}
	return n.Status
}

func podValue(p kube.PodFact, f kube.Facts) string {
	v := p.Status + " " + p.Ready
	for _, r := range f.Restarted {
		if r.Namespace == p.Namespace && r.Name == p.Name {
			v += fmt.Sprintf(", %d restarts", r.Restarts)
		}
	}
	if p.Reason != "" && p.Reason != p.Status {
		v += ": " + p.Reason
	}
	return v
}
