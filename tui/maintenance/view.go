package maintenance

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/access"
	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
)

// View implements common.Tab.
func (t *Tab) View() string {
	if t.width == 0 || t.height == 0 {
		return ""
	}
	s := t.c.Styles
	switch t.view {
	case viewDetail:
		return t.frame(s.PanelTitle.Render("Finding")+s.Muted.Render("  esc back · ↑/↓ scroll"), t.detail.View())
	case viewPlan:
		return t.frame(s.PanelTitle.Render("Maintenance plan")+s.Muted.Render("  what opsdeck automates · esc back"), t.detail.View())
	case viewReport:
		return t.frame(s.PanelTitle.Render("Report")+s.Muted.Render("  the Markdown report of the last run (--report PATH writes it) · esc back"), t.detail.View())
	case viewConfirm:
		return t.frame(s.PanelTitle.Render("Confirm"), t.confirm.View())
	}
	var b strings.Builder
	b.WriteString(t.titleLine())
	b.WriteByte('\n')
	if t.engErr != nil {
		b.WriteString(s.Error.Render(ansi.Wrap("Maintenance unavailable: "+t.engErr.Error(), t.width, "")))
		return t.pad(b.String())
	}
	b.WriteString(t.tasks.View())
	b.WriteByte('\n')
	b.WriteString(t.findingsHeading())
	b.WriteByte('\n')
	b.WriteString(t.findings.View())
	return t.pad(b.String())
}

// frame puts a header above body and fills the height.
func (t *Tab) frame(header, body string) string {
	out := ansi.Truncate(header, t.width, "…") + "\n" + body
	lines := strings.Count(out, "\n") + 1
	if pad := t.height - lines; pad > 0 {
		out += strings.Repeat("\n", pad)
	}
	return out
}

// pad fills the body to the height and adds the status line.
func (t *Tab) pad(body string) string {
	lines := strings.Count(body, "\n") + 1
	if pad := t.height - 1 - lines; pad > 0 {
		body += strings.Repeat("\n", pad)
	}
	return body + "\n" + t.statusLine()
}

func (t *Tab) titleLine() string {
	s := t.c.Styles
	title := s.Title.Render("Maintenance")
	info := s.Muted.Render("  tasks with their last run · enter runs the selected one · p plan")
	if t.c.ReadOnly {
		info += "  " + s.StatusReadOnly.Render("read-only: actions hidden")
	}
	return ansi.Truncate(title+info, t.width, "…")
}

func (t *Tab) findingsHeading() string {
	s := t.c.Styles
	marker := "  "
	if t.focus == focusFindings {
		marker = s.FilterPrompt.Render("▸ ")
	}
	if t.rep == nil {
		return ansi.Truncate(marker+s.Title.Render("Findings"), t.width, "…")
	}
	c := t.rep.Counts()
	head := fmt.Sprintf("Findings of %s · %d", t.repMode, len(t.rep.Findings))
	info := fmt.Sprintf("  %s · %s · sort %s", strings.ToUpper(t.rep.Status.String()), counts(c), t.sort)
	if n := len(t.rep.PendingActions()); n > 0 && !t.c.ReadOnly {
		info += fmt.Sprintf(" · • %d with an action", n)
	}
	return ansi.Truncate(marker+s.Title.Render(head)+s.Muted.Render(info), t.width, "…")
}

// statusLine is the running job's progress, else the last result, else
// what the keys do.
func (t *Tab) statusLine() string {
	s := t.c.Styles
	switch {
	case t.running != "":
		return ansi.Truncate(t.progress.View(max(t.width-16, 20))+s.Muted.Render("  esc cancels"), t.width, "…")
	case t.result != "" && t.resultOK:
		return s.OK.Render(ansi.Truncate(t.result, t.width, "…"))
	case t.result != "":
		return s.Warn.Render(ansi.Truncate(t.result, t.width, "…"))
	case t.rep == nil:
		return s.Muted.Render(ansi.Truncate("↑/↓ choose a task · enter run · f findings · p the reference plan", t.width, "…"))
	}
	return s.Muted.Render(ansi.Truncate("t/f tasks/findings · enter details · b runbook · a action · s sort · d report", t.width, "…"))
}

