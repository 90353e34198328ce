package runbooks

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/runbook"
)

// show puts a rendering in the viewport and goes to the wanted place.
func (t *Tab) show(d *document) {
	t.doc = d
	t.vp.SetContent(strings.Join(d.lines, "\n"))
	to := target{}
	if t.want != nil {
		to = *t.want
		t.want = nil
	}
	y := 0
	if to.anchor != "" {
		if l, ok := d.anchorLine(to.anchor); ok {
			y = l
		}
	}
	t.hitLine = -1
	if to.find != "" {
		end := len(d.lines)
		for _, h := range d.headings {
			if h.line > y {
				end = h.line
				break
			}
		}
		if l, ok := d.locateHit(to.find, y, end); ok {
			t.hitLine = l
			if l-y > t.vp.Height()/2 {
				y = l - t.vp.Height()/3
			}
		}
	}
	t.vp.SetYOffset(y + to.delta)
	t.jumped = ""
	if to.anchor != "" && to.delta == 0 {
		t.jumped = to.anchor
	}
	t.focus = -1
	if to.refocus && to.focus >= 0 && to.focus < len(d.items) && t.selectable(d.items[to.focus]) {
		t.focus = to.focus
	}
	t.keepFocusVisible()
}

// locateHit finds a search snippet's line: the snippet without the "…" it
// was cut with, or its longest words.
func (d *document) locateHit(snippet string, from, to int) (int, bool) {
	s := strings.Trim(snippet, "…")
	if at, ok := d.find(s, from, to); ok {
		return at, true
	}
	words := strings.Fields(s)
	for n := min(len(words), 4); n > 0; n-- {
		if at, ok := d.find(strings.Join(words[:n], " "), from, to); ok {
			return at, true
		}
	}
	return 0, false
}

// gutter marks the selected link or command and the line a search found.
func (t *Tab) gutter(ctx viewport.GutterContext) string {
	s := t.c.Styles
	if ctx.Soft || t.doc == nil {
		return "  "
	}
	if t.focus >= 0 && t.focus < len(t.doc.items) && t.doc.items[t.focus].line == ctx.Index {
		return s.FilterPrompt.Render("▸ ")
	}
	if ctx.Index == t.hitLine {
		return s.Warn.Render("» ")
	}
	return "  "
}

// selectable reports whether the reader can act on the item or say why it
// cannot: every link, and the commands (in read-only mode only those that
// change nothing; the others are hidden).
func (t *Tab) selectable(it item) bool {
	if it.kind == itemLink {
		return true
	}
	if t.src.Run == nil {
		return false
	}
	c, err := runbook.ParseCommand(it.cmd.Text)
	if err != nil || c.Interactive() {
		return true // selecting it says why it cannot run
	}
	// In a read-only environment the commands that change things are
	// hidden; otherwise one this session may not run stays selectable, so
	// the reader says why it is not offered ("needs admin").
	return c.ReadOnly() || !t.c.Env.ReadOnly
}

// keepFocusVisible moves the selection to the first item on screen when
// the selected one scrolled away.
func (t *Tab) keepFocusVisible() {
	if t.doc == nil {
		return
	}
	top, bottom := t.vp.YOffset(), t.vp.YOffset()+t.vp.Height()
	if t.focus >= 0 && t.focus < len(t.doc.items) {
		if l := t.doc.items[t.focus].line; l >= top && l < bottom {
			return
		}
	}
	t.focus = -1
	for i, it := range t.doc.items {
		if it.line >= top && it.line < bottom && t.selectable(it) {
			t.focus = i
			return
		}
	}
}

// step moves the selection to the next (dir 1) or previous (dir -1)
// selectable item, scrolling to it.
func (t *Tab) step(dir int) {
	if t.doc == nil || len(t.doc.items) == 0 {
		return
	}
	i := t.focus
	if i < 0 {
		// Start from the top of the screen.
		i = -1
		if dir < 0 {
			i = len(t.doc.items)
		}
		for j, it := range t.doc.items {
			if it.line >= t.vp.YOffset() {
				if dir > 0 {
					i = j - 1
				} else {
					i = j
				}
				break
			}
		}
	}
	for i += dir; i >= 0 && i < len(t.doc.items); i += dir {
		if t.selectable(t.doc.items[i]) {
			t.focus = i
			l := t.doc.items[i].line
			if l < t.vp.YOffset() || l >= t.vp.YOffset()+t.vp.Height() {
				t.vp.SetYOffset(l - t.vp.Height()/3)
				t.jumped = ""
			}
			return
		}
	}
	if dir > 0 {
		t.setNotice("no more links or commands below", false)
	} else {
		t.setNotice("no more links or commands above", false)
	}
}

