// Package rollout validates a deployment: whether every workload's rollout
// is done and healthy — Deployments, StatefulSets and DaemonSets rolled
// out as `kubectl rollout status` judges them, images pinned and one build
// across the pods, pods ready and not restarting since the rollout,
// Services with ready endpoints — and whether the application answers:
// HTTP smoke checks with their p95 latency and the migrations table at the
// expected version. Results are ops/health's lines with Nagios statuses.
// Wait follows rollouts until they finish or fail. No CLI or TUI here.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// KubeTarget is the Target of the lines about reading the cluster.
const KubeTarget = "kubernetes"

// Request is what Check validates.
type Request struct {
	// Names are the workloads (ParseName's forms); none: every workload
	// of the namespaces.
	Names []string
	// Namespaces are read (the client's when empty).
	Namespaces []string
	// TimedOut says a wait for the rollouts ran out: one still going is
	// critical.
	TimedOut bool
}

// Report is the outcome of a deployment's validation.
type Report struct {
	Namespaces []string `json:"namespaces"`
	// Workloads are the workloads judged, with their rollout's progress.
	Workloads []WorkloadState `json:"workloads"`
	// Results are the lines, as `opsdeck check`'s.
	Results []health.Result `json:"results"`
	Status  health.Status   `json:"status"`
	// Waited is how long Wait followed the rollouts (0: no wait).
	Waited time.Duration `json:"-"`
	Took   time.Duration `json:"-"`
}

// WorkloadState is one workload in the report.
type WorkloadState struct {
	Ref
	Progress
	Images []string `json:"images"`
	// RolloutStart is when the newest rollout began.
	RolloutStart time.Time `json:"rollout_start"`
	Pods         int       `json:"pods"`
}

// Check validates the deployment: the cluster's view of every selected
// workload first (an unknown NAME ends it there), then cfg.Checks' smoke
// checks and migrations concurrently, each network call bounded by
// cfg.Timeouts. The context must carry an
// identity (access.ErrNoIdentity otherwise); it changes nothing. A NAME
// that names no workload is an error wrapping ErrUnknownWorkload; a
// cluster that cannot be read is a line of the report.
func Check(ctx context.Context, client *kube.Client, cfg *config.Config, req Request) (Report, error) {
	if _, ok := access.FromContext(ctx); !ok {
		return Report{}, fmt.Errorf("deploy check refused: the request carries no identity: %w", access.ErrNoIdentity)
	}
	start := time.Now()
	namespaces := req.Namespaces
	if len(namespaces) == 0 {
		namespaces = client.Namespaces()
	}
	kctx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Check)
	objs, _ := kube.FetchWorkloads(kctx, client, namespaces, false)
	cancel()
	kubeRs, states, err := judgeCluster(objs, req, len(namespaces) != 1 || namespaces[0] == "", cfg.Thresholds, time.Now())
	if err != nil {
		return Report{}, err
	}
	took(kubeRs, start)
	var (
		wg    sync.WaitGroup
		smoke = make([]health.Result, len(cfg.Checks.HTTP))
		migr  []health.Result
	)
	for i, h := range cfg.Checks.HTTP {
		wg.Go(func() {
			t0 := time.Now()
			h = h.WithDefaults(cfg.Thresholds)
			smoke[i] = JudgeSmoke(h, Smoke(ctx, h, cfg.Timeouts.Check))
			smoke[i].Took = time.Since(t0)
		})
	}
	if cfg.Checks.Migrations.Configured() {
		wg.Go(func() {
			t0 := time.Now()
			migr = []health.Result{CheckMigrations(ctx, cfg.Postgres, cfg.Checks.Migrations, cfg.Timeouts.Connect, cfg.Timeouts.Check, cfg.Secrets())}
			took(migr, t0)
		})
	}
	wg.Wait()
	rep := Report{Namespaces: namespaces, Workloads: states}
	rep.Results = slices.Concat(kubeRs, smoke, migr)
	rep.Status = health.Worst(rep.Results)
	rep.Took = time.Since(start)
	return rep, nil
}

