// Package table is a small, fast table for the cockpit: it renders only the
// rows that fit, keeps the selection on the same row across updates, and
// colours rows by health level. It holds no data source; tabs feed it rows.
package table

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/tui/keys"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// Column describes one column. Width is the minimum; Flex columns share
// whatever width is left over.
type Column struct {
	Title string
	Width int
	Flex  bool
	Right bool
}

// Row is one row: its cells, a stable key for keeping the selection, and the
// level that colours it.
type Row struct {
	Key   string
	Cells []string
	Level styles.Level
}

// Model is the table's state.
type Model struct {
	cols    []Column
	widths  []int
	rows    []Row
	cursor  int
	offset  int
	width   int
	height  int
	focused bool
	styles  *styles.Styles
	empty   string
}

// New returns a table with the given columns.
func New(s *styles.Styles, cols ...Column) Model {
	return Model{cols: cols, styles: s, focused: true, empty: "nothing to show"}
}

// SetEmpty sets the line shown when there are no rows.
func (m *Model) SetEmpty(s string) { m.empty = s }

// SetSize sets the space the table draws in, header included.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.layout()
	m.clamp()
}

// Height returns the height the table was given.
func (m Model) Height() int { return m.height }

// Focus marks the table as the one receiving keys.
func (m *Model) Focus() { m.focused = true }

// Blur marks the table as not focused; its selection is drawn dimmer.
func (m *Model) Blur() { m.focused = false }

// Focused reports whether the table receives keys.
func (m Model) Focused() bool { return m.focused }

// SetRows replaces the rows, keeping the cursor on the row with the same key
// when it is still there.
func (m *Model) SetRows(rows []Row) {
	var selected string
	if m.cursor < len(m.rows) {
		selected = m.rows[m.cursor].Key
	}
	m.rows = rows
	if selected != "" {
		for i := range rows {
			if rows[i].Key == selected {
				m.cursor = i
				break
			}
		}
	}
	m.clamp()
}

// Rows returns the rows.
func (m Model) Rows() []Row { return m.rows }

// Len returns the number of rows.
func (m Model) Len() int { return len(m.rows) }

// Selected returns the row under the cursor.
func (m Model) Selected() (Row, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return Row{}, false
	}
	return m.rows[m.cursor], true
}

// Cursor returns the index of the selected row.
func (m Model) Cursor() int { return m.cursor }

// MoveUp moves the cursor up n rows.
func (m *Model) MoveUp(n int) { m.cursor -= n; m.clamp() }

// MoveDown moves the cursor down n rows.
func (m *Model) MoveDown(n int) { m.cursor += n; m.clamp() }

// GotoTop selects the first row.
func (m *Model) GotoTop() { m.cursor = 0; m.clamp() }

// GotoBottom selects the last row.
func (m *Model) GotoBottom() { m.cursor = len(m.rows) - 1; m.clamp() }

// PageSize is the number of rows visible at once.
func (m Model) PageSize() int {
	if m.height <= 1 {
		return 1
	}
	return m.height - 1
}

func (m *Model) clamp() {
	if m.cursor >= len(m.rows) {
		m.cursor = len(m.rows) - 1
	}
	if m.cursor < 0 {
		m.cursor = 0
	}
	page := m.PageSize()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+page {
		m.offset = m.cursor - page + 1
	}
	if max := len(m.rows) - page; m.offset > max {
		m.offset = max
	}
	if m.offset < 0 {
		m.offset = 0
	}
}

// layout computes column widths: minimums first, then the rest shared by the
// flex columns; columns that do not fit at all are dropped from the right.
func (m *Model) layout() {
	m.widths = make([]int, len(m.cols))
	used, flex := 0, 0
	for i, c := range m.cols {
		gap := 0
		if i > 0 {
			gap = 1
		}
		if used+gap+c.Width > m.width {
			break
		}
		m.widths[i] = c.Width
		used += gap + c.Width
		if c.Flex {
			flex++
		}
	}
	if flex == 0 || used >= m.width {
		return
	}
	extra := m.width - used
	for i, c := range m.cols {
		if c.Flex && m.widths[i] > 0 {
			share := extra / flex
			m.widths[i] += share
			extra -= share
			flex--
		}
	}
}

// View renders the header and the visible rows.
func (m Model) View() string {
	if m.height <= 0 || m.width <= 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(m.styles.TableHeader.Render(m.line(titles(m.cols))))
	if len(m.rows) == 0 {
		b.WriteByte('\n')
		b.WriteString(m.styles.Muted.Render(ansi.Truncate("  "+m.empty, m.width, "…")))
		return b.String()
	}
	end := min(m.offset+m.PageSize(), len(m.rows))
	for i := m.offset; i < end; i++ {
		r := m.rows[i]
		b.WriteByte('\n')
		st := m.styles.TableCell
		if r.Level != styles.LevelOK {
			st = m.styles.ForLevel(r.Level)
		}
		if i == m.cursor && m.focused {
			st = st.Inherit(m.styles.TableSelected).Background(m.styles.TableSelected.GetBackground())
		}
		b.WriteString(st.Render(m.line(r.Cells)))
	}
	return b.String()
}

// ScrollInfo describes the visible window, e.g. "1-20 of 10000".
func (m Model) ScrollInfo() (first, last, total int) {
	if len(m.rows) == 0 {
		return 0, 0, 0
	}
	return m.offset + 1, min(m.offset+m.PageSize(), len(m.rows)), len(m.rows)
}

func (m Model) line(cells []string) string {
	var b strings.Builder
	b.Grow(m.width)
	for i, w := range m.widths {
		if w == 0 {
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		var c string
		if i < len(cells) {
			c = cells[i]
		}
		c = ansi.Truncate(c, w, "…")
		pad := w - ansi.StringWidth(c)
		if m.cols[i].Right {
			b.WriteString(strings.Repeat(" ", pad))
			b.WriteString(c)
		} else {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", pad))
		}
	}
	s := b.String()
	if w := lipgloss.Width(s); w < m.width {
		s += strings.Repeat(" ", m.width-w)
	}
	return s
}

func titles(cols []Column) []string {
	t := make([]string, len(cols))
	for i, c := range cols {
		t[i] = c.Title
	}
	return t
}

// Navigate moves the cursor for the list keys of km (up, down, page up and
// down, top, bottom) and reports whether msg was one of them. Every tab with
// a table handles navigation through it.
func (m *Model) Navigate(msg tea.KeyPressMsg, km keys.KeyMap) bool {
	switch {
	case key.Matches(msg, km.Up):
		m.MoveUp(1)
	case key.Matches(msg, km.Down):
		m.MoveDown(1)
	case key.Matches(msg, km.PageUp):
		m.MoveUp(m.PageSize())
	case key.Matches(msg, km.PageDown):
		m.MoveDown(m.PageSize())
	case key.Matches(msg, km.Top):
		m.GotoTop()
	case key.Matches(msg, km.Bottom):
		m.GotoBottom()
	default:
		return false
	}
	return true
}
