package kube

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var testNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

func running(name string, ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}}
}

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name, reason string, code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: code, FinishedAt: ago(time.Minute)}}}
}

// testPod builds a pod with one container per status (or one "app" container).
func testPod(phase corev1.PodPhase, statuses ...corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", CreationTimestamp: ago(5*24*time.Hour + 3*time.Hour)},
		Spec:       corev1.PodSpec{NodeName: "node-01"},
		Status:     corev1.PodStatus{Phase: phase, ContainerStatuses: statuses},
	}
	for _, s := range statuses {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: s.Name, Image: "img"})
	}
	if len(statuses) == 0 {
		p.Spec.Containers = []corev1.Container{{Name: "app", Image: "img"}}
	}
	return p
}

func withCond(p *corev1.Pod, t corev1.PodConditionType, s corev1.ConditionStatus, reason, msg string) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg})
	return p
}

func TestNewPodRow(t *testing.T) {
	crash := waiting("app", "CrashLoopBackOff")
	crash.RestartCount = 14
	crash.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(2 * time.Minute)}

	terminating := withCond(testPod(corev1.PodRunning, running("app", true, 0)), corev1.PodReady, corev1.ConditionTrue, "", "")
	dt := ago(-10 * time.Second) // grace period still running
	terminating.DeletionTimestamp = &dt
	stuck := withCond(testPod(corev1.PodRunning, running("app", true, 0)), corev1.PodReady, corev1.ConditionTrue, "", "")
	st := ago(10 * time.Minute)
	stuck.DeletionTimestamp = &st

	initPod := testPod(corev1.PodPending, waiting("app", "PodInitializing"))
	initPod.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "img"}}
	initPod.Status.InitContainerStatuses = []corev1.ContainerStatus{running("migrate", false, 0)}

	initCrash := testPod(corev1.PodPending, waiting("app", "PodInitializing"))
	initCrash.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "img"}}
	initCrash.Status.InitContainerStatuses = []corev1.ContainerStatus{waiting("migrate", "CrashLoopBackOff")}

	always := corev1.ContainerRestartPolicyAlways
	sidecar := withCond(testPod(corev1.PodRunning, running("app", true, 1)), corev1.PodReady, corev1.ConditionTrue, "", "")
	sidecar.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "img", RestartPolicy: &always}}
	sc := running("proxy", true, 2)
	sc.Started = new(bool)
	*sc.Started = true
	sidecar.Status.InitContainerStatuses = []corev1.ContainerStatus{sc}

	gated := withCond(testPod(corev1.PodPending), corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonSchedulingGated, "")

	evicted := testPod(corev1.PodFailed)
	evicted.Status.Reason = "Evicted"
	evicted.Status.Message = "The node was low on resource: memory."

	tests := []struct {
		name        string
		pod         *corev1.Pod
		status      string
		ready       string
		restarts    int
		problem     bool
		reasonHas   string
		lastRestart bool
	}{
		{"running ready", withCond(testPod(corev1.PodRunning, running("app", true, 0)), corev1.PodReady, corev1.ConditionTrue, "", ""), "Running", "1/1", 0, false, "", false},
		{"running not ready", withCond(testPod(corev1.PodRunning, running("a", true, 0), running("b", false, 0)), corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", ""), "Running", "1/2", 0, true, "not ready (1/2): ContainersNotReady", false},
		{"crash loop", testPod(corev1.PodRunning, crash), "CrashLoopBackOff", "0/1", 14, true, "last exit Error, code 1", true},
		{"pending unschedulable", withCond(testPod(corev1.PodPending), corev1.PodScheduled, corev1.ConditionFalse, "Unschedulable", "0/6 nodes are available: 6 Insufficient memory."), "Pending", "0/1", 0, true, "unschedulable: 0/6 nodes", false},
		{"container creating", testPod(corev1.PodPending, waiting("app", "ContainerCreating")), "ContainerCreating", "0/1", 0, true, "containercreating", false},
		{"image pull", testPod(corev1.PodPending, waiting("app", "ImagePullBackOff")), "ImagePullBackOff", "0/1", 0, true, "imagepullbackoff", false},
		{"completed", testPod(corev1.PodSucceeded, terminated("app", "Completed", 0)), "Completed", "0/1", 0, false, "", false},
		{"error", testPod(corev1.PodFailed, terminated("app", "Error", 1)), "Error", "0/1", 0, true, "error", false},
		{"oom killed", testPod(corev1.PodRunning, terminated("app", "OOMKilled", 137)), "OOMKilled", "0/1", 0, true, "oomkilled", false},
		{"exit code without reason", testPod(corev1.PodFailed, terminated("app", "", 2)), "ExitCode:2", "0/1", 0, true, "", false},
		{"completed with a running container is NotReady", testPod(corev1.PodRunning, terminated("a", "Completed", 0), running("b", true, 0)), "NotReady", "1/2", 0, true, "notready", false},
		{"completed with an errored container", testPod(corev1.PodRunning, terminated("a", "Completed", 0), terminated("b", "Error", 3)), "Error", "0/2", 0, true, "error", false},
		{"terminating", terminating, "Terminating", "1/1", 0, false, "", false},
		{"stuck terminating", stuck, "Terminating", "1/1", 0, true, "stuck terminating for 10m", false},
		{"init running", initPod, "Init:0/1", "0/1", 0, true, "init containers not done", false},
		{"init crash loop", initCrash, "Init:CrashLoopBackOff", "0/1", 0, true, "init containers not done (CrashLoopBackOff)", false},
		{"sidecar counts", sidecar, "Running", "2/2", 3, false, "", false},
		{"scheduling gated", gated, "SchedulingGated", "0/1", 0, true, "schedulinggated", false},
		{"evicted", evicted, "Evicted", "0/1", 0, true, "evicted: The node was low on resource: memory.", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row := NewPodRow(tc.pod, testNow)
			if row.Status != tc.status || row.Ready != tc.ready || row.Restarts != tc.restarts || row.Problem != tc.problem {
				t.Errorf("row = status %q ready %q restarts %d problem %v (%q); want %q %q %d %v",
					row.Status, row.Ready, row.Restarts, row.Problem, row.Reason, tc.status, tc.ready, tc.restarts, tc.problem)
			}
			if tc.reasonHas != "" && !strings.Contains(row.Reason, tc.reasonHas) {
				t.Errorf("Reason = %q, want it to contain %q", row.Reason, tc.reasonHas)
			}
			if !tc.problem && row.Reason != "" {
				t.Errorf("Reason = %q for a pod without problem", row.Reason)
			}
			if row.LastRestart.IsZero() == tc.lastRestart {
				t.Errorf("LastRestart = %v", row.LastRestart)
			}
			if row.ReadyOK != (row.Ready[0] == row.Ready[2]) {
				t.Errorf("ReadyOK = %v for %s", row.ReadyOK, row.Ready)
			}
			if HumanAge(row.Age) != "5d3h" || row.Node != "node-01" || row.Namespace != "ns" {
				t.Errorf("age %s node %s ns %s", HumanAge(row.Age), row.Node, row.Namespace)
			}
		})
	}
}