// judgeCluster turns the listed objects into lines: the lists that
// failed, then per selected workload its rollout, images, pods and
// Services. qualified prefixes targets with their namespace.
func judgeCluster(objs kube.Workloads, req Request, qualified bool, th config.Thresholds, now time.Time) ([]health.Result, []WorkloadState, error) {
	var rs []health.Result
	controllersFailed := false
	// Lists that failed alike (an unreachable server fails them all) are
	// one line, named by the first with the count of the others.
	same := map[string]int{}
	others := map[int]int{}
	for _, src := range slices.Sorted(maps.Keys(objs.Errors)) {
		res, _, _ := strings.Cut(src, "/")
		if res == kube.ResourceDeployments || res == kube.ResourceStatefulSets || res == kube.ResourceDaemonSets {
			controllersFailed = true
		}
		r := listError(src, objs.Errors[src])
		if i, ok := same[r.Hint]; ok {
			others[i]++
			continue
		}
		same[r.Hint] = len(rs)
		rs = append(rs, r)
	}
	for i, n := range others {
		rs[i].Name += fmt.Sprintf(" +%d", n)
	}
	all := Workloads(objs)
	picked, err := Select(all, req.Names)
	if err != nil {
		if controllersFailed {
			// The name may be one we could not list: the lines say why.
			return rs, nil, nil
		}
		return nil, nil, err
	}
	var states []WorkloadState
	for _, w := range picked {
		target := w.String()
		if qualified {
			target = w.Namespace + "/" + target
		}
		add := func(r health.Result) {
			r.Target = target
			rs = append(rs, r)
		}
		add(JudgeRollout(w, req.TimedOut))
		add(JudgeImages(w.Template.Spec, w.Pods))
		add(JudgePods(w, w.Started, now, th))
		for _, svc := range Selecting(w, objs.Services) {
			add(JudgeService(svc, CountEndpoints(svc, objs), w.Progress.Desired))
		}
		st := WorkloadState{Ref: w.Ref, Progress: w.Progress, RolloutStart: w.Started, Pods: len(w.Pods) + len(w.Old)}
		for _, c := range containers(w.Template.Spec) {
			st.Images = append(st.Images, c.Image)
		}
		states = append(states, st)
	}
	if len(picked) == 0 && !controllersFailed {
		rs = append(rs, health.Result{Target: KubeTarget, Name: "workloads", Status: health.Unknown,
			Value: "no Deployment, StatefulSet or DaemonSet", Hint: "check -n or kubernetes.namespaces", Runbook: "validating-a-deploy"})
	}
	return rs, states, nil
}

// took stamps results with the time since start.
func took(rs []health.Result, start time.Time) {
	d := time.Since(start)
	for i := range rs {
		rs[i].Took = d
	}
}

// rbacAdvice is the permission set the deploy check needs.
const rbacAdvice = "ask for RBAC list on deployments, statefulsets, daemonsets, replicasets, controllerrevisions (apps), pods, services and endpointslices (discovery.k8s.io)"

// listError is the line of a list that failed: unknown (we cannot judge),
// critical when the API server is unreachable.
func listError(source string, err error) health.Result {
	kind, msg := kube.Classify(err)
	r := health.Result{Target: KubeTarget, Name: source, Status: health.Unknown, Value: string(kind), Hint: msg, Runbook: "kubernetes-access"}
	switch kind {
	case kube.KindUnreachable:
		r.Status = health.Crit
	case kube.KindForbidden:
		if before, _, ok := strings.Cut(msg, " — "); ok {
			msg = before
		}
		r.Hint = msg + " — " + rbacAdvice
	}
	return r
}

// IsUsage reports whether err is the command line's fault (an unknown
// workload).
func IsUsage(err error) bool { return errors.Is(err, ErrUnknownWorkload) }
