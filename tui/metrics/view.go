package metrics

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/health"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// Panel geometry: a panel is at least minPanelWidth wide and always
// panelHeight tall (border, value, two sparkline rows, threshold, detail).
const (
	minPanelWidth = 38
	panelHeight   = 7
)

// renderCache keeps the last rendered screen until something changes, so
// that a key press that changes nothing costs no rendering.
type renderCache struct {
	valid bool
	out   string
}

// grid is the panel layout for the current size.
type grid struct {
	cols, rows int // rows shown
	pw         int // panel width
	totalRows  int
	alertsH    int // lines left under the grid for the alerts
}

func (t *Tab) bodyHeight() int {
	h := t.height - 1 // header
	if t.notice != "" {
		h--
	}
	return max(h, 1)
}

func (t *Tab) layout() grid {
	n := max(len(t.panels), 1)
	cols := max(1, min(n, t.width/minPanelWidth))
	g := grid{cols: cols, pw: max(t.width/cols, 10)}
	g.totalRows = (n + cols - 1) / cols
	avail := t.bodyHeight()
	if g.totalRows*panelHeight > avail {
		avail-- // the "rows i–j of n" line
	}
	g.rows = max(1, min(g.totalRows, avail/panelHeight))
	g.alertsH = avail - g.rows*panelHeight
	return g
}

// keepVisible scrolls the grid so that the selected panel shows.
func (t *Tab) keepVisible() {
	g := t.layout()
	row := t.sel / g.cols
	if row < t.top {
		t.top = row
	}
	if row >= t.top+g.rows {
		t.top = row - g.rows + 1
	}
	t.top = max(0, min(t.top, g.totalRows-g.rows))
}

// View implements common.Tab.
func (t *Tab) View() string {
	if t.width == 0 || t.height == 0 {
		return ""
	}
	if t.cache.valid {
		return t.cache.out
	}
	parts := []string{t.header()}
	if t.notice != "" {
		st := t.c.Styles.OK
		if t.noticeE {
			st = t.c.Styles.Error
		}
		parts = append(parts, st.Render(ansi.Truncate(t.notice, t.width, "…")))
	}
	switch {
	case t.confirm != nil:
		parts = append(parts, t.confirmView())
	case t.src.Engine == nil:
		parts = append(parts, t.c.Styles.Muted.Width(t.width).Render(
			"  No source to sample: set postgres.dsn, redis.url, a kubeconfig or prometheus.url in the config (opsdeck config show)."))
	case !t.have:
		parts = append(parts, t.c.Styles.Muted.Render("  taking the first samples…"))
	case t.mode == modeEnlarged:
		parts = append(parts, t.enlargedView())
	case t.mode == modeAlerts:
		parts = append(parts, t.alertsView(t.bodyHeight()))
	default:
		parts = append(parts, t.gridView())
	}
	t.cache = renderCache{valid: true, out: strings.Join(parts, "\n")}
	return t.cache.out
}

// header: window, live or paused, each source's health, the alert count.
func (t *Tab) header() string {
	s := t.c.Styles
	live := s.OK.Render("● live")
	if t.paused {
		live = s.Warn.Render("⏸ paused")
	}
	items := []string{s.Title.Render("window " + shortWindow(t.window())), live}
	for _, src := range t.snap.Sources {
		switch {
		case src.Runs == 0:
			items = append(items, s.Muted.Render(src.Name+" …"))
		case src.OK:
			items = append(items, s.OK.Render("✓")+" "+s.Muted.Render(src.Name))
		default:
			items = append(items, s.Error.Render("✗ "+src.Name))
		}
	}
	items = append(items, t.alertCount())
	return ansi.Truncate(strings.Join(items, s.Muted.Render(" · ")), t.width, "…")
}

func (t *Tab) alertCount() string {
	s := t.c.Styles
	if t.alertsErr != nil {
		return s.Error.Render("alerts: Alertmanager unreachable")
	}
	firing := 0
	for _, a := range t.alertList {
		if a.State == alerts.StateFiring {
			firing++
		}
	}
	label := fmt.Sprintf("%d alerts firing", firing)
	switch {
	case firing == 0:
		return s.Muted.Render("no alert firing")
	case hasSeverity(t.alertList, "critical"):
		return s.Crit.Render(label)
	}
	return s.Warn.Render(label)
}

