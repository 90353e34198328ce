package rollout

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/ops/postgres"
)

func ptr[T any](v T) *T { return &v }

func TestDeploymentProgress(t *testing.T) {
	dep := func(gen, observed int64, spec int32, st appsv1.DeploymentStatus) *appsv1.Deployment {
		st.ObservedGeneration = observed
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Generation: gen}, Spec: appsv1.DeploymentSpec{Replicas: &spec}, Status: st}
	}
	deadline := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: TimedOutReason, Message: `ReplicaSet "api-2" has timed out progressing.`}
	for _, tc := range []struct {
		name         string
		d            *appsv1.Deployment
		done, failed bool
		msg          string
	}{
		{"not observed", dep(2, 1, 3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), false, false, "has not seen the newest spec"},
		{"updating", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3}), false, false, "1 of 3 new replicas updated"},
		{"old pending", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3, AvailableReplicas: 3}), false, false, "1 old replicas pending termination"},
		{"unavailable", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2}), false, false, "2 of 3 updated replicas available"},
		{"done", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}), true, false, "rolled out"},
		{"deadline", dep(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, Conditions: []appsv1.DeploymentCondition{deadline}}), false, true, "exceeded its progress deadline: ReplicaSet"},
		{"scaled to 0", dep(1, 1, 0, appsv1.DeploymentStatus{}), true, false, "rolled out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DeploymentProgress(tc.d)
			if p.Done != tc.done || p.Failed != tc.failed || !strings.Contains(p.Message, tc.msg) {
				t.Fatalf("%+v, want done %v failed %v %q", p, tc.done, tc.failed, tc.msg)
			}
		})
	}
}

func TestStatefulSetAndDaemonSetProgress(t *testing.T) {
	sts := func(observed int64, ready, updated int32, cur, upd string, partition *int32) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "pg", Generation: 1}, Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3)),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: observed, ReadyReplicas: ready, UpdatedReplicas: updated, CurrentRevision: cur, UpdateRevision: upd}}
		if partition != nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}
		}
		return s
	}
	for _, tc := range []struct {
		name string
		p    Progress
		done bool
		msg  string
	}{
		{"sts not observed", StatefulSetProgress(sts(0, 3, 3, "a", "a", nil)), false, "not seen"},
		{"sts not ready", StatefulSetProgress(sts(1, 2, 3, "a", "a", nil)), false, "2 of 3 pods ready"},
		{"sts revisions differ", StatefulSetProgress(sts(1, 3, 1, "a", "b", nil)), false, "1 pods at revision b"},
		{"sts done", StatefulSetProgress(sts(1, 3, 3, "b", "b", nil)), true, "rolled out"},
		{"sts partition waiting", StatefulSetProgress(sts(1, 3, 0, "a", "b", ptr(int32(2)))), false, "0 of 1 pods above the partition"},
		{"sts partition done", StatefulSetProgress(sts(1, 3, 1, "a", "b", ptr(int32(2)))), true, "rolled out"},
		{"ds updating", DaemonSetProgress(&appsv1.DaemonSet{Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 4, UpdatedNumberScheduled: 2, NumberAvailable: 4}}), false, "2 of 4 new pods updated"},
		{"ds unavailable", DaemonSetProgress(&appsv1.DaemonSet{Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 4, UpdatedNumberScheduled: 4, NumberAvailable: 3}}), false, "3 of 4 updated pods available"},
		{"ds done", DaemonSetProgress(&appsv1.DaemonSet{Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 4, UpdatedNumberScheduled: 4, NumberAvailable: 4}}), true, "rolled out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.p.Done != tc.done || !strings.Contains(tc.p.Message, tc.msg) {
				t.Fatalf("%+v, want done %v %q", tc.p, tc.done, tc.msg)
			}
		})
	}
}

