package bundle

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// timeText is a time for the texts: RFC 3339 in UTC, "-" when unknown.
func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// describePod is a pod's detail as kubectl describe lays it out: the
// pod, its containers' states and last terminations, its conditions and
// its events.
func describePod(d kube.PodDetail, verdict health.Status) []byte {
	var b strings.Builder
	field := func(name, value string) { fmt.Fprintf(&b, "%-15s %s\n", name+":", value) }
	field("Name", d.Name)
	field("Namespace", d.Namespace)
	field("Verdict", fmt.Sprintf("%s (%s)", verdict, orNone(d.Reason)))
	field("Status", fmt.Sprintf("%s (phase %s)", d.Status, d.Phase))
	field("Ready", d.Ready)
	field("Restarts", fmt.Sprintf("%d (most of one container: %d; last %s)", d.Restarts, d.MaxRestarts, timeText(d.LastRestart)))
	field("Node", fmt.Sprintf("%s (host IP %s)", orNone(d.Node), orNone(d.HostIP)))
	field("IP", orNone(d.IP))
	field("Controlled By", orNone(d.Owner))
	field("QoS Class", orNone(d.QOSClass))
	field("Created", fmt.Sprintf("%s (%s ago)", timeText(d.Created), kube.HumanAge(d.Age)))
	field("Labels", labelsText(d.Labels))
	b.WriteString("Containers:\n")
	for _, c := range d.Containers {
		kind := ""
		if c.Init {
			kind = " (init)"
		}
		fmt.Fprintf(&b, "  %s%s:\n", c.Name, kind)
		fmt.Fprintf(&b, "    Image:          %s\n", c.Image)
		state := orNone(c.State)
		if c.StateReason != "" {
			state += " (" + c.StateReason + ")"
		}
		if c.StateMessage != "" {
			state += ": " + oneLine(c.StateMessage)
		}
		if !c.Since.IsZero() {
			state += " since " + timeText(c.Since)
		}
		fmt.Fprintf(&b, "    State:          %s\n", state)
		if c.Current != nil {
			fmt.Fprintf(&b, "    Terminated:     %s\n", terminationText(c.Current))
		}
		if c.LastTermination != nil {
			fmt.Fprintf(&b, "    Last State:     %s\n", terminationText(c.LastTermination))
		}
		fmt.Fprintf(&b, "    Ready:          %t\n", c.Ready)
		fmt.Fprintf(&b, "    Started:        %t\n", c.Started)
		fmt.Fprintf(&b, "    Restart Count:  %d\n", c.Restarts)
	}
	b.WriteString("Conditions:\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE")
	for _, c := range d.Conditions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, orNone(c.Reason), timeText(c.LastTransition), oneLine(c.Message))
	}
	tw.Flush()
	b.WriteString("Events:\n")
	if len(d.Events) == 0 {
		b.WriteString("  <none>\n")
		return []byte(b.String())
	}
	writeEvents(&b, d.Events, false)
	return []byte(b.String())
}

func terminationText(t *kube.Termination) string {
	s := fmt.Sprintf("Terminated (%s, exit code %d", orNone(t.Reason), t.ExitCode)
	if t.Signal != 0 {
		s += fmt.Sprintf(", signal %d", t.Signal)
	}
	s += fmt.Sprintf(") started %s, finished %s", timeText(t.StartedAt), timeText(t.FinishedAt))
	if t.Message != "" {
		s += ": " + oneLine(t.Message)
	}
	return s
}

func labelsText(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// writeEvents writes event rows as kubectl get events does (with the
// object and namespace when withObject).
func writeEvents(b *strings.Builder, rows []kube.EventRow, withObject bool) {
	tw := tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)
	if withObject {
		fmt.Fprintln(tw, "  LAST SEEN\tNAMESPACE\tTYPE\tREASON\tOBJECT\tCOUNT\tMESSAGE")
	} else {
		fmt.Fprintln(tw, "  LAST SEEN\tTYPE\tREASON\tCOUNT\tMESSAGE")
	}
	for _, e := range rows {
		if withObject {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%s\n", timeText(e.Last), e.Namespace, e.Type, e.Reason, e.Object, e.Count, oneLine(e.Message))
		} else {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", timeText(e.Last), e.Type, e.Reason, e.Count, oneLine(e.Message))
		}
	}
	tw.Flush()
}

// warningsText is every Warning event of the namespaces, newest first.
func warningsText(events []*corev1.Event, now time.Time, cut bool) []byte {
	var rows []kube.EventRow
	for _, e := range events {
		if e.Type == corev1.EventTypeWarning {
			rows = append(rows, kube.NewEventRow(e, now))
		}
	}
	kube.SortEventsNewestFirst(rows)
	var b strings.Builder
	fmt.Fprintf(&b, "%d Warning events", len(rows))
	if cut {
		fmt.Fprintf(&b, " (of the first %d events listed per namespace)", maxEvents)
	}
	b.WriteString("\n\n")
	writeEvents(&b, rows, true)
	return []byte(b.String())
}

// nodesText is every node's status and conditions, the problem nodes first.
func nodesText(nodes []*corev1.Node, now time.Time) []byte {
	details := make([]kube.NodeDetail, 0, len(nodes))
	for _, n := range nodes {
		details = append(details, kube.NewNodeDetail(n, nil, nil, now))
	}
	slices.SortStableFunc(details, func(a, b kube.NodeDetail) int {
		if sa, sb := health.NodeStatus(a.NodeRow), health.NodeStatus(b.NodeRow); sa != sb {
			return sb.Severity() - sa.Severity()
		}
		return strings.Compare(a.Name, b.Name)
	})
	var b strings.Builder
	problems := 0
	for _, d := range details {
		if d.Problem {
			problems++
		}
	}
	fmt.Fprintf(&b, "%d nodes, %d with a problem\n", len(details), problems)
	for _, d := range details {
		fmt.Fprintf(&b, "\n%s: %s (%s) kubelet %s, age %s\n", d.Name, d.Status, health.NodeStatus(d.NodeRow), orNone(d.Version), kube.HumanAge(d.Age))
		if len(d.Taints) > 0 {
			fmt.Fprintf(&b, "  taints: %s\n", strings.Join(d.Taints, ", "))
		}
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE")
		for _, c := range d.Conditions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, orNone(c.Reason), timeText(c.LastTransition), oneLine(c.Message))
		}
		tw.Flush()
	}
	return []byte(b.String())
}