func hasSeverity(as []alerts.Alert, sev string) bool {
	for _, a := range as {
		if a.State == alerts.StateFiring && alerts.SeverityRank(a.Severity) >= alerts.SeverityRank(sev) {
			return true
		}
	}
	return false
}

func shortWindow(d time.Duration) string {
	return health.ShortDuration(d)
}

// level maps a health status to a style level.
func level(s health.Status) styles.Level { return styles.Level(s) }

func (t *Tab) gridView() string {
	g := t.layout()
	var b strings.Builder
	for r := t.top; r < t.top+g.rows && r < g.totalRows; r++ {
		var cells [][]string
		for c := range g.cols {
			i := r*g.cols + c
			if i >= len(t.panels) {
				break
			}
			cells = append(cells, t.panel(t.panels[i], g.pw, i == t.sel))
		}
		// Every panel line is exactly g.pw wide: join them side by side
		// without measuring.
		for l := range panelHeight {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			for _, cell := range cells {
				b.WriteString(cell[l])
			}
		}
	}
	out := b.String()
	if g.totalRows > g.rows {
		out += "\n" + t.c.Styles.Muted.Render(fmt.Sprintf("  rows %d–%d of %d · ↑↓ to scroll", t.top+1, t.top+g.rows, g.totalRows))
	}
	for _, a := range t.src.Absent {
		if g.alertsH < 1 {
			break
		}
		out += "\n" + t.c.Styles.Muted.Render(ansi.Truncate("  not configured: "+a, t.width, "…"))
		g.alertsH--
	}
	if g.alertsH >= 3 {
		out += "\n" + t.alertsSummary(g.alertsH)
	}
	return out
}

// panel renders one series as a bordered box of width w, as lines of
// exactly w cells: the title and state in the top border, the value with
// min and max over the window, a two-row sparkline, the threshold and the
// detail (or the error). Text is cut to fit before it is styled, so that
// no styled string has to be measured.
func (t *Tab) panel(v opmetrics.SeriesView, w int, selected bool) []string {
	s := t.c.Styles
	inner := max(w-4, 4)
	border := s.PanelBorder
	corner := "╭─ "
	if selected {
		border, corner = s.PanelBorderSelected, "╭▸ "
	}
	stStyle := s.ForLevel(level(v.State))
	state := strings.ToUpper(v.State.String())
	if v.Waiting {
		state = "…"
	}
	title := ansi.Truncate(v.Source+" · "+v.Title, max(w-8-len(state), 1), "…")
	fill := max(w-7-ansi.StringWidth(title)-len(state), 0)
	lines := make([]string, 0, panelHeight)
	lines = append(lines, border.Render(corner)+s.Title.Render(title)+border.Render(" "+strings.Repeat("─", fill)+" ")+
		stStyle.Render(state)+border.Render(" ╮"))

	from := t.snap.At.Add(-t.window())
	pts := windowPoints(v.Points, from)
	lo, hi, ok := opmetrics.MinMax(pts)
	side := border.Render("│")
	row := func(text string, st lipgloss.Style) {
		text = ansi.Truncate(text, inner, "…")
		lines = append(lines, side+" "+st.Render(text)+strings.Repeat(" ", max(inner-ansi.StringWidth(text), 0))+" "+side)
	}
	if v.Waiting {
		row("waiting for the second sample…", s.Muted)
	} else {
		value := opmetrics.FormatValue(v.Value, v.Unit)
		rest := ""
		if ok {
			rest = "  min " + opmetrics.FormatValue(lo, v.Unit) + " · max " + opmetrics.FormatValue(hi, v.Unit)
		}
		rest = ansi.Truncate(rest, max(inner-len(value), 0), "…")
		pad := max(inner-ansi.StringWidth(value)-ansi.StringWidth(rest), 0)
		lines = append(lines, side+" "+stStyle.Bold(true).Render(value)+s.Muted.Render(rest)+strings.Repeat(" ", pad)+" "+side)
	}
	for _, l := range t.sparkRows(v, pts, from, inner, stStyle) {
		lines = append(lines, side+" "+l+" "+side) // exactly inner cells wide
	}
	row(v.Threshold.Format(v.Unit), s.Muted)
	if v.Err != "" {
		row(v.Err, s.Error)
	} else {
		row(v.Detail, s.Muted)
	}
	lines = append(lines, border.Render("╰"+strings.Repeat("─", max(w-2, 0))+"╯"))
	return lines
}

