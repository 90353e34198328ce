package incidenttab

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/access"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/tui/keys"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

// fillEntries puts the timeline into its table, oldest first, the newest
// selected while the selection was at the end.
func (t *Tab) fillEntries() {
	follow := t.entries.Cursor() >= t.entries.Len()-1
	loc := t.c.Now().Location()
	rows := make([]table.Row, 0, len(t.timeline))
	for i, e := range t.timeline {
		rows = append(rows, table.Row{
			Key:   fmt.Sprint(i),
			Level: levelOf(e),
			Cells: []string{e.At.In(loc).Format("15:04:05"), e.Label(), e.Who, oneLine(e.Text)},
		})
	}
	t.entries.SetRows(rows)
	if follow {
		t.entries.GotoBottom()
	}
	if len(rows) == 0 && !t.loading {
		t.entries.SetEmpty("nothing recorded yet")
	}
}

// levelOf colours an entry: failing alerts and checks, failed actions.
func levelOf(e opincident.Entry) styles.Level {
	switch {
	case e.Kind == opincident.KindAlert && e.Status == "firing", e.Status == "crit", e.Status == "error",
		e.Kind == opincident.KindSource:
		return styles.LevelCrit
	case e.Status == "warn", e.Status == "unknown", e.Status == "refused", e.Kind == opincident.KindEvent:
		return styles.LevelWarn
	}
	return styles.LevelOK
}

func (t *Tab) fillList() {
	now := t.c.Now()
	rows := make([]table.Row, 0, len(t.past))
	for _, inc := range t.past {
		state, lvl := "closed", styles.LevelOK
		if inc.IsOpen() {
			state, lvl = "open", styles.LevelWarn
		}
		rows = append(rows, table.Row{Key: fmt.Sprint(inc.ID), Level: lvl, Cells: []string{
			fmt.Sprint(inc.ID), inc.Level, state, inc.OpenedAt.In(now.Location()).Format("2006-01-02 15:04"),
			inc.OpenedBy, opincident.Short(inc.Elapsed(now)), inc.Title}})
	}
	t.list.SetRows(rows)
}

// View implements common.Tab.
func (t *Tab) View() string {
	if t.width <= 0 || t.height <= 0 {
		return ""
	}
	s := t.c.Styles
	if t.src.Watcher == nil {
		return s.Error.Render("  incident mode is not available: the state dir's incidents cannot be read (see the log)")
	}
	if t.showDetail {
		return s.PanelTitle.Render("Timeline entry") + s.Muted.Render("  esc back") + "\n" + t.detail.View()
	}
	var lines []string
	switch t.mode {
	case modeLevel:
		return t.levelForm()
	case modeTitle, modeNote, modeSummary:
		lines = append(lines, "  "+t.input.View())
	}
	inc, showing := t.shown()
	if showing {
		lines = append(lines, t.header(inc)...)
	} else {
		head := s.Subtitle.Render(fmt.Sprintf("  No incident is open in %s.", t.c.Env.Name))
		if t.c.Can(access.IncidentOpen) {
			head += s.Muted.Render(" i opens one (P0–P3).")
		}
		if t.pastErr != nil {
			head = s.Error.Render("  incidents: " + t.pastErr.Error())
		}
		lines = append(lines, head, s.Muted.Render(fmt.Sprintf("  %s · enter shows a timeline", plural(len(t.past), "past incident", "past incidents"))))
	}
	lines = append(lines, t.statusLine())
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, t.width, "…")
	}
	body := t.list.View()
	if showing {
		body = t.entries.View()
	}
	return strings.Join(lines, "\n") + "\n" + body
}

