// Package pending is the tab shown for a capability that is not built yet.
// It says so in one honest line and points at what works today.
package pending

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/opsdeck/opsdeck/tui/common"
)

// Tab is a placeholder for a capability still to come.
type Tab struct {
	c             *common.Common
	title, line   string
	width, height int
}

// New returns a placeholder tab with its title and the line it shows.
func New(c *common.Common, title, line string) *Tab {
	return &Tab{c: c, title: title, line: line}
}

// Title implements common.Tab.
func (t *Tab) Title() string { return t.title }

// Init implements common.Tab.
func (t *Tab) Init() tea.Cmd { return nil }

// Update implements common.Tab.
func (t *Tab) Update(tea.Msg) (common.Tab, tea.Cmd) { return t, nil }

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) { t.width, t.height = w, h }

// View implements common.Tab.
func (t *Tab) View() string {
	s := t.c.Styles
	body := s.Title.Render(t.title) + "\n\n" + s.Muted.Width(max(t.width-4, 10)).Render(t.line)
	return lipgloss.NewStyle().Padding(1, 2).Render(body)
}

// ShortHelp implements common.Tab.
func (t *Tab) ShortHelp() []key.Binding { return nil }

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding { return nil }

// Capturing implements common.Tab.
func (t *Tab) Capturing() bool { return false }