func TestPodRowOwnerAndMaxRestarts(t *testing.T) {
	ctrl := true
	p := testPod(corev1.PodRunning, running("a", true, 3), running("b", true, 5))
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "api-7d9f", Controller: &ctrl}}
	row := NewPodRow(p, testNow)
	if row.Owner != "ReplicaSet/api-7d9f" || row.Restarts != 8 || row.MaxRestarts != 5 {
		t.Errorf("owner %q restarts %d max %d", row.Owner, row.Restarts, row.MaxRestarts)
	}
}

func testNode(name string, ready corev1.ConditionStatus, extra ...corev1.NodeCondition) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: ago(17 * time.Minute)},
		Status: corev1.NodeStatus{
			Conditions: append([]corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "KubeletNotReady"}}, extra...),
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("3800m"),
				corev1.ResourceMemory: resource.MustParse("16252928Ki"),
				corev1.ResourcePods:   resource.MustParse("110"),
			},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"},
		},
	}
	return n
}

func TestNewNodeRow(t *testing.T) {
	cordoned := testNode("c", corev1.ConditionTrue)
	cordoned.Spec.Unschedulable = true
	roles := testNode("r", corev1.ConditionTrue)
	roles.Labels = map[string]string{"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"}
	noCond := testNode("u", corev1.ConditionTrue)
	noCond.Status.Conditions = nil
	wholeCPU := testNode("w", corev1.ConditionTrue)
	wholeCPU.Status.Allocatable[corev1.ResourceCPU] = resource.MustParse("4")

	tests := []struct {
		name    string
		node    *corev1.Node
		status  string
		ready   bool
		roles   string
		conds   string
		problem bool
		cpu     string
	}{
		{"ready", testNode("a", corev1.ConditionTrue), "Ready", true, "<none>", "", false, "3800m"},
		{"not ready", testNode("b", corev1.ConditionFalse), "NotReady", false, "<none>", "", true, "3800m"},
		{"unknown", testNode("b", corev1.ConditionUnknown), "NotReady", false, "<none>", "", true, "3800m"},
		{"cordoned", cordoned, "Ready,SchedulingDisabled", true, "<none>", "", false, "3800m"},
		{"roles", roles, "Ready", true, "control-plane,worker", "", false, "3800m"},
		{"memory pressure", testNode("m", corev1.ConditionTrue,
			corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue},
			corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse}), "Ready", true, "<none>", "MemoryPressure", true, "3800m"},
		{"no conditions", noCond, "Unknown", false, "<none>", "", true, "3800m"},
		{"whole cpus", wholeCPU, "Ready", true, "<none>", "", false, "4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row := NewNodeRow(tc.node, 7, testNow)
			if row.Status != tc.status || row.Ready != tc.ready || row.Roles != tc.roles || strings.Join(row.Conditions, ",") != tc.conds || row.Problem != tc.problem {
				t.Errorf("row = %+v", row)
			}
			if row.CPUAllocatable != tc.cpu || row.MemAllocatable != "15.5Gi" || row.PodsAllocatable != 110 || row.PodsCount != 7 || row.Version != "v1.37.2" || HumanAge(row.Age) != "17m" {
				t.Errorf("capacity/age = %+v", row)
			}
			if tc.problem && row.Reason == "" {
				t.Error("problem without reason")
			}
		})
	}
}

func TestHumanAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{45 * time.Second, "45s"},
		{17 * time.Minute, "17m"},
		{90 * time.Minute, "90m"},
		{5*time.Hour + 3*time.Minute, "5h3m"},
		{5*24*time.Hour + 3*time.Hour, "5d3h"},
		{9 * 24 * time.Hour, "9d"},
		{400 * 24 * time.Hour, "400d"},
		{3 * 365 * 24 * time.Hour, "3y"},
	} {
		if got := HumanAge(tc.d); got != tc.want {
			t.Errorf("HumanAge(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "", 512: "512", 1 << 20: "1Mi", 16252928 * 1024: "15.5Gi", 3 << 40: "3Ti"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPodDetailAndEvents(t *testing.T) {
	crash := waiting("app", "CrashLoopBackOff")
	crash.RestartCount = 3
	crash.Image = "stockapp/worker:2"
	crash.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(time.Minute)}
	p := testPod(corev1.PodRunning, crash)
	p.UID = "u1"
	p.Status.PodIP = "10.244.0.5"
	ev := func(name, reason string, last time.Duration, kind, obj string) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: "ns"},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: "ns", Name: obj, UID: "u1"},
			Type:           corev1.EventTypeWarning, Reason: reason, LastTimestamp: ago(last), Count: 2,
		}
	}
	d := NewPodDetail(p, []*corev1.Event{
		ev("e1", "Pulled", time.Hour, "Pod", "p"),
		ev("e2", "BackOff", time.Minute, "Pod", "p"),
		ev("e3", "Other", time.Second, "Pod", "q"),
		ev("e4", "Node", time.Second, "Node", "p"),
	}, testNow)
	if len(d.Containers) != 1 || d.Containers[0].Image != "stockapp/worker:2" || d.Containers[0].LastTermination.ExitCode != 1 || d.IP != "10.244.0.5" {
		t.Errorf("detail = %+v", d)
	}
	if len(d.Events) != 2 || d.Events[0].Reason != "BackOff" || d.Events[0].Object != "Pod/p" || d.Events[0].Age != time.Minute {
		t.Errorf("events = %+v", d.Events)
	}
}