// header is the shown incident's two lines: level, title, who and how long
// against its response time.
func (t *Tab) header(inc opincident.Incident) []string {
	s := t.c.Styles
	now := t.c.Now()
	resp := inc.Response(t.c.Config.Incident)
	clock := fmt.Sprintf("%s of %s", opincident.Short(inc.Elapsed(now)), opincident.Short(resp))
	lvl := s.Warn
	if inc.Overdue(t.c.Config.Incident, now) {
		clock += " — past its response time"
		lvl = s.Crit
	}
	title := lvl.Render(fmt.Sprintf("  %s · %s", strings.ToUpper(inc.Name()), inc.Level)) + " " + s.Title.Render(inc.Title)
	var meta string
	if inc.IsOpen() {
		meta = fmt.Sprintf("  opened by %s at %s · %s", inc.OpenedBy, inc.OpenedAt.In(now.Location()).Format("15:04"), lvl.Render(clock))
	} else {
		meta = fmt.Sprintf("  closed by %s after %s · postmortem %s · esc back", inc.ClosedBy,
			opincident.Short(inc.Elapsed(now)), inc.Postmortem)
	}
	notes := 0
	for _, e := range inc.Entries {
		if e.Kind == opincident.KindNote {
			notes++
		}
	}
	meta += s.Muted.Render(" · " + plural(len(t.timeline), "entry", "entries") + ", " + plural(notes, "note", "notes") +
		", " + plural(len(inc.Bundles), "bundle", "bundles"))
	return []string{title, meta}
}

func (t *Tab) statusLine() string {
	s := t.c.Styles
	switch {
	case t.busy != "":
		return s.Warn.Render("  ⟳ " + t.busy + "…")
	case t.status != "" && t.bad:
		return s.Error.Render("  " + t.status)
	case t.status != "":
		return s.OK.Render("  " + t.status)
	case t.loading:
		return s.Muted.Render("  reading…")
	}
	return ""
}

// levelForm asks for the new incident's level.
func (t *Tab) levelForm() string {
	s := t.c.Styles
	cfg := t.c.Config.Incident
	lines := []string{s.Title.Render("  Open an incident") + s.Muted.Render("  (esc cancels)"), "", "  Level:"}
	what := map[string]string{"P0": "critical: the service is down", "P1": "major: a core function fails",
		"P2": "minor: degraded, a workaround exists", "P3": "low: cosmetic or one user"}
	for i, l := range opincident.Levels {
		d, _ := cfg.Response.Of(l)
		lines = append(lines, fmt.Sprintf("    %s  %s  %s %s", s.HelpKey.Render(fmt.Sprint(i)), s.Title.Render(l),
			s.Muted.Render("respond within "+opincident.Short(d)+" ·"), what[l]))
	}
	lines = append(lines, "", s.Muted.Render("  then type the title; every session sees the banner at once"))
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, t.width, "…")
	}
	return strings.Join(lines, "\n")
}

// ShortHelp implements common.Tab.
func (t *Tab) ShortHelp() []key.Binding {
	k := t.c.Keys
	if t.showDetail {
		return []key.Binding{k.Back}
	}
	open, note, bundle, closing := t.actions()
	if t.open {
		return keys.Enabled(note, bundle, closing, k.Enter)
	}
	return keys.Enabled(open, k.Enter)
}

// actions are the tab's action bindings, each disabled when this session
// may not use it.
func (t *Tab) actions() (open, note, bundle, closing key.Binding) {
	k := t.c.Keys.Incident
	open, note, bundle, closing = k.Open, k.Note, k.Bundle, k.Close
	open.SetEnabled(t.c.Can(access.IncidentOpen))
	note.SetEnabled(t.c.Can(access.IncidentNote))
	bundle.SetEnabled(t.src.Bundle != nil && t.c.Can(access.IncidentBundle))
	closing.SetEnabled(t.closeRefusal() == "")
	return open, note, bundle, closing
}

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding {
	k := t.c.Keys
	open, note, bundle, closing := t.actions()
	return [][]key.Binding{keys.Enabled(open, note, bundle, closing), {k.Enter, k.Back, k.Refresh}}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func joinShort(ss []string) string {
	if len(ss) > 3 {
		return strings.Join(ss[:3], ", ") + ", …"
	}
	return strings.Join(ss, ", ")
}

// wrap breaks text at width.
func wrap(text string, width int) string {
	return lipgloss.NewStyle().Width(width).Render(text)
}
