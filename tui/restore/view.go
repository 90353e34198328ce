package restore

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/health"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/keys"
)

// stageNames label the breadcrumb.
var stageNames = map[stage]string{
	stageKind: "component", stageSet: "set", stageOptions: "options", stagePreflight: "preflight",
	stageConfirm: "confirm", stageRun: "run", stageSummary: "summary",
	stageTimeline: "moment", stageScope: "tables",
}

// The walkthroughs' stages in order: from a backup set, and to a point in
// time.
var (
	setStages = []stage{stageKind, stageSet, stageOptions, stagePreflight, stageConfirm, stageRun, stageSummary}
	pitStages = []stage{stageKind, stageTimeline, stageScope, stageOptions, stagePreflight, stageConfirm, stageRun, stageSummary}
)

// View implements common.Tab.
func (t *Tab) View() string {
	if t.width == 0 || t.height == 0 {
		return ""
	}
	var body string
	switch t.stage {
	case stageKind:
		body = t.kindView()
	case stageSet:
		body = t.setView()
	case stageOptions:
		body = t.optionsView()
	case stagePreflight:
		body = t.preflightView()
	case stageConfirm:
		body = t.confirmView()
	case stageRun:
		body = t.runView()
	case stageSummary:
		body = t.summaryView()
	case stageTimeline:
		body = t.timelineView()
	case stageScope:
		body = t.scopeView()
	}
	return t.pad(t.breadcrumb() + "\n" + body)
}