func (t *Tab) readerKey(msg tea.KeyPressMsg) tea.Cmd {
	k, kr := t.c.Keys, t.c.Keys.Runbooks
	t.notice = ""
	switch {
	case key.Matches(msg, k.Back):
		return t.back()
	case key.Matches(msg, kr.Search):
		// A new search: the last query and its hits stay in the list until then.
		t.reading = false
		t.searching = true
		t.search.SetValue("")
		t.cursor, t.offset = 0, 0
		t.refreshList()
		return t.search.Focus()
	case key.Matches(msg, kr.Outline):
		if t.doc != nil && len(t.doc.headings) > 0 {
			t.outline = true
			t.outlineCursor = 0
			if h, ok := t.doc.headingAt(t.vp.YOffset()); ok {
				for i, x := range t.doc.headings {
					if x.line == h.line {
						t.outlineCursor = i
					}
				}
			}
		}
		return nil
	case key.Matches(msg, kr.NextLink):
		t.step(1)
		return nil
	case key.Matches(msg, kr.PrevLink):
		t.step(-1)
		return nil
	case key.Matches(msg, kr.Follow):
		return t.activate()
	case key.Matches(msg, k.Up):
		t.vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		t.vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		t.vp.PageUp()
	case key.Matches(msg, k.PageDown, kr.Page):
		t.vp.PageDown()
	case key.Matches(msg, k.Top):
		t.vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		t.vp.GotoBottom()
	default:
		return nil
	}
	t.jumped = ""
	t.keepFocusVisible()
	return nil
}

// back returns to where the last followed link was, else to the list.
func (t *Tab) back() tea.Cmd {
	if n := len(t.history); n > 0 {
		p := t.history[n-1]
		t.history = t.history[:n-1]
		return t.open(runbook.Ref{Book: p.book}, target{anchor: p.anchor, delta: p.delta, focus: p.focus, refocus: true}, false)
	}
	t.reading = false
	return nil
}

// activate follows the selected link or runs the selected command.
func (t *Tab) activate() tea.Cmd {
	if t.doc == nil || t.focus < 0 || t.focus >= len(t.doc.items) {
		t.setNotice("select a link or command first: ] next, [ previous", false)
		return nil
	}
	it := t.doc.items[t.focus]
	if it.kind == itemCommand {
		return t.askToRun(it)
	}
	if it.link.External() {
		t.setNotice("external link "+it.link.Target+": open it in a browser", false)
		return nil
	}
	ref, err := t.lib.ResolveFrom(t.book.Name, it.link.Target)
	if err != nil {
		t.setNotice(err.Error(), true)
		return nil
	}
	return t.open(ref, target{anchor: ref.Anchor}, true)
}

func (t *Tab) outlineKey(msg tea.KeyPressMsg) tea.Cmd {
	k, kr := t.c.Keys, t.c.Keys.Runbooks
	n := len(t.doc.headings)
	switch {
	case key.Matches(msg, k.Back), key.Matches(msg, kr.Outline):
		t.outline = false
	case key.Matches(msg, kr.Jump):
		t.outline = false
		h := t.doc.headings[t.outlineCursor]
		t.vp.SetYOffset(h.line)
		t.jumped = h.section.Anchor
		t.focus = -1
		t.keepFocusVisible()
	case key.Matches(msg, k.Up):
		t.outlineCursor--
	case key.Matches(msg, k.Down):
		t.outlineCursor++
	case key.Matches(msg, k.PageUp):
		t.outlineCursor -= t.vp.Height()
	case key.Matches(msg, k.PageDown):
		t.outlineCursor += t.vp.Height()
	case key.Matches(msg, k.Top):
		t.outlineCursor = 0
	case key.Matches(msg, k.Bottom):
		t.outlineCursor = n - 1
	}
	t.outlineCursor = max(min(t.outlineCursor, n-1), 0)
	return nil
}

// View implements common.Tab.
func (t *Tab) View() string {
	if t.width <= 0 || t.height <= 0 {
		return ""
	}
	switch {
	case t.confirm != nil:
		return t.frame(t.readerHeader(), lipgloss.NewStyle().Padding(1, 2).Render(t.confirm.View()), "")
	case t.output != nil:
		return t.output.view(t)
	case t.reading:
		return t.readerView()
	}
	return t.frame("", t.listView(), t.noticeLine())
}

