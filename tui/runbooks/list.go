package runbooks

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/runbook"
)

// maxHits bounds the search results listed.
const maxHits = 200

// row is one line of the list: a runbook, or a search hit.
type row struct {
	title, detail string
	ref           runbook.Ref
	find          string
}

// refreshList runs the search again (it is in memory and takes well under
// a millisecond for the whole manual) and keeps the cursor in range.
func (t *Tab) refreshList() {
	t.hits = nil
	if q := strings.TrimSpace(t.search.Value()); q != "" && t.lib != nil {
		t.hits = t.lib.Search(q, maxHits)
	}
	n := len(t.rows())
	t.cursor = min(t.cursor, max(n-1, 0))
	t.offset = min(t.offset, t.cursor)
}

// rows are the list's lines.
func (t *Tab) rows() []row {
	if t.lib == nil {
		return nil
	}
	if strings.TrimSpace(t.search.Value()) != "" {
		rs := make([]row, 0, len(t.hits))
		for _, h := range t.hits {
			title := h.Title
			if h.Section.Title != "" && h.Section.Level > 1 {
				title += " › " + h.Section.Title
			}
			rs = append(rs, row{title: title, detail: h.Snippet, ref: runbook.Ref{Book: h.Book, Anchor: h.Section.Anchor}, find: h.Snippet})
		}
		return rs
	}
	books := t.lib.Books()
	rs := make([]row, 0, len(books))
	for _, b := range books {
		detail := b.Summary
		if b.Origin != runbook.BuiltIn {
			detail = "(" + b.Origin + ") " + detail
		}
		rs = append(rs, row{title: b.Title, detail: detail, ref: runbook.Ref{Book: b.Name}})
	}
	return rs
}

// listHeight is the number of rows that fit under the header and search line.
func (t *Tab) listHeight() int { return max(t.height-3, 1) }

func (t *Tab) listKey(msg tea.KeyPressMsg) tea.Cmd {
	k, kr := t.c.Keys, t.c.Keys.Runbooks
	switch {
	case key.Matches(msg, kr.Search):
		t.searching = true
		return t.search.Focus()
	case key.Matches(msg, k.Back):
		if t.search.Value() != "" {
			t.search.SetValue("")
			t.refreshList()
		} else if t.book != nil {
			t.reading = true
		}
	case key.Matches(msg, kr.Read):
		return t.openRow()
	default:
		t.moveList(msg)
	}
	return nil
}

// searchKey handles typing the query: the list follows every key, up and
// down still move the selection, enter opens the selected hit.
func (t *Tab) searchKey(msg tea.KeyPressMsg) tea.Cmd {
	kr := t.c.Keys.Runbooks
	switch {
	case key.Matches(msg, kr.SearchCancel):
		t.searching = false
		t.search.Blur()
		t.search.SetValue("")
		t.refreshList()
		return nil
	case key.Matches(msg, kr.SearchOpen):
		t.searching = false
		t.search.Blur()
		return t.openRow()
	case key.Matches(msg, kr.SearchMove):
		t.moveList(msg)
		return nil
	}
	before := t.search.Value()
	var cmd tea.Cmd
	t.search, cmd = t.search.Update(msg)
	if t.search.Value() != before {
		t.cursor, t.offset = 0, 0
		t.refreshList()
	}
	return cmd
}

func (t *Tab) moveList(msg tea.KeyPressMsg) {
	k := t.c.Keys
	n := len(t.rows())
	switch {
	case key.Matches(msg, k.Up):
		t.cursor--
	case key.Matches(msg, k.Down):
		t.cursor++
	case key.Matches(msg, k.PageUp):
		t.cursor -= t.listHeight()
	case key.Matches(msg, k.PageDown):
		t.cursor += t.listHeight()
	case key.Matches(msg, k.Top):
		t.cursor = 0
	case key.Matches(msg, k.Bottom):
		t.cursor = n - 1
	}
	t.cursor = max(min(t.cursor, n-1), 0)
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if h := t.listHeight(); t.cursor >= t.offset+h {
		t.offset = t.cursor - h + 1
	}
}

func (t *Tab) openRow() tea.Cmd {
	rs := t.rows()
	if t.cursor >= len(rs) {
		return nil
	}
	r := rs[t.cursor]
	t.history = nil
	return t.open(r.ref, target{anchor: r.ref.Anchor, find: r.find}, false)
}

func (t *Tab) listView() string {
	s := t.c.Styles
	var b strings.Builder
	switch {
	case t.loading:
		return s.Muted.Render("loading runbooks…")
	case t.lib == nil:
		msg := "no runbooks"
		if t.loadErr != nil {
			msg = t.loadErr.Error()
		}
		return s.Error.Render(msg)
	}
	head := s.Title.Render("Runbooks") + s.Muted.Render(fmt.Sprintf("  %d", len(t.lib.Books())))
	if q := strings.TrimSpace(t.search.Value()); q != "" {
		head += s.Muted.Render(" · " + plural(len(t.hits), "section matches", "sections match"))
	}
	b.WriteString(head + "\n")
	if t.searching || t.search.Value() != "" {
		b.WriteString(t.search.View())
	} else {
		b.WriteString(s.Muted.Render("/ to search every runbook · enter to read"))
	}
	b.WriteString("\n")
	rs := t.rows()
	if len(rs) == 0 {
		b.WriteString(s.Muted.Render("  nothing matches; try fewer words"))
		return b.String()
	}
	titleW := min(max(t.width*2/5, 24), 48)
	end := min(t.offset+t.listHeight(), len(rs))
	for i := t.offset; i < end; i++ {
		r := rs[i]
		title := ansi.Truncate(r.title, titleW, "…")
		line := fmt.Sprintf("%-*s  ", titleW, title)
		detailW := t.width - 2 - titleW - 2
		detail := ""
		if detailW > 8 {
			detail = ansi.Truncate(r.detail, detailW, "…")
		}
		if i == t.cursor {
			b.WriteString(s.TableSelected.Render("▸ "+line) + s.Muted.Render(detail))
		} else {
			b.WriteString("  " + line + s.Muted.Render(detail))
		}
		if i < end-1 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// plural is "1 section matches" or "3 sections match".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