// pad fits the body to the height (cutting what does not fit) and adds
// the status line.
func (t *Tab) pad(body string) string {
	if t.height <= 1 {
		return t.statusLine()
	}
	lines := strings.Split(body, "\n")
	if n := t.height - 1; len(lines) > n {
		lines = lines[:max(n, 0)]
	}
	for len(lines) < t.height-1 {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n") + "\n" + t.statusLine()
}

// breadcrumb shows the stages with the current one lit; when it does not
// fit, the other stages shrink to their numbers.
func (t *Tab) breadcrumb() string {
	s := t.c.Styles
	ro := ""
	if t.c.ReadOnly {
		ro = "  " + s.StatusReadOnly.Render("read-only")
	}
	path := setStages
	if t.pitPath() {
		path = pitStages
	}
	var line string
	for _, short := range []bool{false, true} {
		parts := make([]string, len(path))
		for i, st := range path {
			label := fmt.Sprintf("%d %s", i+1, stageNames[st])
			switch {
			case st == t.stage:
				parts[i] = s.FilterPrompt.Render(label)
			case short:
				parts[i] = s.Muted.Render(fmt.Sprint(i + 1))
			default:
				parts[i] = s.Muted.Render(label)
			}
		}
		line = strings.Join(parts, s.Muted.Render(" › ")) + ro
		if ansi.StringWidth(line) <= t.width {
			break
		}
	}
	return ansi.Truncate(line, t.width, "…")
}

// heading is a stage's title with a muted remark.
func (t *Tab) heading(title, remark string) string {
	s := t.c.Styles
	line := s.PanelTitle.Render(title)
	if remark != "" {
		line += s.Muted.Render("  " + remark)
	}
	return ansi.Truncate(line, t.width, "…")
}

// statusLine is the note, else what the stage waits for.
func (t *Tab) statusLine() string {
	s := t.c.Styles
	if t.note != "" {
		st := s.Warn
		if t.noteOK {
			st = s.OK
		}
		return st.Render(ansi.Truncate(t.note, t.width, "…"))
	}
	var hint string
	switch t.stage {
	case stageKind, stageSet:
		if t.loading {
			hint = "reading the backup sets…"
		}
	case stageRun:
		hint = "esc does not cancel: a step that fails is undone, with the steps before it"
	case stageTimeline:
		switch {
		case t.pit.typing:
			hint = "enter uses the time · esc cancels"
		case t.canRestore():
			hint = "←/→ move between events · enter targets just before one · t types a time · esc back · r reads again"
		default:
			hint = "←/→ move between events · esc back · r reads again"
		}
	case stageScope:
		hint = "↑/↓ move · space chooses a table · enter sets the options · esc back to the timeline"
	}
	return s.Muted.Render(ansi.Truncate(hint, t.width, "…"))
}

// accessLine explains why no restore is offered, "" when one is.
func (t *Tab) accessLine() string {
	switch {
	case t.c.ReadOnly:
		return "Read-only session: restores are hidden. The backup sets are shown for reference; a restore needs the admin role in a session that is not read-only."
	case !t.c.Can(access.RestoreRun):
		return fmt.Sprintf("Restores need the %s role; this session is %s. The backup sets are shown for reference.", access.Needs(access.RestoreRun), t.c.Identity.Role())
	}
	return ""
}

// kindView is the component list.
func (t *Tab) kindView() string {
	s := t.c.Styles
	var b strings.Builder
	b.WriteString(t.heading("What to restore", "each restore is a plan of steps, undone if one fails") + "\n\n")
	for i, kind := range oprestore.Kinds {
		marker := "  "
		if i == t.kind {
			marker = s.FilterPrompt.Render("▸ ")
		}
		name := fmt.Sprintf("%-9s", kind)
		if i == t.kind {
			name = s.Title.Render(name)
		}
		line := marker + name + " " + s.Muted.Render(kindHelp[kind])
		b.WriteString(ansi.Truncate(line, t.width, "…") + "\n")
	}
	marker, name := "  ", pitEntry
	if t.pitPath() {
		marker, name = s.FilterPrompt.Render("▸ "), s.Title.Render(name)
	}
	b.WriteString("\n" + ansi.Truncate(marker+name+"  "+s.Muted.Render(pitHelp), t.width, "…") + "\n")
	switch {
	case t.engErr == nil && t.listErr == nil && !t.loading && t.pitPath():
		b.WriteString("\n" + s.Muted.Render(ansi.Truncate("  a timeline of the WAL archive with the destructive transactions found on it", t.width, "…")) + "\n")
	case t.engErr == nil && t.listErr == nil && !t.loading:
		b.WriteString("\n" + s.Muted.Render(ansi.Truncate("  "+t.counts(t.kindName()), t.width, "…")) + "\n")
	case t.engErr != nil:
		b.WriteString("\n" + s.Error.Render(ansi.Wrap("Backup store unavailable: "+t.engErr.Error(), t.width, "")) + "\n")
		b.WriteString(s.Muted.Render("Fix the backup section of the config, then press r.") + "\n")
	case t.listErr != nil:
		b.WriteString("\n" + s.Error.Render(ansi.Wrap(t.listErr.Error(), t.width, "")) + "\n")
		b.WriteString(s.Muted.Render("Press r to try again.") + "\n")
	}
	if a := t.accessLine(); a != "" {
		b.WriteString("\n" + s.Warn.Render(ansi.Wrap(a, t.width, "")) + "\n")
	}
	return b.String()
}

// setView is the list of sets that hold the chosen component.
func (t *Tab) setView() string {
	s := t.c.Styles
	var b strings.Builder
	remark := "newest first · enter sets the options"
	if !t.canRestore() {
		remark = "newest first · for reference only"
	}
	b.WriteString(t.heading(fmt.Sprintf("Backup sets with %s", strings.Join(componentsOf(t.kindName()), ", ")), remark) + "\n")
	switch {
	case t.engErr != nil:
		b.WriteString(s.Error.Render(ansi.Wrap("Backup store unavailable: "+t.engErr.Error(), t.width, "")))
	case t.listErr != nil:
		b.WriteString(s.Error.Render(ansi.Wrap(t.listErr.Error()+" — press r to try again", t.width, "")))
	case t.loading && len(t.sets) == 0:
		b.WriteString(s.Muted.Render("reading the backup sets…"))
	default:
		b.WriteString(t.tbl.View())
	}
	return b.String()
}

// preflightView is the preflight running, then its results.
func (t *Tab) preflightView() string {
	s := t.c.Styles
	var b strings.Builder
	title := "Preflight: " + t.subject()
	if t.plan != nil && t.plan.Options.PointInTime == nil {
		title = fmt.Sprintf("Preflight: %s restore from %s", t.plan.Options.Kind, t.plan.SetID)
	}
	b.WriteString(t.heading(title, "read-only: nothing changes yet") + "\n")
	if t.preparing {
		what := "re-reading the set's files and checking the targets…"
		if t.pitPath() {
			what = "choosing the base backup for the moment and checking the WAL and the targets…"
		}
		b.WriteString("\n" + s.FilterPrompt.Render(t.spinner()) + " " + ansi.Truncate(what, max(t.width-2, 0), "…") + "\n")
		if t.prepBarOn {
			b.WriteString(t.prepBar.View(t.width) + "\n")
		}
		b.WriteString("\n" + s.Muted.Render(ansi.Truncate("esc stops it and goes back to the options", t.width, "…")))
		return b.String()
	}
	b.WriteString(t.detail.View() + "\n")
	b.WriteString(t.preflightFooter())
	return b.String()
}

// preflightFooter says whether the plan may go on.
func (t *Tab) preflightFooter() string {
	s := t.c.Styles
	var line string
	switch {
	case t.plan == nil:
		line = s.Error.Render("No plan: nothing was changed.") + s.Muted.Render(" r tries again · esc back")
	case t.plan.Blocked() != nil:
		c := blockedBy(t.plan)
		line = s.Crit.Render("Blocked by CRIT "+c.Component+" "+c.Name) + s.Muted.Render(": fix it, then r runs the preflight again")
	default:
		line = s.OK.Render("Ready.") + s.Muted.Render(" enter, then type ") + s.Title.Render(t.plan.Confirm) + s.Muted.Render(" to confirm · r again · esc back")
	}
	return ansi.Truncate(line+t.more(), t.width, "…")
}

// confirmView is the plan's short summary and the typed confirmation.
func (t *Tab) confirmView() string {
	var b strings.Builder
	b.WriteString(t.heading("Confirm", "esc goes back to the preflight; nothing has changed yet") + "\n\n")
	b.WriteString(t.confirm.View())
	return b.String()
}

// scroll moves a viewport with the key map's list keys.
func scroll(vp *viewport.Model, msg tea.KeyPressMsg, k keys.KeyMap) {
	switch {
	case key.Matches(msg, k.Up):
		vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		vp.PageUp()
	case key.Matches(msg, k.PageDown):
		vp.PageDown()
	case key.Matches(msg, k.Top):
		vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		vp.GotoBottom()
	}
}

// more says that the viewport has more below.
func (t *Tab) more() string {
	if t.detail.AtBottom() {
		return ""
	}
	return t.c.Styles.Muted.Render(fmt.Sprintf(" · ↓ more (%d%%)", int(t.detail.ScrollPercent()*100)))
}

// blockedBy returns the first critical check of a blocked plan.
func blockedBy(p *oprestore.Plan) oprestore.Check {
	for _, c := range p.Checks {
		if c.Status == health.Crit {
			return c
		}
	}
	return oprestore.Check{}
}