// frame stacks a header, a body and a footer in the tab's height.
func (t *Tab) frame(header, body, footer string) string {
	var parts []string
	h := t.height
	if header != "" {
		parts = append(parts, ansi.Truncate(header, t.width, "…"))
		h--
	}
	if footer != "" {
		h--
	}
	parts = append(parts, lipgloss.NewStyle().Height(h).MaxHeight(h).MaxWidth(t.width).Render(body))
	if footer != "" {
		parts = append(parts, ansi.Truncate(footer, t.width, "…"))
	}
	return strings.Join(parts, "\n")
}

func (t *Tab) readerHeader() string {
	s := t.c.Styles
	if t.book == nil {
		return ""
	}
	head := s.Title.Render(t.book.Title)
	if t.doc != nil {
		h, ok := t.doc.headingAt(t.vp.YOffset())
		if sec, found := t.book.Section(t.jumped); found {
			h, ok = heading{section: sec}, true
		}
		if ok && h.section.Level > 1 {
			head += s.Muted.Render(" › " + h.section.Title)
		}
	}
	right := ""
	if t.doc != nil {
		right = s.Muted.Render(fmt.Sprintf("%3.0f%%", t.vp.ScrollPercent()*100))
	}
	if n := len(t.history); n > 0 {
		right = s.Muted.Render(fmt.Sprintf("esc back (%d) · ", n)) + right
	}
	gap := t.width - lipgloss.Width(head) - lipgloss.Width(right)
	if gap < 1 {
		return head
	}
	return head + strings.Repeat(" ", gap) + right
}

func (t *Tab) readerView() string {
	s := t.c.Styles
	if t.doc == nil {
		return t.frame(t.readerHeader(), s.Muted.Render("rendering "+t.book.Title+"…"), t.noticeLine())
	}
	if t.outline {
		return t.frame(t.readerHeader(), t.outlineView(), t.noticeLine())
	}
	return t.frame(t.readerHeader(), t.vp.View(), t.footer())
}

func (t *Tab) outlineView() string {
	s := t.c.Styles
	h := max(t.height-2, 1)
	start := 0
	if t.outlineCursor >= h {
		start = t.outlineCursor - h + 1
	}
	lines := []string{s.PanelTitle.Render("Outline") + s.Muted.Render("  enter jumps · esc closes")}
	for i := start; i < len(t.doc.headings) && len(lines) < h; i++ {
		x := t.doc.headings[i]
		text := strings.Repeat("  ", max(x.section.Level-1, 0)) + x.section.Title
		text = ansi.Truncate(text, t.width-4, "…")
		if i == t.outlineCursor {
			lines = append(lines, s.TableSelected.Render("▸ "+text))
		} else {
			lines = append(lines, "  "+text)
		}
	}
	return strings.Join(lines, "\n")
}

// footer says what enter does with the selected item, or shows a notice.
func (t *Tab) footer() string {
	s := t.c.Styles
	if t.notice != "" || t.running != nil {
		return t.noticeLine()
	}
	if t.focus < 0 || t.focus >= len(t.doc.items) {
		return s.Muted.Render("] next link or command · o outline · / search · esc back")
	}
	it := t.doc.items[t.focus]
	if it.kind == itemLink {
		dest := it.link.Target
		if !it.link.External() {
			if ref, err := t.lib.ResolveFrom(t.book.Name, it.link.Target); err == nil {
				dest = ref.Book
				if ref.Anchor != "" {
					dest += " › " + ref.Anchor
				}
			}
		}
		return s.FilterPrompt.Render("link ") + it.label() + s.Muted.Render(" → "+dest+" · enter follow · ]/[ next/previous")
	}
	c, err := runbook.ParseCommand(it.cmd.Text)
	switch {
	case err != nil:
		return s.Muted.Render("cannot run here: " + err.Error())
	case c.Interactive():
		return s.Muted.Render(it.cmd.Text + ": runs until stopped; run it in a shell")
	case c.ReadOnly():
		return s.FilterPrompt.Render("run ") + it.cmd.Text + s.Muted.Render(" · enter runs it (changes nothing)")
	case !t.c.Can(c.Action()):
		return s.Muted.Render(it.cmd.Text + ": not offered here — " + t.c.Refusal(c.Action()))
	}
	return s.Warn.Render("run ") + it.cmd.Text + s.Muted.Render(" · enter asks first: it changes things")
}

func (t *Tab) noticeLine() string {
	s := t.c.Styles
	switch {
	case t.running != nil:
		return s.Warn.Render("running "+t.running.line+"…") + s.Muted.Render(" esc cancels")
	case t.notice == "":
		return ""
	case t.noticeBad:
		return s.Error.Render(t.notice)
	}
	return s.Muted.Render(t.notice)
}