func TestJudgeRollout(t *testing.T) {
	w := func(p Progress) Workload {
		return Workload{Ref: Ref{Deployment, "shop", "api"}, Progress: p}
	}
	for _, tc := range []struct {
		name     string
		p        Progress
		timedOut bool
		want     health.Status
		value    string
	}{
		{"done", Progress{Done: true, Message: "rolled out", Desired: 3, Updated: 3, Ready: 3, Available: 3}, false, health.OK, "rolled out: 3/3 updated, 3 ready, 3 available"},
		{"going", Progress{Message: "1 of 3 new replicas updated", Desired: 3, Updated: 1}, false, health.Warn, "in progress: 1 of 3"},
		{"ran out", Progress{Message: "1 of 3 new replicas updated", Desired: 3, Updated: 1}, true, health.Crit, "did not finish"},
		{"failed", Progress{Failed: true, Message: "exceeded its progress deadline"}, false, health.Crit, "exceeded its progress deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := JudgeRollout(w(tc.p), tc.timedOut)
			if r.Status != tc.want || !strings.Contains(r.Value, tc.value) {
				t.Fatalf("%s %q, want %s %q", r.Status, r.Value, tc.want, tc.value)
			}
			if r.Status != health.OK && r.Hint == "" {
				t.Error("no hint")
			}
		})
	}
}

func TestImages(t *testing.T) {
	for _, tc := range []struct {
		ref    string
		want   Image
		pinned bool
	}{
		{"stockapp/api:2.14.1", Image{Repository: "stockapp/api", Tag: "2.14.1"}, true},
		{"registry:5000/api", Image{Repository: "registry:5000/api"}, false},
		{"registry:5000/api:latest", Image{Repository: "registry:5000/api", Tag: "latest"}, false},
		{"api@sha256:abc", Image{Repository: "api", Digest: "sha256:abc"}, true},
		{"api:latest@sha256:abc", Image{Repository: "api", Tag: "latest", Digest: "sha256:abc"}, true},
	} {
		im := ParseImage(tc.ref)
		if im != tc.want {
			t.Errorf("ParseImage(%q) = %+v, want %+v", tc.ref, im, tc.want)
		}
		if ok, _ := im.Pinned(); ok != tc.pinned {
			t.Errorf("%q pinned %v, want %v", tc.ref, ok, tc.pinned)
		}
	}
	spec := func(image string) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: image}}}
	}
	pod := func(name, image, imageID string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec(image),
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "api", Image: image, ImageID: imageID}}}}
	}
	for _, tc := range []struct {
		name  string
		tmpl  string
		pods  []*corev1.Pod
		want  health.Status
		value string
	}{
		{"pinned, one build", "api:1.2", []*corev1.Pod{pod("a", "api:1.2", "docker-pullable://api@sha256:111"), pod("b", "api:1.2", "sha256:111")}, health.OK, "api:1.2"},
		{"latest", "api:latest", []*corev1.Pod{pod("a", "api:latest", "sha256:111")}, health.Warn, "api :latest"},
		{"untagged", "api", nil, health.Warn, "untagged"},
		{"two builds of a tag", "api:1.2", []*corev1.Pod{pod("a", "api:1.2", "sha256:111"), pod("b", "api:1.2", "sha256:222")}, health.Crit, "2 builds"},
		{"old pod ignored", "api:1.2", []*corev1.Pod{pod("a", "api:1.2", "sha256:111"), pod("old", "api:1.1", "sha256:000")}, health.OK, "api:1.2"},
		{"not the pinned digest", "api@sha256:111", []*corev1.Pod{pod("a", "api@sha256:111", "sha256:999")}, health.Crit, "not the pinned digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := JudgeImages(spec(tc.tmpl), tc.pods)
			if r.Status != tc.want || !strings.Contains(r.Value, tc.value) {
				t.Fatalf("%s %q, want %s %q", r.Status, r.Value, tc.want, tc.value)
			}
		})
	}
}

