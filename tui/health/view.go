package health

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
)

// layout gives the tables their share of the height: the checks take one
// line per target, the nodes table up to a third of the rest (or fewer lines
// when there are few nodes), the pods table everything else.
func (t *Tab) layout() {
	h := t.height - t.checksHeight() - t.errorKindsHeight() - 2 // two section titles
	if h < 4 {
		h = 4
	}
	nodeRows := len(t.nodes)
	if nodeRows == 0 {
		nodeRows = 1
	}
	nodeH := min(nodeRows+1, max(h/3, 3))
	t.nodeTable.SetSize(t.width, nodeH)
	t.podTable.SetSize(t.width, max(h-nodeH, 2))
	t.detail.SetWidth(t.width)
	t.detail.SetHeight(max(t.height-1, 1))
}

func (t *Tab) checksHeight() int {
	if t.src.Checks == nil {
		return 0
	}
	return max(len(t.checkTargets()), 1)
}

// checkTargets returns the targets present in the check results, in order.
func (t *Tab) checkTargets() []string {
	var ts []string
	for _, r := range t.checks {
		if !slices.Contains(ts, r.Target) {
			ts = append(ts, r.Target)
		}
	}
	return ts
}

// View implements common.Tab.
func (t *Tab) View() string {
	if t.width == 0 {
		return ""
	}
	if t.logs != nil {
		return t.logs.View()
	}
	if t.showDetail {
		return t.detailTitle() + "\n" + t.detail.View()
	}
	parts := make([]string, 0, 6)
	if t.src.Checks != nil {
		parts = append(parts, t.checksView())
	}
	if t.errorKindsHeight() > 0 {
		parts = append(parts, t.errorKindsView())
	}
	parts = append(parts, t.nodesTitle(), t.nodesBody(), t.podsTitle(), t.podsBody())
	return strings.Join(parts, "\n")
}

// checksView renders one line per target: its worst status, then each check
// as "name value", the ones not OK in their colour.
func (t *Tab) checksView() string {
	s := t.c.Styles
	if len(t.checks) == 0 {
		return s.Muted.Render("checking Postgres and Redis…")
	}
	lines := make([]string, 0, 2)
	for _, target := range t.checkTargets() {
		var rs []health.Result
		for _, r := range t.checks {
			if r.Target == target {
				rs = append(rs, r)
			}
		}
		worst := health.Worst(rs)
		head := s.Title.Render(fmt.Sprintf("%-9s", target)) + " " +
			s.ForLevel(level(worst)).Render(fmt.Sprintf("%-7s", strings.ToUpper(worst.String())))
		items := make([]string, 0, len(rs))
		// Problems first, so they survive truncation on a narrow terminal.
		slices.SortStableFunc(rs, func(a, b health.Result) int { return b.Status.Severity() - a.Status.Severity() })
		for _, r := range rs {
			item := r.Name + " " + r.Value
			if len(rs) == 1 && r.Hint != "" {
				// A target that could not be checked has one result: say
				// what to do about it.
				item += " — " + r.Hint
			}
			if r.Status != health.OK {
				item = s.ForLevel(level(r.Status)).Render(item)
			}
			items = append(items, item)
		}
		lines = append(lines, ansi.Truncate(head+" "+strings.Join(items, s.Muted.Render(" · ")), t.width, "…"))
	}
	return strings.Join(lines, "\n")
}

func (t *Tab) sectionTitle(name string, focused bool, info string) string {
	s := t.c.Styles
	var title string
	if focused {
		title = s.PanelTitle.Render("▸ " + name)
	} else {
		title = s.Subtitle.Render("  " + name)
	}
	return ansi.Truncate(title+" "+info, t.width, "…")
}

func (t *Tab) nodesTitle() string {
	s := t.c.Styles
	info := s.Muted.Render(t.countInfo(len(t.nodes), t.nodeTable.Len(), t.nodeProblems))
	if t.focus == focusNodes {
		info += t.filterInfo() + s.Muted.Render("  sort "+t.nodeSort.name())
	}
	if err := t.sourceErr(kube.SourceNodes); err != "" {
		info = s.Error.Render(err)
	}
	return t.sectionTitle("Nodes", t.focus == focusNodes, info)
}

func (t *Tab) podsTitle() string {
	s := t.c.Styles
	info := s.Muted.Render(t.countInfo(len(t.pods), t.podTable.Len(), t.podProblems))
	if t.focus == focusPods {
		info += t.filterInfo() + s.Muted.Render("  sort "+t.podSort.name())
	}
	if err := t.sourceErr("pods/"); err != "" {
		info = s.Error.Render(err)
	}
	return t.sectionTitle("Pods", t.focus == focusPods, info)
}

func (t *Tab) countInfo(total, shown, problems int) string {
	out := fmt.Sprintf("%d", total)
	if shown != total {
		out = fmt.Sprintf("%d of %d", shown, total)
	}
	if problems > 0 {
		out += fmt.Sprintf(" · %d need attention", problems)
	}
	if t.problemsOnly {
		out += " · problems only"
	}
	return out
}

func (t *Tab) filterInfo() string {
	s := t.c.Styles
	if t.filtering {
		return "  " + t.filter.View()
	}
	if v := t.filter.Value(); v != "" {
		return "  " + s.FilterPrompt.Render("/"+v)
	}
	return ""
}

// sourceErr returns the first error of the sources whose name starts with
// prefix, for a section title ("" when they are fine).
func (t *Tab) sourceErr(prefix string) string {
	names := make([]string, 0, len(t.kubeErrs))
	for n := range t.kubeErrs {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if err := t.kubeErrs[n]; err != nil {
			return n + ": " + err.Error()
		}
	}
	return ""
}

func (t *Tab) nodesBody() string {
	if msg := t.kubeStateLine(); msg != "" {
		return msg
	}
	return t.nodeTable.View()
}

func (t *Tab) podsBody() string {
	if msg := t.kubeStateLine(); msg != "" {
		return ""
	}
	return t.podTable.View()
}

// kubeStateLine explains why there are no tables yet: not configured, still
// connecting, or the connection error with what to do.
func (t *Tab) kubeStateLine() string {
	s := t.c.Styles
	switch {
	case t.src.Kube == nil:
		return s.Muted.Render("  Kubernetes is not configured: set kubernetes.kubeconfig/context in the config (opsdeck config show).")
	case t.kubeErr != nil:
		return s.Error.Width(t.width).Render("  Kubernetes: "+t.kubeErr.Error()) + "\n" + s.Muted.Render("  press r to retry")
	case !t.synced:
		return s.Muted.Render("  connecting to the cluster…")
	}
	return ""
}
