package health

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/opsdeck/opsdeck/ops/kube"
)

// openDetail shows the selected pod or node in the detail viewport.
func (t *Tab) openDetail() {
	if t.kube == nil {
		return
	}
	row, ok := t.focused().Selected()
	if !ok {
		return
	}
	var content string
	if t.focus == focusNodes {
		d, found := t.kube.NodeDetail(row.Key)
		if !found {
			return
		}
		content = t.nodeDetail(d)
	} else {
		ns, name, _ := strings.Cut(row.Key, "/")
		d, found := t.kube.PodDetail(ns, name)
		if !found {
			return
		}
		content = t.podDetail(d)
	}
	t.detailKey = row.Key
	t.detail.SetContent(content)
	t.detail.GotoTop()
	t.showDetail = true
}

func (t *Tab) detailTitle() string {
	s := t.c.Styles
	kind := "Pod"
	if t.focus == focusNodes {
		kind = "Node"
	}
	return s.PanelTitle.Render(kind+" "+t.detailKey) + s.Muted.Render("  esc back · ↑/↓ scroll")
}

// kv renders aligned "key: value" lines.
func (t *Tab) kv(pairs ...string) string {
	s := t.c.Styles
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		fmt.Fprintf(&b, "  %s %s\n", s.Muted.Render(fmt.Sprintf("%-14s", pairs[i]+":")), pairs[i+1])
	}
	return b.String()
}

func (t *Tab) heading(h string) string { return "\n" + t.c.Styles.Title.Render(h) + "\n" }

func (t *Tab) podDetail(d kube.PodDetail) string {
	s := t.c.Styles
	now := t.c.Now()
	var b strings.Builder
	status := d.Status
	if d.Problem {
		status = s.Crit.Render(status)
	}
	b.WriteString(t.kv(
		"Status", status,
		"Reason", d.Reason,
		"Ready", d.Ready,
		"Restarts", fmt.Sprint(d.Restarts),
		"Node", d.Node,
		"IP", d.IP,
		"Owner", d.Owner,
		"QoS", d.QOSClass,
		"Age", kube.HumanAge(d.Age),
	))
	b.WriteString(t.heading("Conditions"))
	for _, c := range d.Conditions {
		line := fmt.Sprintf("  %-16s %-6s %s", c.Type, c.Status, strings.TrimSpace(c.Reason+" "+c.Message))
		if c.Status != "True" {
			line = s.Warn.Render(line)
		}
		b.WriteString(line + "\n")
	}
	b.WriteString(t.heading("Containers"))
	for _, c := range d.Containers {
		name := c.Name
		if c.Init {
			name += " (init)"
		}
		state := c.State
		if c.StateReason != "" {
			state += " · " + c.StateReason
		}
		st := s.OK
		if !c.Ready {
			st = s.Warn
		}
		if c.StateReason == "CrashLoopBackOff" || (c.Current != nil && c.Current.ExitCode != 0) {
			st = s.Crit
		}
		b.WriteString("  " + s.Title.Render(name) + "  " + st.Render(state) + "\n")
		b.WriteString(t.kv("image", c.Image, "ready", fmt.Sprint(c.Ready), "restarts", fmt.Sprint(c.Restarts)))
		if c.StateMessage != "" {
			b.WriteString(t.kv("message", c.StateMessage))
		}
		if c.Current != nil {
			b.WriteString(t.kv("terminated", termination(c.Current, now)))
		}
		if c.LastTermination != nil {
			b.WriteString(t.kv("last exit", termination(c.LastTermination, now)))
		}
	}
	b.WriteString(t.events(d.Events))
	if len(d.Labels) > 0 {
		b.WriteString(t.heading("Labels"))
		b.WriteString("  " + s.Muted.Render(labels(d.Labels)) + "\n")
	}
	return b.String()
}

func (t *Tab) nodeDetail(d kube.NodeDetail) string {
	s := t.c.Styles
	var b strings.Builder
	status := d.Status
	if !d.Ready {
		status = s.Crit.Render(status)
	}
	b.WriteString(t.kv(
		"Status", status,
		"Reason", d.Reason,
		"Roles", d.Roles,
		"Version", d.Version,
		"OS", strings.TrimSpace(d.OSImage+" "+d.Arch),
		"Kernel", d.Kernel,
		"Runtime", d.Runtime,
		"Addresses", strings.Join(d.Addresses, ", "),
		"Taints", strings.Join(d.Taints, ", "),
		"CPU", "allocatable "+d.CPUAllocatable+" of "+d.Capacity["cpu"],
		"Memory", "allocatable "+d.MemAllocatable+" of "+d.Capacity["memory"],
		"Pods", fmt.Sprintf("%d running here (watched namespaces), %d allowed", d.PodsCount, d.PodsAllocatable),
		"Age", kube.HumanAge(d.Age),
	))
	b.WriteString(t.heading("Conditions"))
	for _, c := range d.Conditions {
		line := fmt.Sprintf("  %-20s %-7s %s", c.Type, c.Status, strings.TrimSpace(c.Reason+" "+c.Message))
		bad := (c.Type == "Ready") != (c.Status == "True")
		if bad {
			line = s.Crit.Render(line)
		}
		b.WriteString(line + "\n")
	}
	if len(d.Pods) > 0 {
		b.WriteString(t.heading(fmt.Sprintf("Pods (%d)", len(d.Pods))))
		for _, p := range d.Pods {
			line := fmt.Sprintf("  %-40s %-5s %-18s %d", p.Namespace+"/"+p.Name, p.Ready, p.Status, p.Restarts)
			if p.Problem {
				line = s.Warn.Render(line)
			}
			b.WriteString(line + "\n")
		}
	}
	b.WriteString(t.events(d.Events))
	return b.String()
}

func (t *Tab) events(evs []kube.EventRow) string {
	s := t.c.Styles
	var b strings.Builder
	b.WriteString(t.heading("Recent events"))
	if len(evs) == 0 {
		b.WriteString(s.Muted.Render("  none") + "\n")
		return b.String()
	}
	for _, e := range evs {
		line := fmt.Sprintf("  %-6s %-8s %-18s x%-3d %s", kube.HumanAge(e.Age), e.Type, e.Reason, e.Count, e.Message)
		if e.Type == "Warning" {
			line = s.Warn.Render(line)
		}
		b.WriteString(lipgloss.NewStyle().MaxWidth(max(t.width, 20)).Render(line) + "\n")
	}
	return b.String()
}

func termination(x *kube.Termination, now time.Time) string {
	out := fmt.Sprintf("%s (exit %d)", x.Reason, x.ExitCode)
	if x.Signal != 0 {
		out += fmt.Sprintf(" signal %d", x.Signal)
	}
	if !x.FinishedAt.IsZero() {
		out += ", " + kube.HumanAge(now.Sub(x.FinishedAt)) + " ago"
	}
	if x.Message != "" {
		out += ": " + x.Message
	}
	return out
}

func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}
