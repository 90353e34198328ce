// Package tui is the cockpit: one root model holding the tab bar, the status
// bar and the help screen, and routing messages to the tabs. All I/O happens
// in tea.Cmds started by the tabs; Update never blocks.
package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/keys"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// Model is the root model of the cockpit.
type Model struct {
	c        *common.Common
	tabs     []common.Tab
	active   int
	width    int
	height   int
	showHelp bool
	kube     common.KubeInfoMsg
	// taskChanges signals when a task starts or ends in any session.
	taskChanges <-chan struct{}
	// quitArmed is set by a first q while this session's backup or
	// restore runs: leaving stops it, so it takes a second q.
	quitArmed bool
	// banner is whether the incident banner takes a line.
	banner bool
}

// New returns the cockpit with the given tabs, the first one active.
func New(c *common.Common, tabs ...common.Tab) *Model {
	return &Model{c: c, tabs: tabs}
}

// Init starts every tab's data sources at once, so switching tabs shows data
// that is already there. With theme auto it asks the terminal for its
// background colour; nothing waits for the answer (see themeFrom).
func (m *Model) Init() tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(m.tabs)+2)
	if m.c.AutoTheme() {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	for _, t := range m.tabs {
		cmds = append(cmds, t.Init())
	}
	if m.c.Tasks != nil {
		m.taskChanges = m.c.Tasks.Subscribe(m.c.Context)
		cmds = append(cmds, m.watchTasks())
	}
	if m.c.Incidents != nil {
		m.banner = m.incidentOpen()
		cmds = append(cmds, m.bannerTick())
	}
	return tea.Batch(cmds...)
}

// bannerTickMsg redraws the incident banner: its clock, or the banner
// itself when an incident was opened or closed in any session or process.
type bannerTickMsg struct{}

func (m *Model) bannerTick() tea.Cmd {
	return m.c.Tick(time.Second, func(time.Time) tea.Msg { return bannerTickMsg{} })
}

// incidentOpen reports whether an incident is open, as the watcher last read.
func (m *Model) incidentOpen() bool {
	if m.c.Incidents == nil {
		return false
	}
	_, open, _ := m.c.Incidents.Current()
	return open
}

// tasksChangedMsg says a task started or ended somewhere in the process.
type tasksChangedMsg struct{}

// watchTasks waits for the next task to start or end, in any session.
func (m *Model) watchTasks() tea.Cmd {
	ch, done := m.taskChanges, m.c.Context.Done()
	return func() tea.Msg {
		select {
		case <-ch:
			return tasksChangedMsg{}
		case <-done:
			return nil
		}
	}
}

// Active returns the index of the active tab.
func (m *Model) Active() int { return m.active }

// Update routes a message: keys to the help screen, the root's own bindings
// or the active tab; everything else to every tab.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.resize()
		return m, nil
	case common.KubeInfoMsg:
		m.kube = msg
		return m, nil
	case tasksChangedMsg:
		// The status bar reads the registry when it renders.
		return m, m.watchTasks()
	case bannerTickMsg:
		if open := m.incidentOpen(); open != m.banner {
			m.banner = open
			m.resize()
		}
		return m, tea.Batch(m.bannerTick(), m.broadcast(msg))
	case common.OpenRunbookMsg:
		return m, m.openRunbook(msg.Section)
	case tea.BackgroundColorMsg:
		return m, m.themeFrom(msg)
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	}
	return m, m.broadcast(msg)
}

func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if key.Matches(msg, k.Interrupt) {
		return tea.Quit
	}
	if m.showHelp {
		if key.Matches(msg, k.Help, k.Back, k.Quit) {
			m.showHelp = false
		}
		return nil
	}
	if len(m.tabs) == 0 {
		if key.Matches(msg, k.Quit) {
			return tea.Quit
		}
		return nil
	}
	tab := m.tabs[m.active]
	armed := m.quitArmed
	m.quitArmed = false
	if !tab.Capturing() {
		switch {
		case key.Matches(msg, k.Quit):
			if !armed && m.ownTaskRunning() {
				m.quitArmed = true
				return nil
			}
			return tea.Quit
		case key.Matches(msg, k.Help):
			m.showHelp = true
			return nil
		case key.Matches(msg, k.NextTab):
			m.active = (m.active + 1) % len(m.tabs)
			return nil
		case key.Matches(msg, k.PrevTab):
			m.active = (m.active + len(m.tabs) - 1) % len(m.tabs)
			return nil
		case key.Matches(msg, k.Incident.Open):
			for i, t := range m.tabs {
				if o, ok := t.(common.IncidentOpener); ok {
					m.active = i
					return o.StartOpen()
				}
			}
		}
		for i, b := range k.Tabs {
			if i < len(m.tabs) && key.Matches(msg, b) {
				m.active = i
				return nil
			}
		}
	}
	t, cmd := tab.Update(msg)
	m.tabs[m.active] = t
	return cmd
}