func TestComputeFacts(t *testing.T) {
	crash := waiting("app", "CrashLoopBackOff")
	crash.RestartCount = 14
	pods := []*corev1.Pod{
		withCond(testPod(corev1.PodRunning, running("app", true, 2)), corev1.PodReady, corev1.ConditionTrue, "", ""),
		testPod(corev1.PodRunning, crash),
		withCond(testPod(corev1.PodPending), corev1.PodScheduled, corev1.ConditionFalse, "Unschedulable", "no"),
		testPod(corev1.PodSucceeded, terminated("app", "Completed", 0)),
	}
	for i, p := range pods {
		p.Name = fmt.Sprintf("p%d", i)
	}
	warn := &corev1.Event{Type: corev1.EventTypeWarning, Reason: "BackOff", LastTimestamp: ago(time.Minute)}
	old := &corev1.Event{Type: corev1.EventTypeWarning, Reason: "Old", LastTimestamp: ago(2 * time.Hour)}
	normal := &corev1.Event{Type: corev1.EventTypeNormal, Reason: "Pulled", LastTimestamp: ago(time.Minute)}
	f := ComputeFacts([]*corev1.Node{testNode("a", corev1.ConditionTrue), testNode("b", corev1.ConditionFalse)}, pods,
		[]*corev1.Event{warn, old, normal}, testNow)
	if f.NodesTotal != 2 || f.NodesReady != 1 || len(f.NotReadyNodes) != 1 || f.NotReadyNodes[0] != "b" || len(f.ProblemNodes) != 1 {
		t.Errorf("nodes facts = %+v", f)
	}
	if f.PodsTotal != 4 || len(f.PodsNotOK) != 2 || len(f.CrashLooping) != 1 || len(f.Pending) != 1 {
		t.Errorf("pod facts = %+v", f)
	}
	if len(f.Restarted) != 2 || f.Restarted[0].Name != "p1" || f.Restarted[0].MaxRestarts != 14 {
		t.Errorf("Restarted = %+v", f.Restarted)
	}
	if f.WarningEvents != 1 || len(f.RecentWarnings) != 1 || f.RecentWarnings[0].Reason != "BackOff" {
		t.Errorf("warnings = %d %+v", f.WarningEvents, f.RecentWarnings)
	}
	if !f.OK() {
		t.Error("OK() false without errors")
	}
}

func TestStripForCache(t *testing.T) {
	p := testPod(corev1.PodRunning)
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	p.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}
	out, err := StripForCache(p)
	if err != nil || out.(*corev1.Pod).ManagedFields != nil || out.(*corev1.Pod).Annotations != nil {
		t.Errorf("StripForCache = %+v, %v", out, err)
	}
	// Pods lose what no view reads, and keep what the views show.
	p = testPod(corev1.PodRunning, running("app", true, 0))
	p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "x"}}
	p.Spec.Containers[0].Command = []string{"/app"}
	p.Spec.Containers[0].LivenessProbe = &corev1.Probe{}
	p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	image := p.Spec.Containers[0].Image
	out, _ = StripForCache(p)
	sp := out.(*corev1.Pod)
	c := sp.Spec.Containers[0]
	if sp.Spec.Volumes != nil || c.Env != nil || c.Command != nil || c.LivenessProbe != nil {
		t.Errorf("pod spec not stripped: %+v", sp.Spec)
	}
	if c.Image != image || c.Resources.Requests.Cpu().MilliValue() != 100 || len(sp.Status.ContainerStatuses) == 0 {
		t.Errorf("stripping lost what the views read: %+v", sp)
	}
	if out, err := StripForCache("not an object"); err != nil || out != "not an object" {
		t.Errorf("non-object: %v %v", out, err)
	}
}
