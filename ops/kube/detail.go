package kube

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Condition is one status condition of a pod or node.
type Condition struct {
	Type           string
	Status         string // True, False, Unknown
	Reason         string
	Message        string
	LastTransition time.Time
}

// Termination is how a container run ended.
type Termination struct {
	Reason     string // Error, OOMKilled, Completed...
	ExitCode   int32
	Signal     int32
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
}

// ContainerDetail is the state of one container of a pod.
type ContainerDetail struct {
	Name  string
	Image string
	// Init is true for init containers (including restartable sidecars).
	Init     bool
	Ready    bool
	Started  bool
	Restarts int
	// State is Running, Waiting or Terminated ("" when not reported yet);
	// StateReason and StateMessage come from the waiting/terminated state.
	State        string
	StateReason  string
	StateMessage string
	// Since is when the current state began (running or terminated).
	Since time.Time
	// Current is set when the container is terminated now; LastTermination
	// is the previous run's end (the crash before a restart).
	Current         *Termination
	LastTermination *Termination
}

// PodDetail is what a pod detail panel shows.
type PodDetail struct {
	PodRow
	IP         string
	HostIP     string
	QOSClass   string
	Labels     map[string]string
	Conditions []Condition
	Containers []ContainerDetail
	// Events are the pod's recent events, newest first.
	Events []EventRow
}

// NodeDetail is what a node detail panel shows.
type NodeDetail struct {
	NodeRow
	Labels      map[string]string
	Taints      []string // key=value:Effect
	Addresses   []string // Type: address
	Conditions  []Condition
	Capacity    map[string]string
	Allocatable map[string]string
	OSImage     string
	Kernel      string
	Runtime     string
	Arch        string
	// Pods are the pods of the watched namespaces scheduled on the node.
	Pods []PodRow
	// Events are the node's recent events in the watched namespaces, newest first.
	Events []EventRow
}

// EventRow is one event, kubectl get events style.
type EventRow struct {
	Namespace string
	Type      string // Normal, Warning
	Reason    string
	// Object is Kind/Name of the involved object, e.g. "Pod/api-7d9f8c6b5-x2x9z".
	Object  string
	Kind    string
	Name    string
	Message string
	Count   int32
	// Last is when the event was last seen; Age is now minus Last.
	Last time.Time
	Age  time.Duration
}