// globalKeys are the bindings of every tab, i among them when a tab opens
// incidents.
func (m *Model) globalKeys() []key.Binding {
	bs := m.c.Keys.Global(len(m.tabs))
	for _, t := range m.tabs {
		if _, ok := t.(common.IncidentOpener); ok {
			return append(bs[:len(bs)-2:len(bs)-2], m.c.Keys.Incident.Open, bs[len(bs)-2], bs[len(bs)-1])
		}
	}
	return bs
}

// openRunbook switches to the tab that shows runbooks and opens section
// there; without such a tab it does nothing.
func (m *Model) openRunbook(section string) tea.Cmd {
	for i, t := range m.tabs {
		if o, ok := t.(common.RunbookOpener); ok {
			m.active, m.showHelp = i, false
			return o.OpenRunbook(section)
		}
	}
	return nil
}

// themeFrom follows the terminal's answer to the background colour query
// when the theme is auto: the light styles on a light background, the dark
// ones otherwise, and every tab told. The cockpit draws dark until then, so
// a terminal that never answers (some tmux setups, a slow SSH link) keeps
// the dark palette and nothing ever waits for it.
func (m *Model) themeFrom(msg tea.BackgroundColorMsg) tea.Cmd {
	if !m.c.AutoTheme() || msg.Color == nil {
		return nil
	}
	t := styles.Dark
	if !msg.IsDark() {
		t = styles.Light
	}
	if !m.c.SetTheme(t) {
		return nil
	}
	return m.broadcast(common.ThemeMsg{Theme: t})
}

func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for i, t := range m.tabs {
		nt, cmd := t.Update(msg)
		m.tabs[i] = nt
		if cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	return tea.Batch(cmds...)
}

// resize gives every tab the body's size.
func (m *Model) resize() {
	for _, t := range m.tabs {
		t.SetSize(m.width, m.bodyHeight())
	}
}

// bodyHeight is the height left for a tab: the tab bar and the status bar
// take one line each, the incident banner one more.
func (m *Model) bodyHeight() int {
	if m.banner {
		return max(m.height-3, 0)
	}
	return max(m.height-2, 0)
}

// View renders the tab bar, the active tab (or the help screen) and the
// status bar.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "opsdeck"
	return v
}

// Render returns the screen as a string; golden tests compare it.
func (m *Model) Render() string {
	if m.width == 0 || m.height == 0 {
		return "starting opsdeck…"
	}
	body := ""
	if m.showHelp {
		body = m.helpView()
	} else if len(m.tabs) > 0 {
		body = m.tabs[m.active].View()
	}
	body = lipgloss.NewStyle().Width(m.width).Height(m.bodyHeight()).MaxHeight(m.bodyHeight()).MaxWidth(m.width).Render(body)
	top := m.tabBar()
	if m.banner {
		top += "\n" + m.bannerLine()
	}
	return top + "\n" + body + "\n" + m.statusBar()
}

// bannerLine is the open incident: level, title, who opened it and how
// long ago against its level's response time, red once past it.
func (m *Model) bannerLine() string {
	inc, open, _ := m.c.Incidents.Current()
	if !open {
		return ""
	}
	now := m.c.Now()
	st := m.c.Styles.Banner
	clock := fmt.Sprintf("%s of %s", opincident.Short(inc.Elapsed(now)), opincident.Short(inc.Response(m.c.Config.Incident)))
	if inc.Overdue(m.c.Config.Incident, now) {
		st = m.c.Styles.BannerOverdue
		clock += " — RESPONSE TIME PASSED"
	}
	right := fmt.Sprintf(" %s · by %s ", clock, inc.OpenedBy)
	left := fmt.Sprintf(" INCIDENT %d · %s · %s", inc.ID, inc.Level, inc.Title)
	room := m.width - lipgloss.Width(right)
	if room < 12 {
		return st.Render(ansi.Truncate(left+" ·"+right, m.width, "…") + strings.Repeat(" ", max(m.width-lipgloss.Width(left+" ·"+right), 0)))
	}
	left = ansi.Truncate(left, room, "…")
	return st.Render(left + strings.Repeat(" ", room-lipgloss.Width(left)) + right)
}

