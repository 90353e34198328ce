package kube

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/duration"
)

// PodRow is one line of a pod table: kubectl get pods -o wide, plus a
// verdict. Values only; safe to keep after the cache has moved on.
type PodRow struct {
	Namespace string
	Name      string
	// Ready is kubectl's READY column, e.g. "1/2"; ReadyOK is true when all are ready.
	Ready   string
	ReadyOK bool
	// Status is kubectl's STATUS column: Running, Pending, ContainerCreating,
	// CrashLoopBackOff, Completed, Error, OOMKilled, Terminating, Init:0/1...
	Status string
	// Phase is the pod's status.phase (Pending, Running, Succeeded, Failed, Unknown).
	Phase string
	// Restarts is kubectl's RESTARTS (sum over containers); MaxRestarts is the
	// highest count of a single container (thresholds are per container).
	Restarts    int
	MaxRestarts int
	// LastRestart is when a container last terminated before its restart (zero if never).
	LastRestart time.Time
	Created     time.Time
	Age         time.Duration
	Node        string
	// Owner is the controlling owner, e.g. "ReplicaSet/api-7d9f8c6b5".
	Owner string
	// Problem is true when the pod needs attention (not Running/Completed, not
	// ready, stuck terminating); Reason says why in a few words.
	Problem bool
	Reason  string
}

// NodeRow is one line of a node table: kubectl get nodes plus capacity.
type NodeRow struct {
	Name string
	// Ready is true when the Ready condition is True.
	Ready bool
	// Status is kubectl's STATUS: "Ready", "NotReady", "Unknown", "Ready,SchedulingDisabled".
	Status string
	// Roles is kubectl's ROLES ("control-plane,worker" or "<none>").
	Roles string
	// Conditions lists the problem conditions (MemoryPressure, DiskPressure,
	// PIDPressure, NetworkUnavailable) that are True.
	Conditions      []string
	CPUAllocatable  string // e.g. "3800m" or "4"
	MemAllocatable  string // e.g. "15.5Gi"
	PodsAllocatable int64
	// PodsCount is the number of non-terminated pods on the node among the
	// watched namespaces (-1 when unknown).
	PodsCount int
	Created   time.Time
	Age       time.Duration
	Version   string // kubelet version
	// Problem is true when the node is not Ready or has a problem condition.
	Problem bool
	Reason  string
}

// HumanAge formats a duration like kubectl's AGE column: 45s, 17m, 5h3m, 5d3h, 2y45d.
func HumanAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return duration.HumanDuration(d)
}

// NewPodRow builds the row of pod as seen at now. It follows kubectl's
// printPod for Ready, Status and Restarts.
func NewPodRow(pod *corev1.Pod, now time.Time) PodRow {
	row := PodRow{
		Namespace: pod.Namespace,
		Name:      pod.Name,
		Phase:     string(pod.Status.Phase),
		Node:      pod.Spec.NodeName,
		Created:   pod.CreationTimestamp.Time,
		Age:       since(now, pod.CreationTimestamp.Time),
		Owner:     ownerOf(pod),
	}
	st := podStatus(pod)
	row.Status = st.reason
	row.Restarts = st.restarts
	row.MaxRestarts = st.maxRestarts
	row.LastRestart = st.lastRestart
	row.Ready = strconv.Itoa(st.ready) + "/" + strconv.Itoa(st.total)
	row.ReadyOK = st.ready == st.total
	row.Problem, row.Reason = podVerdict(pod, row, now)
	return row
}

type podStatusResult struct {
	reason       string
	ready, total int
	restarts     int
	maxRestarts  int
	lastRestart  time.Time
}

// podStatus is kubectl's printPod (pkg/printers/internalversion) on v1 types.
func podStatus(pod *corev1.Pod) podStatusResult {
	var r podStatusResult
	r.total = len(pod.Spec.Containers)
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	restartable := map[string]bool{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			restartable[c.Name] = true
			r.total++
		}
	}

	var lastRestart, lastSidecarRestart time.Time
	restarts, sidecarRestarts := 0, 0
	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		r.maxRestarts = max(r.maxRestarts, int(cs.RestartCount))
		if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastRestart) {
			lastRestart = t.FinishedAt.Time
		}
		if restartable[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastSidecarRestart) {
				lastSidecarRestart = t.FinishedAt.Time
			}
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case restartable[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				r.ready++
			}
			continue
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			switch {
			case t.Reason != "":
				reason = "Init:" + t.Reason
			case t.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
			initializing = true
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
			initializing = true
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
			initializing = true
		}
		break
	}

	if !initializing || conditionTrue(pod, corev1.PodInitialized) {
		restarts = sidecarRestarts
		lastRestart = lastSidecarRestart
		hasRunning := false
		errorReason := ""
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			r.maxRestarts = max(r.maxRestarts, int(cs.RestartCount))
			if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastRestart) {
				lastRestart = t.FinishedAt.Time
			}
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil:
				t := cs.State.Terminated
				switch {
				case t.Reason != "":
					reason = t.Reason
				case t.Signal != 0:
					reason = fmt.Sprintf("Signal:%d", t.Signal)
				default:
					reason = fmt.Sprintf("ExitCode:%d", t.ExitCode)
				}
				if t.ExitCode != 0 {
					errorReason = reason
				}
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				r.ready++
			}
		}
		if reason == "Completed" {
			switch {
			case hasRunning && conditionTrue(pod, corev1.PodReady):
				reason = "Running"
			case errorReason != "":
				reason = errorReason
			case hasRunning:
				reason = "NotReady"
			}
		}
	}

	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if pod.DeletionTimestamp != nil && pod.Status.Reason == "NodeLost" {
		reason = "Unknown"
	} else if pod.DeletionTimestamp != nil && !terminal {
		reason = "Terminating"
	}
	r.reason = reason
	r.restarts = restarts
	r.lastRestart = lastRestart
	return r
}

