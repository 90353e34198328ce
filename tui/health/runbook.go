package health

import (
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/kube"
	"github.com/opsdeck/opsdeck/tui/common"
)

// openRunbook asks the cockpit to show the runbook section for the
// selected pod or node.
func (t *Tab) openRunbook() tea.Cmd {
	row, ok := t.focused().Selected()
	if !ok {
		return nil
	}
	section := "node-not-ready"
	if t.focus == focusPods {
		section = "pod-problems"
		for _, p := range t.pods {
			if p.Namespace+"/"+p.Name == row.Key {
				section = podRunbook(p, t.c.Config.Thresholds)
				break
			}
		}
	}
	return func() tea.Msg { return common.OpenRunbookMsg{Section: section} }
}

// podRunbook names the runbook section for a pod, as the morning check
// does: crash loops (and restarts past the warning level) and Pending pods
// have their own sections, everything else is a pod problem.
func podRunbook(p kube.PodRow, th config.Thresholds) string {
	switch {
	case p.Status == "CrashLoopBackOff", float64(p.MaxRestarts) >= th.PodRestarts.Warn && th.PodRestarts.Warn > 0:
		return "pod-crashloop"
	case p.Status == "Pending":
		return "pod-pending"
	}
	return "pod-problems"
}