// tabBar names the tabs, the active one highlighted. When they do not fit
// it drops the program's name, then the padding between tabs, then uses
// the tabs' short titles, and only then cuts the line.
func (m *Model) tabBar() string {
	s := m.c.Styles
	render := func(title, padded, short bool) string {
		parts := make([]string, 0, len(m.tabs)+1)
		if title {
			parts = append(parts, s.Title.Render("opsdeck"))
		}
		for i, t := range m.tabs {
			name := t.Title()
			if st, ok := t.(common.ShortTitler); ok && short {
				name = st.ShortTitle()
			}
			label := fmt.Sprintf("%d %s", i+1, name)
			switch {
			case i == m.active:
				parts = append(parts, s.TabActive.Render(label))
			case padded:
				parts = append(parts, s.TabInactive.Render(label))
			default:
				parts = append(parts, s.TabInactive.Padding(0).Render(label))
			}
		}
		sep := ""
		if !padded {
			sep = " "
		}
		if title {
			return parts[0] + " " + strings.Join(parts[1:], sep)
		}
		return strings.Join(parts, sep)
	}
	var bar string
	for _, v := range [][3]bool{{true, true, false}, {false, true, false}, {false, false, false}, {false, false, true}} {
		if bar = render(v[0], v[1], v[2]); lipgloss.Width(bar) <= m.width {
			return bar
		}
	}
	return ansi.Truncate(bar, m.width, "…")
}

// ownTaskRunning reports whether a backup or restore this session's user
// started is running: quitting would stop it.
func (m *Model) ownTaskRunning() bool {
	for _, t := range m.c.Tasks.Running() {
		if t.Who == m.c.Identity.User {
			return true
		}
	}
	return false
}

func (m *Model) statusBar() string {
	s := m.c.Styles
	if m.quitArmed {
		msg := s.Warn.Render("a run of yours is in progress: q again stops it (a restore undoes what it changed), any other key stays")
		return ansi.Truncate(msg, m.width, "…")
	}
	var items []string
	if m.kube.Context != "" {
		items = append(items, s.StatusKey.Render("ctx ")+s.StatusValue.Render(m.kube.Context))
	}
	if len(m.kube.Namespaces) > 0 {
		items = append(items, s.StatusKey.Render("ns ")+s.StatusValue.Render(strings.Join(m.kube.Namespaces, ",")))
	}
	if len(m.tabs) > 0 {
		if r, ok := m.tabs[m.active].(common.Refreshed); ok {
			if at := r.LastRefresh(); !at.IsZero() {
				items = append(items, s.StatusKey.Render("refreshed ")+s.StatusValue.Render(ago(m.c.Now().Sub(at))))
			}
		}
	}
	if id := m.c.Identity; id.SSH != nil {
		items = append(items, s.StatusValue.Render(id.User)+s.StatusKey.Render(" "+id.Role().String()))
	}
	if m.c.ReadOnly {
		items = append(items, s.StatusReadOnly.Render("READ-ONLY"))
	}
	for _, t := range m.c.Tasks.Running() {
		items = append(items, s.Warn.Render(fmt.Sprintf("⟳ %s by %s %s", t.Name, t.Who, ago(m.c.Now().Sub(t.Started)))))
	}
	left := strings.Join(items, s.StatusKey.Render(" · "))
	right := s.StatusKey.Render(m.shortHelp())
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return ansi.Truncate(left+" "+right, m.width, "…")
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) shortHelp() string {
	k := m.c.Keys
	var bs []key.Binding
	if len(m.tabs) > 0 {
		bs = append(bs, m.tabs[m.active].ShortHelp()...)
	}
	bs = append(bs, k.Help, k.Quit)
	parts := make([]string, 0, len(bs))
	for _, b := range keys.Enabled(bs...) {
		h := b.Help()
		parts = append(parts, h.Key+" "+h.Desc)
	}
	return strings.Join(parts, " · ")
}

func (m *Model) helpView() string {
	s := m.c.Styles
	k := m.c.Keys
	groups := []struct {
		title    string
		bindings []key.Binding
	}{
		{"Everywhere", m.globalKeys()},
		{"Lists", k.Navigation()},
	}
	if len(m.tabs) > 0 {
		t := m.tabs[m.active]
		for _, g := range t.FullHelp() {
			groups = append(groups, struct {
				title    string
				bindings []key.Binding
			}{t.Title(), g})
		}
	}
	var cols []string
	for _, g := range groups {
		lines := []string{s.HelpSection.Render(g.title)}
		for _, b := range keys.Enabled(g.bindings...) {
			h := b.Help()
			lines = append(lines, s.HelpKey.Render(fmt.Sprintf("%-10s", h.Key))+" "+s.HelpDesc.Render(h.Desc))
		}
		cols = append(cols, strings.Join(lines, "\n"))
	}
	// Lay the groups out in as many columns as fit, wrapping to new rows.
	var rows []string
	var row []string
	width := 0
	for _, c := range cols {
		w := lipgloss.Width(c) + 4
		if width+w > m.width && len(row) > 0 {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, width = nil, 0
		}
		row = append(row, lipgloss.NewStyle().PaddingRight(4).Render(c))
		width += w
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	title := s.Title.Render("Keys") + s.Muted.Render("  (? or esc to close)")
	return lipgloss.NewStyle().Padding(1, 2).Render(title + "\n\n" + strings.Join(rows, "\n\n"))
}

// ago renders a duration since a refresh: "just now", "12s ago", "3m ago".
func ago(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh ago", int(d.Hours()))
}