// NewPodDetail builds the detail of pod at now with the given events (any
// order; those not about the pod are ignored).
func NewPodDetail(pod *corev1.Pod, events []*corev1.Event, now time.Time) PodDetail {
	d := PodDetail{
		PodRow:   NewPodRow(pod, now),
		IP:       pod.Status.PodIP,
		HostIP:   pod.Status.HostIP,
		QOSClass: string(pod.Status.QOSClass),
		Labels:   copyMap(pod.Labels),
	}
	for _, c := range pod.Status.Conditions {
		d.Conditions = append(d.Conditions, Condition{
			Type: string(c.Type), Status: string(c.Status), Reason: c.Reason,
			Message: c.Message, LastTransition: c.LastTransitionTime.Time,
		})
	}
	images := map[string]string{}
	for _, c := range pod.Spec.InitContainers {
		images[c.Name] = c.Image
	}
	for _, c := range pod.Spec.Containers {
		images[c.Name] = c.Image
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, cs := range pod.Status.InitContainerStatuses {
		statuses["init/"+cs.Name] = cs
	}
	for _, cs := range pod.Status.ContainerStatuses {
		statuses[cs.Name] = cs
	}
	for _, c := range pod.Spec.InitContainers {
		cs, ok := statuses["init/"+c.Name]
		d.Containers = append(d.Containers, containerDetail(c.Name, images[c.Name], true, cs, ok))
	}
	for _, c := range pod.Spec.Containers {
		cs, ok := statuses[c.Name]
		d.Containers = append(d.Containers, containerDetail(c.Name, images[c.Name], false, cs, ok))
	}
	d.Events = eventRowsFor(events, "Pod", pod.Namespace, pod.Name, string(pod.UID), now)
	return d
}

func containerDetail(name, image string, init bool, cs corev1.ContainerStatus, reported bool) ContainerDetail {
	c := ContainerDetail{Name: name, Image: image, Init: init}
	if !reported {
		return c
	}
	if cs.Image != "" {
		c.Image = cs.Image
	}
	c.Ready = cs.Ready
	c.Started = cs.Started != nil && *cs.Started
	c.Restarts = int(cs.RestartCount)
	switch {
	case cs.State.Running != nil:
		c.State = "Running"
		c.Since = cs.State.Running.StartedAt.Time
	case cs.State.Waiting != nil:
		c.State = "Waiting"
		c.StateReason = cs.State.Waiting.Reason
		c.StateMessage = cs.State.Waiting.Message
	case cs.State.Terminated != nil:
		c.State = "Terminated"
		c.StateReason = cs.State.Terminated.Reason
		c.StateMessage = cs.State.Terminated.Message
		c.Since = cs.State.Terminated.FinishedAt.Time
		c.Current = termination(cs.State.Terminated)
	}
	c.LastTermination = termination(cs.LastTerminationState.Terminated)
	return c
}

func termination(t *corev1.ContainerStateTerminated) *Termination {
	if t == nil {
		return nil
	}
	return &Termination{
		Reason: t.Reason, ExitCode: t.ExitCode, Signal: t.Signal, Message: t.Message,
		StartedAt: t.StartedAt.Time, FinishedAt: t.FinishedAt.Time,
	}
}

// NewNodeDetail builds the detail of node at now; pods are the rows of the
// pods on it and events may contain unrelated events (they are filtered).
func NewNodeDetail(node *corev1.Node, pods []PodRow, events []*corev1.Event, now time.Time) NodeDetail {
	count := 0
	for _, p := range pods {
		if p.Phase != string(corev1.PodSucceeded) && p.Phase != string(corev1.PodFailed) {
			count++
		}
	}
	d := NodeDetail{
		NodeRow:     NewNodeRow(node, count, now),
		Labels:      copyMap(node.Labels),
		Capacity:    map[string]string{},
		Allocatable: map[string]string{},
		OSImage:     node.Status.NodeInfo.OSImage,
		Kernel:      node.Status.NodeInfo.KernelVersion,
		Runtime:     node.Status.NodeInfo.ContainerRuntimeVersion,
		Arch:        node.Status.NodeInfo.Architecture,
		Pods:        pods,
	}
	for _, t := range node.Spec.Taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		d.Taints = append(d.Taints, s+":"+string(t.Effect))
	}
	for _, a := range node.Status.Addresses {
		d.Addresses = append(d.Addresses, string(a.Type)+": "+a.Address)
	}
	for _, c := range node.Status.Conditions {
		d.Conditions = append(d.Conditions, Condition{
			Type: string(c.Type), Status: string(c.Status), Reason: c.Reason,
			Message: c.Message, LastTransition: c.LastTransitionTime.Time,
		})
	}
	for k, v := range node.Status.Capacity {
		d.Capacity[string(k)] = v.String()
	}
	for k, v := range node.Status.Allocatable {
		d.Allocatable[string(k)] = v.String()
	}
	d.Events = eventRowsFor(events, "Node", "", node.Name, "", now)
	return d
}

// NewEventRow builds the row of ev at now.
func NewEventRow(ev *corev1.Event, now time.Time) EventRow {
	last := EventTime(ev)
	count := ev.Count
	if ev.Series != nil && ev.Series.Count > count {
		count = ev.Series.Count
	}
	if count == 0 {
		count = 1
	}
	return EventRow{
		Namespace: ev.Namespace,
		Type:      ev.Type,
		Reason:    ev.Reason,
		Object:    ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name,
		Kind:      ev.InvolvedObject.Kind,
		Name:      ev.InvolvedObject.Name,
		Message:   ev.Message,
		Count:     count,
		Last:      last,
		Age:       since(now, last),
	}
}

// EventTime is when ev was last seen: lastTimestamp, else the series' last
// observation, else eventTime, else firstTimestamp, else creation.
func EventTime(ev *corev1.Event) time.Time {
	switch {
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	case ev.Series != nil && !ev.Series.LastObservedTime.IsZero():
		return ev.Series.LastObservedTime.Time
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	case !ev.FirstTimestamp.IsZero():
		return ev.FirstTimestamp.Time
	}
	return ev.CreationTimestamp.Time
}

// eventRowsFor keeps the events about kind/namespace/name (and uid when
// given), newest first.
func eventRowsFor(events []*corev1.Event, kind, namespace, name, uid string, now time.Time) []EventRow {
	var out []EventRow
	for _, ev := range events {
		io := ev.InvolvedObject
		if io.Kind != kind || io.Name != name || (namespace != "" && io.Namespace != namespace) {
			continue
		}
		if uid != "" && io.UID != "" && string(io.UID) != uid {
			continue
		}
		out = append(out, NewEventRow(ev, now))
	}
	SortEventsNewestFirst(out)
	return out
}

// SortEventsNewestFirst sorts rows by Last, newest first (stable).
func SortEventsNewestFirst(rows []EventRow) {
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Last.After(rows[j].Last) })
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