// showDetail opens the selected finding.
func (t *Tab) showDetail() {
	f, ok := t.selectedFinding()
	if !ok {
		return
	}
	t.detail.SetContent(t.detailText(f))
	t.detail.GotoTop()
	t.view = viewDetail
}

func (t *Tab) detailText(f opmaintain.Finding) string {
	s := t.c.Styles
	w := max(t.width-2, 20)
	wrap := func(text string) string { return lipgloss.NewStyle().Width(w).Render(text) }
	var b strings.Builder
	head := strings.ToUpper(f.StatusText()) + "  " + string(f.Area) + " · " + f.Check
	if f.Object != "" {
		head += ": " + f.Object
	}
	b.WriteString(s.ForLevel(level(f.Level())).Render(ansi.Truncate(head, w, "…")) + "\n\n")
	b.WriteString(wrap(f.Summary) + "\n")
	section := func(title, text string) {
		if text == "" {
			return
		}
		b.WriteString("\n" + s.HelpSection.Render(title) + "\n" + wrap(text) + "\n")
	}
	if len(f.Evidence) > 0 {
		b.WriteString("\n" + s.HelpSection.Render("Evidence") + "\n")
		for _, e := range f.Evidence {
			b.WriteString(wrap("· "+e) + "\n")
		}
	}
	section("Why it matters", f.Why)
	section("What to do", f.Suggestion)
	section("Done", f.Done)
	if f.Runbook != "" {
		b.WriteString("\n" + s.HelpSection.Render("Runbook") + "\n" + f.Runbook + s.Muted.Render("  (b opens it)") + "\n")
	}
	if f.Action != nil {
		note := "a runs it, after a confirmation"
		switch {
		case t.c.ReadOnly:
			note = "hidden: read-only"
		case !t.canAct(f):
			note = fmt.Sprintf("needs the %s role", accessNeeds(f))
		}
		b.WriteString("\n" + s.HelpSection.Render("Action") + "\n" + wrap(f.Action.Label) + "\n" + s.Muted.Render("("+note+")") + "\n")
	}
	return b.String()
}

// showPlan shows the reference plan with what opsdeck automates.
func (t *Tab) showPlan() {
	s := t.c.Styles
	var b strings.Builder
	period := ""
	for _, p := range opmaintain.Plan {
		if p.Period != period {
			period = p.Period
			b.WriteString("\n" + s.HelpSection.Render(strings.ToUpper(period[:1])+period[1:]) + "\n")
		}
		auto := s.OK.Render("yes   ")
		switch p.Automated {
		case "partly":
			auto = s.Warn.Render("partly")
		case "no":
			auto = s.Muted.Render("no    ")
		}
		how := p.How
		if how == "" {
			how = "—"
		}
		last := ""
		if lr, ok := t.runs[p.Mode]; ok && p.Mode != "" {
			last = s.Muted.Render(" · last run " + lr.At.Format("2006-01-02 15:04") + " " + strings.ToUpper(lr.Status.String()))
		}
		line := fmt.Sprintf("  %-20s %s  %-28s %s", p.Item, auto, how, s.Muted.Render(p.Note)) + last
		b.WriteString(ansi.Truncate(line, t.width, "…") + "\n")
	}
	b.WriteString("\n" + s.Muted.Render(ansi.Wrap("Every item links its runbook section in the Runbooks tab (maintenance.md has the whole schedule).", t.width, "")))
	t.detail.SetContent(strings.TrimPrefix(b.String(), "\n"))
	t.detail.GotoTop()
	t.view = viewPlan
}

// showReport shows the last run's Markdown report.
func (t *Tab) showReport() {
	if t.rep == nil {
		t.result, t.resultOK = "no report yet: run a task first", false
		return
	}
	var b strings.Builder
	if err := opmaintain.WriteMarkdown(&b, t.rep); err != nil {
		t.result, t.resultOK = "report: "+err.Error(), false
		return
	}
	t.detail.SetContent(ansi.Wrap(b.String(), max(t.width, 20), ""))
	t.detail.GotoTop()
	t.view = viewReport
}

// accessNeeds names the role a finding's action needs.
func accessNeeds(f opmaintain.Finding) string {
	if f.Action == nil {
		return ""
	}
	return access.Needs(f.Action.Permission()).String()
}