// windowPoints returns the points at or after from (points are in time order).
func windowPoints(pts []opmetrics.Point, from time.Time) []opmetrics.Point {
	for i, p := range pts {
		if !p.At.Before(from) {
			return pts[i:]
		}
	}
	return nil
}

// alertsSummary lists the alerts under the grid, in h lines.
func (t *Tab) alertsSummary(h int) string {
	s := t.c.Styles
	lines := []string{s.Subtitle.Render(t.alertsTitle()) + s.Muted.Render("  a to manage")}
	if t.alertsErr != nil {
		lines = append(lines, s.Error.Render("  "+t.alertsErr.Error()))
	}
	for _, a := range t.alertList {
		if len(lines) >= h {
			break
		}
		lines = append(lines, t.alertLine(a, false))
	}
	if len(t.alertList) == 0 && t.alertsErr == nil {
		lines = append(lines, s.Muted.Render("  nothing firing"))
	}
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], t.width, "…")
	}
	return strings.Join(lines, "\n")
}

func (t *Tab) alertsTitle() string {
	if t.src.Alertmanager != nil {
		host := t.src.AlertmanagerHost
		if host == "" {
			host = "Alertmanager"
		}
		return "Alerts from " + host
	}
	return "Alerts: threshold rules evaluated by opsdeck (no alertmanager.url)"
}

// alertLine renders one alert: severity, name, state, since, summary, labels.
func (t *Tab) alertLine(a alerts.Alert, selected bool) string {
	s := t.c.Styles
	sev := s.Muted
	switch alerts.SeverityRank(a.Severity) {
	case 3:
		sev = s.Crit
	case 2:
		sev = s.Warn
	}
	mark := "  "
	if selected {
		mark = "▸ "
	}
	state := a.State
	if a.State != alerts.StateFiring {
		sev = s.Muted
	}
	line := mark + sev.Render(fmt.Sprintf("%-8s %-26s", a.Severity, ansi.Truncate(a.Name, 26, "…"))) + " " +
		s.Muted.Render(fmt.Sprintf("%-9s %6s", state, since(t.snap.At, a.Since))) + "  " + a.Summary
	if l := alerts.LabelString(a.Labels); l != "" {
		line += s.Muted.Render("  " + l)
	}
	if selected {
		return s.TableSelected.Render(ansi.Truncate(line, t.width, "…"))
	}
	return line
}

// since renders how long ago t was, relative to now.
func since(now, t time.Time) string {
	if t.IsZero() || now.IsZero() {
		return "–"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return health.ShortDuration(d.Round(time.Second))
}

// sparkKey identifies a drawn sparkline: the same series, data, window,
// width and state draw the same rows, so key presses redraw none.
type sparkKey struct {
	id         string
	last, from time.Time
	n, width   int
	state      health.Status
}

// sparkRows returns the sparkline rows of v, drawn or from the cache.
func (t *Tab) sparkRows(v opmetrics.SeriesView, pts []opmetrics.Point, from time.Time, width int, st lipgloss.Style) []string {
	k := sparkKey{id: v.ID, from: from, n: len(pts), width: width, state: v.State}
	if len(pts) > 0 {
		k.last = pts[len(pts)-1].At
	}
	if rows, ok := t.sparks[k]; ok {
		return rows
	}
	rows := strings.Split(drawSparkline(pts, from, t.snap.At, width, 2, st), "\n")
	if t.sparks == nil || len(t.sparks) > 4*max(len(t.panels), 16) {
		t.sparks = map[sparkKey][]string{} // drop what older snapshots drew
	}
	t.sparks[k] = rows
	return rows
}