func TestJudgePods(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	rollout := now.Add(-time.Hour)
	pod := func(name string, created time.Time, ready bool, restarts int32, lastEnd time.Time, waiting string) *corev1.Pod {
		cs := corev1.ContainerStatus{Name: "api", Ready: ready, RestartCount: restarts, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
		if !lastEnd.IsZero() {
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(lastEnd)}
		}
		if waiting != "" {
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting}}
		}
		st := corev1.ConditionTrue
		if !ready {
			st = corev1.ConditionFalse
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}},
				ContainerStatuses: []corev1.ContainerStatus{cs}}}
	}
	after, before := now.Add(-30*time.Minute), now.Add(-48*time.Hour)
	for _, tc := range []struct {
		name  string
		pods  []*corev1.Pod
		want  health.Status
		value string
	}{
		{"healthy", []*corev1.Pod{pod("a", after, true, 0, time.Time{}, ""), pod("b", after, true, 0, time.Time{}, "")}, health.OK, "2/2 ready; no restarts since"},
		{"old restarts do not count", []*corev1.Pod{pod("a", before, true, 5, before.Add(time.Hour), "")}, health.OK, "1/1 ready"},
		{"restart since", []*corev1.Pod{pod("a", before, true, 5, after, "")}, health.Warn, "1 restarts since the rollout"},
		{"new pod restarted", []*corev1.Pod{pod("a", after, true, 2, after.Add(time.Minute), "")}, health.Warn, "a ×2"},
		{"not ready", []*corev1.Pod{pod("a", after, false, 0, time.Time{}, "")}, health.Warn, "0/1 ready; a Running 0/1"},
		{"crash loop", []*corev1.Pod{pod("a", after, false, 4, after, "CrashLoopBackOff")}, health.Crit, "a CrashLoopBackOff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := Workload{Ref: Ref{Deployment, "shop", "api"}, Progress: Progress{Done: true, Desired: int32(len(tc.pods))}, Pods: tc.pods}
			r := JudgePods(w, rollout, now, config.DefaultThresholds())
			if r.Status != tc.want || !strings.Contains(r.Value, tc.value) {
				t.Fatalf("%s %q, want %s %q", r.Status, r.Value, tc.want, tc.value)
			}
		})
	}
}

func TestServices(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "api"}}}
	other := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "db"}}}
	w := Workload{Ref: Ref{Deployment, "shop", "api"}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api", "tier": "web"}}}}
	if got := Selecting(w, []*corev1.Service{svc, other}); len(got) != 1 || got[0] != svc {
		t.Fatalf("Selecting: %v", got)
	}
	slice := func(name string, ready ...*bool) *discoveryv1.EndpointSlice {
		s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "api"}}}
		for i, r := range ready {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0." + string(rune('1'+i))},
				TargetRef: &corev1.ObjectReference{Name: "api-" + string(rune('a'+i))}, Conditions: discoveryv1.EndpointConditions{Ready: r}})
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		objs    kube.Workloads
		desired int32
		want    health.Status
		value   string
	}{
		{"all ready, dual stack counted once", kube.Workloads{EndpointSlices: []*discoveryv1.EndpointSlice{slice("v4", ptr(true), nil), slice("v6", ptr(true), nil)}}, 2, health.OK, "2 ready endpoints"},
		{"short", kube.Workloads{EndpointSlices: []*discoveryv1.EndpointSlice{slice("v4", ptr(true), ptr(false))}}, 2, health.Warn, "1 ready endpoints, 1 not ready of 2 desired"},
		{"none ready", kube.Workloads{EndpointSlices: []*discoveryv1.EndpointSlice{slice("v4", ptr(false), ptr(false))}}, 2, health.Crit, "no ready endpoints (2 not ready)"},
		//lint:ignore SA1019 the deprecated Endpoints are the fallback under test
		{"no slice, Endpoints", kube.Workloads{Endpoints: []*corev1.Endpoints{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"}, Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}}}}}}}, 1, health.OK, "1 ready endpoints"},
		{"nothing", kube.Workloads{}, 2, health.Crit, "no endpoints"},
		{"scaled to 0", kube.Workloads{}, 0, health.OK, "scaled to 0"},
		{"unreadable", kube.Workloads{Errors: map[string]error{"endpointslices/shop": errors.New("forbidden")}}, 2, health.Unknown, "not readable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := JudgeService(svc, CountEndpoints(svc, tc.objs), tc.desired)
			if r.Status != tc.want || !strings.Contains(r.Value, tc.value) || r.Name != "service/api" {
				t.Fatalf("%s %s %q, want %s %q", r.Name, r.Status, r.Value, tc.want, tc.value)
			}
		})
	}
}

func TestJudgeSmoke(t *testing.T) {
	h := config.HTTPCheck{Name: "api", URL: "https://u:pw@api.example.com/healthz", ExpectStatus: 200, MaxLatency: 100 * time.Millisecond, Requests: 20}
	samples := func(n int, status int, lat time.Duration) []Sample {
		out := make([]Sample, n)
		for i := range out {
			out[i] = Sample{Status: status, Latency: lat}
		}
		return out
	}
	slowTail := append(samples(18, 200, 10*time.Millisecond), samples(2, 200, 500*time.Millisecond)...)
	oneSlow := append(samples(19, 200, 10*time.Millisecond), samples(1, 200, 500*time.Millisecond)...)
	for _, tc := range []struct {
		name  string
		s     []Sample
		want  health.Status
		value string
	}{
		{"good", samples(20, 200, 20*time.Millisecond), health.OK, "20×200, p95 20ms"},
		{"one slow of 20 is under p95", oneSlow, health.OK, "p95 10ms"},
		{"slow tail", slowTail, health.Warn, "p95 500ms"},
		{"500s", append(samples(15, 500, time.Millisecond), samples(5, 200, time.Millisecond)...), health.Crit, "500 ×15 of 20"},
		{"refused", append(samples(19, 200, time.Millisecond), Sample{Err: errors.New(`Get "https://u:pw@api.example.com/healthz": dial tcp: connection refused`)}), health.Crit, "connection refused ×1 of 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := JudgeSmoke(h, tc.s)
			if r.Status != tc.want || !strings.Contains(r.Value, tc.value) {
				t.Fatalf("%s %q, want %s %q", r.Status, r.Value, tc.want, tc.value)
			}
			if strings.Contains(r.Value+r.Hint, ":pw@") {
				t.Fatalf("the URL's password is shown: %q %q", r.Value, r.Hint)
			}
		})
	}
	if got := P95(nil); got != 0 {
		t.Errorf("P95 of nothing: %v", got)
	}
}