// podVerdict decides whether the pod needs attention and says why.
func podVerdict(pod *corev1.Pod, row PodRow, now time.Time) (bool, string) {
	switch row.Status {
	case "Completed":
		return false, ""
	case "Terminating":
		// DeletionTimestamp is when the grace period ends.
		if dt := pod.DeletionTimestamp; dt != nil && now.Sub(dt.Time) > time.Minute {
			return true, "stuck terminating for " + HumanAge(now.Sub(dt.Time))
		}
		return false, ""
	case "Running":
		if !row.ReadyOK {
			return true, fmt.Sprintf("not ready (%s)%s", row.Ready, notReadyDetail(pod))
		}
		return false, ""
	case "Pending":
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
				return true, joinReason("unschedulable", c.Reason, c.Message)
			}
		}
		return true, "pending"
	case "CrashLoopBackOff":
		return true, "crash loop" + lastTerminationDetail(pod)
	}
	if strings.HasPrefix(row.Status, "Init:") {
		return true, "init containers not done (" + strings.TrimPrefix(row.Status, "Init:") + ")"
	}
	msg := strings.TrimSpace(pod.Status.Message)
	if msg == "" {
		msg = waitingMessage(pod)
	}
	return true, joinReason(strings.ToLower(row.Status), "", msg)
}

func notReadyDetail(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue && c.Reason != "" {
			return ": " + c.Reason
		}
	}
	return ""
}

func lastTerminationDetail(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.LastTerminationState.Terminated; t != nil && cs.State.Waiting != nil {
			return fmt.Sprintf(" (%s: last exit %s, code %d)", cs.Name, t.Reason, t.ExitCode)
		}
	}
	return ""
}

func waitingMessage(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Waiting != nil && cs.State.Waiting.Message != "" {
			return cs.State.Waiting.Message
		}
	}
	return ""
}

func joinReason(head, reason, msg string) string {
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	const maxMsg = 160
	if len(msg) > maxMsg {
		msg = msg[:maxMsg] + "…"
	}
	out := head
	if reason != "" && !strings.EqualFold(reason, head) {
		out += " (" + reason + ")"
	}
	if msg != "" {
		out += ": " + msg
	}
	return out
}

func conditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ownerOf(pod *corev1.Pod) string {
	for _, o := range pod.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.Kind + "/" + o.Name
		}
	}
	if len(pod.OwnerReferences) > 0 {
		return pod.OwnerReferences[0].Kind + "/" + pod.OwnerReferences[0].Name
	}
	return ""
}

// problemNodeConditions are the node conditions that are bad when True.
var problemNodeConditions = []corev1.NodeConditionType{
	corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeNetworkUnavailable,
}

// NewNodeRow builds the row of node at now; podsCount is the number of
// non-terminated pods known to run on it (-1 when unknown).
func NewNodeRow(node *corev1.Node, podsCount int, now time.Time) NodeRow {
	row := NodeRow{
		Name:            node.Name,
		Roles:           nodeRoles(node),
		CPUAllocatable:  cpuString(node.Status.Allocatable[corev1.ResourceCPU]),
		MemAllocatable:  HumanBytes(node.Status.Allocatable.Memory().Value()),
		PodsAllocatable: node.Status.Allocatable.Pods().Value(),
		PodsCount:       podsCount,
		Created:         node.CreationTimestamp.Time,
		Age:             since(now, node.CreationTimestamp.Time),
		Version:         node.Status.NodeInfo.KubeletVersion,
	}
	status := "Unknown"
	var readyCond *corev1.NodeCondition
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		if c.Type == corev1.NodeReady {
			readyCond = c
			if c.Status == corev1.ConditionTrue {
				status, row.Ready = "Ready", true
			} else {
				status = "NotReady"
			}
		}
	}
	if node.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	row.Status = status
	for _, want := range problemNodeConditions {
		for _, c := range node.Status.Conditions {
			if c.Type == want && c.Status == corev1.ConditionTrue {
				row.Conditions = append(row.Conditions, string(c.Type))
			}
		}
	}
	var why []string
	if !row.Ready {
		r := "not ready"
		if readyCond == nil {
			r = "no Ready condition"
		} else if readyCond.Reason != "" {
			r += " (" + readyCond.Reason + ")"
		}
		why = append(why, r)
	}
	why = append(why, row.Conditions...)
	row.Problem = len(why) > 0
	row.Reason = strings.Join(why, ", ")
	return row
}

func nodeRoles(node *corev1.Node) string {
	const prefix = "node-role.kubernetes.io/"
	var roles []string
	seen := map[string]bool{}
	for k, v := range node.Labels {
		role := ""
		switch {
		case strings.HasPrefix(k, prefix):
			role = strings.TrimPrefix(k, prefix)
		case k == "kubernetes.io/role":
			role = v
		}
		if role != "" && !seen[role] {
			seen[role] = true
			roles = append(roles, role)
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	sort.Strings(roles)
	return strings.Join(roles, ",")
}

func cpuString(q resource.Quantity) string {
	if q.IsZero() {
		return ""
	}
	if q.MilliValue()%1000 == 0 {
		return fmt.Sprintf("%d", q.Value())
	}
	return fmt.Sprintf("%dm", q.MilliValue())
}

// HumanBytes formats a byte count with binary units: 512Mi, 15.5Gi ("" for 0).
func HumanBytes(n int64) string {
	if n <= 0 {
		return ""
	}
	units := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + units[i]
}

func since(now, t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	if d := now.Sub(t); d > 0 {
		return d
	}
	return 0
}