func TestJudgeMigrations(t *testing.T) {
	m := config.MigrationsCheck{Table: "schema_migrations", Column: "version", Expected: "20261201"}
	for _, tc := range []struct {
		name  string
		got   postgres.Migrations
		want  health.Status
		value string
	}{
		{"at it", postgres.Migrations{Exists: true, Versions: []string{"20261101", "20261201"}}, health.OK, "stocks.schema_migrations at 20261201"},
		{"behind", postgres.Migrations{Exists: true, Versions: []string{"20261101"}}, health.Crit, "at 20261101, 20261201 not applied"},
		{"ahead", postgres.Migrations{Exists: true, Versions: []string{"20261201", "20270101"}}, health.Warn, "newer than 20261201"},
		{"skipped", postgres.Migrations{Exists: true, Versions: []string{"20261101", "20270101"}}, health.Crit, "not applied"},
		{"dirty", postgres.Migrations{Exists: true, Versions: []string{"20261201"}, Dirty: true}, health.Crit, "dirty"},
		{"absent", postgres.Migrations{}, health.Crit, "table stocks.schema_migrations does not exist"},
		{"empty", postgres.Migrations{Exists: true}, health.Crit, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := JudgeMigrations(health.Result{}, tc.got, m, "stocks")
			if r.Status != tc.want || !strings.Contains(r.Value, tc.value) {
				t.Fatalf("%s %q, want %s %q", r.Status, r.Value, tc.want, tc.value)
			}
		})
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{{"9", "10", -1}, {"010", "9", 1}, {"1.10", "1.9", -1}, {"abc", "abc", 0}} {
		if got := CompareVersions(tc.a, tc.b); (got > 0) != (tc.want > 0) || (got < 0) != (tc.want < 0) {
			t.Errorf("CompareVersions(%q, %q) = %d, want sign of %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSelect(t *testing.T) {
	all := []Workload{
		{Ref: Ref{Deployment, "shop", "api"}}, {Ref: Ref{Deployment, "shop", "web"}},
		{Ref: Ref{StatefulSet, "shop", "api"}}, {Ref: Ref{DaemonSet, "shop", "agent"}},
	}
	names := func(ws []Workload) string {
		var s []string
		for _, w := range ws {
			s = append(s, w.String())
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		args []string
		want string
		err  string
	}{
		{nil, "deploy/api deploy/web statefulset/api daemonset/agent", ""},
		{[]string{"deployment/api"}, "deploy/api", ""},
		{[]string{"api"}, "deploy/api statefulset/api", ""},
		{[]string{"ds/agent", "web"}, "deploy/web daemonset/agent", ""},
		{[]string{"deploy/nope"}, "", `no workload "deploy/nope" in namespace "shop": there are deploy/api, deploy/web, statefulset/api, daemonset/agent`},
		{[]string{"pod/api"}, "", `"pod/api" is not deploy/NAME`},
	} {
		got, err := Select(all, tc.args)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !IsUsage(err) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.err)
			}
		case err != nil || names(got) != tc.want:
			t.Errorf("%v: %q, %v; want %q", tc.args, names(got), err, tc.want)
		}
	}
}

func TestWorkloadsAssembly(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ctl := func(kind, name, uid string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: name, UID: types.UID(uid), Controller: ptr(true)}}
	}
	meta := func(name, uid string, at time.Time, owner []metav1.OwnerReference, lbls map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID(uid), CreationTimestamp: metav1.NewTime(at), OwnerReferences: owner, Labels: lbls}
	}
	pod := func(name string, owner []metav1.OwnerReference, lbls map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: meta(name, "p-"+name, t0, owner, lbls)}
	}
	rsOld := &appsv1.ReplicaSet{ObjectMeta: meta("api-1", "rs1", t0.Add(time.Hour), ctl("Deployment", "api", "d1"), nil)}
	rsOld.Annotations = map[string]string{"deployment.kubernetes.io/revision": "1"}
	rsNew := &appsv1.ReplicaSet{ObjectMeta: meta("api-2", "rs2", t0, ctl("Deployment", "api", "d1"), nil)}
	rsNew.Annotations = map[string]string{"deployment.kubernetes.io/revision": "2"}
	objs := kube.Workloads{
		Deployments:  []*appsv1.Deployment{{ObjectMeta: meta("api", "d1", t0, nil, nil)}},
		ReplicaSets:  []*appsv1.ReplicaSet{rsOld, rsNew},
		StatefulSets: []*appsv1.StatefulSet{{ObjectMeta: meta("pg", "s1", t0, nil, nil), Status: appsv1.StatefulSetStatus{UpdateRevision: "pg-b"}}},
		DaemonSets:   []*appsv1.DaemonSet{{ObjectMeta: meta("agent", "ds1", t0, nil, nil)}},
		Revisions: []*appsv1.ControllerRevision{
			{ObjectMeta: meta("pg-b", "cr1", t0.Add(2*time.Hour), ctl("StatefulSet", "pg", "s1"), nil), Revision: 2},
			{ObjectMeta: meta("agent-x", "cr2", t0.Add(3*time.Hour), ctl("DaemonSet", "agent", "ds1"), map[string]string{appsv1.ControllerRevisionHashLabelKey: "x"}), Revision: 1},
			{ObjectMeta: meta("agent-y", "cr3", t0.Add(4*time.Hour), ctl("DaemonSet", "agent", "ds1"), map[string]string{appsv1.ControllerRevisionHashLabelKey: "y"}), Revision: 2},
		},
		Pods: []*corev1.Pod{
			pod("api-1-a", ctl("ReplicaSet", "api-1", "rs1"), nil),
			pod("api-2-a", ctl("ReplicaSet", "api-2", "rs2"), nil),
			pod("pg-0", ctl("StatefulSet", "pg", "s1"), map[string]string{appsv1.ControllerRevisionHashLabelKey: "pg-b"}),
			pod("pg-1", ctl("StatefulSet", "pg", "s1"), map[string]string{appsv1.ControllerRevisionHashLabelKey: "pg-a"}),
			pod("agent-1", ctl("DaemonSet", "agent", "ds1"), map[string]string{appsv1.ControllerRevisionHashLabelKey: "y"}),
			pod("agent-2", ctl("DaemonSet", "agent", "ds1"), map[string]string{appsv1.ControllerRevisionHashLabelKey: "x"}),
			pod("stray", nil, nil),
		},
	}
	names := func(ps []*corev1.Pod) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.Name)
		}
		return strings.Join(s, ",")
	}
	var got []string
	for _, w := range Workloads(objs) {
		got = append(got, fmt.Sprintf("%s new=%s old=%s since=+%s", w, names(w.Pods), names(w.Old), w.Started.Sub(t0)))
	}
	want := []string{
		// The newer revision wins over the later creation.
		"deploy/api new=api-2-a old=api-1-a since=+0s",
		"statefulset/pg new=pg-0 old=pg-1 since=+2h0m0s",
		"daemonset/agent new=agent-1 old=agent-2 since=+4h0m0s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
