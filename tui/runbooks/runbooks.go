// Package runbooks is the cockpit's Runbooks tab: the operations manual
// with full-text search, each runbook rendered with glamour in a scrolling
// viewport, an outline of its headings to jump to, links between runbooks
// followed with enter and retraced with esc, and the opsdeck commands of
// ```opsdeck blocks run from the page (with a confirmation, the read-only
// rule and the audit log for those that change things). Other tabs open a
// section with common.OpenRunbookMsg.
package runbooks

import (
	"context"
	"errors"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/confirm"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// Sources are the tab's data sources, built outside the TUI.
type Sources struct {
	// Load reads the runbooks (the built-in ones and runbooks.dir). It is
	// called once, in a Cmd; a Library with an error is usable, the error
	// says what was skipped.
	Load func() (*runbook.Library, error)
	// Run runs an opsdeck command from a runbook; confirmed says the
	// operator said yes to a command that changes things. Cancelling ctx
	// stops it. Nil: commands can be read but not run.
	Run func(ctx context.Context, c runbook.Command, confirmed bool, book, section string) (runbook.RunResult, error)
	// Database and Namespace are what restores overwrite: the operator
	// types them to confirm a restore.
	Database, Namespace string
}

// Messages of the Runbooks tab.
type (
	loadedMsg struct {
		lib *runbook.Library
		err error
	}
	renderedMsg struct {
		key docKey
		doc *document
		err error
	}
	ranMsg struct {
		id  int
		res runbook.RunResult
		err error
	}
)

// docKey identifies a rendering: a runbook at a width in a glamour style.
type docKey struct {
	book  string
	width int
	style string
}

// place is a position in a runbook, kept in the history for esc.
type place struct {
	book   string
	anchor string
	delta  int
	focus  int
}

// target is where the reader goes once the runbook is rendered.
type target struct {
	anchor string
	// find, when set, is text to show inside the section (a search hit).
	find  string
	delta int
	// focus is the item to select again (with refocus set), coming back.
	focus   int
	refocus bool
}

// Tab is the Runbooks tab.
type Tab struct {
	c   *common.Common
	src Sources

	lib     *runbook.Library
	loadErr error
	loading bool
	pending string

	// The list: runbooks, or search hits while there is a query.
	search    textinput.Model
	searching bool
	hits      []runbook.Hit
	cursor    int
	offset    int

	// The reader.
	reading  bool
	book     *runbook.Book
	docs     map[docKey]*document
	inflight map[docKey]bool
	doc      *document
	vp       viewport.Model
	want     *target
	focus    int
	hitLine  int
	history  []place
	// jumped is the section the reader jumped to, named in the header
	// until the reader scrolls (near the end the heading cannot be at the top).
	jumped string

	outline       bool
	outlineCursor int

	confirm    *confirm.Model
	confirmFor runRequest

	running *runState
	runs    int
	output  *outputPane

	notice    string
	noticeBad bool

	width, height int
}

// New returns the Runbooks tab reading from src.
func New(c *common.Common, src Sources) *Tab {
	in := styles.NewInput()
	in.Prompt = "/ "
	in.Placeholder = "search the runbooks: words or a \"phrase\""
	in.CharLimit = 200
	// A steady cursor: no blink timer running while the operator reads.
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	t := &Tab{
		c: c, src: src, search: in,
		docs: map[docKey]*document{}, inflight: map[docKey]bool{},
		vp: viewport.New(), focus: -1, hitLine: -1,
	}
	t.vp.LeftGutterFunc = t.gutter
	return t
}

// Title implements common.Tab.
func (t *Tab) Title() string { return "Runbooks" }

// Init loads the runbooks, once.
func (t *Tab) Init() tea.Cmd {
	if t.lib != nil || t.loading {
		return nil
	}
	if t.src.Load == nil {
		t.loadErr = errors.New("no runbooks configured")
		return nil
	}
	t.loading = true
	load := t.src.Load
	return func() tea.Msg {
		lib, err := load()
		return loadedMsg{lib: lib, err: err}
	}
}

// Capturing implements common.Tab: true while typing a search or answering
// a confirmation, so that q and the digits are typed, not global keys.
func (t *Tab) Capturing() bool { return t.searching || t.confirm != nil }

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) {
	if t.doc != nil && w != t.width {
		t.want = t.here()
	}
	t.width, t.height = w, h
	t.search.SetWidth(max(w-6, 10))
	t.layout()
}

// layout sizes the viewports and shows the rendering for the new width
// when it is already there.
func (t *Tab) layout() {
	t.vp.SetWidth(t.width)
	t.vp.SetHeight(max(t.height-2, 1))
	if t.output != nil {
		t.output.setSize(t.width, t.height)
	}
	if t.book != nil {
		if d := t.docs[t.key(t.book.Name)]; d != nil && d != t.doc {
			t.show(d)
		}
	}
}

func (t *Tab) key(book string) docKey {
	return docKey{book: book, width: t.width, style: t.c.Styles.Markdown}
}

// OpenRunbook implements common.RunbookOpener: it shows the section ref
// names, once the runbooks are loaded.
func (t *Tab) OpenRunbook(ref string) tea.Cmd {
	t.confirm = nil
	t.outline = false
	t.output = nil
	t.searching = false
	t.search.Blur()
	t.notice = ""
	if t.lib == nil {
		t.pending = ref
		return nil
	}
	r, err := t.lib.Resolve(ref)
	if err != nil {
		t.setNotice(err.Error(), true)
		return nil
	}
	t.history = nil
	return t.open(r, target{anchor: r.Anchor}, false)
}

// open shows a runbook at a target, remembering the current place when
// push is set.
func (t *Tab) open(r runbook.Ref, to target, push bool) tea.Cmd {
	b, ok := t.lib.Book(r.Book)
	if !ok {
		t.setNotice("no runbook "+r.Book, true)
		return nil
	}
	if push && t.reading && t.doc != nil {
		if p := t.here(); p != nil {
			t.history = append(t.history, place{book: t.book.Name, anchor: p.anchor, delta: p.delta, focus: p.focus})
		}
	}
	t.notice = ""
	t.reading = true
	t.outline = false
	t.book = b
	t.want = &to
	t.focus, t.hitLine = -1, -1
	if d := t.docs[t.key(b.Name)]; d != nil {
		t.show(d)
	} else {
		t.doc = nil
	}
	return t.ensureRendered()
}

// here is the reader's current place: the heading above the top line and
// how far below it the view is.
func (t *Tab) here() *target {
	if t.doc == nil {
		return nil
	}
	y := t.vp.YOffset()
	h, ok := t.doc.headingAt(y)
	if t.jumped != "" {
		if l, found := t.doc.anchorLine(t.jumped); found {
			h, ok = heading{section: runbook.Section{Anchor: t.jumped}, line: l}, true
		}
	}
	if !ok {
		return &target{delta: y, focus: t.focus, refocus: true}
	}
	return &target{anchor: h.section.Anchor, delta: y - h.line, focus: t.focus, refocus: true}
}

// ensureRendered starts rendering the open runbook at the current width if
// that is not done or under way.
func (t *Tab) ensureRendered() tea.Cmd {
	if !t.reading || t.book == nil || t.width <= 0 {
		return nil
	}
	k := t.key(t.book.Name)
	if t.docs[k] != nil || t.inflight[k] {
		return nil
	}
	t.inflight[k] = true
	b := t.book
	return func() tea.Msg {
		d, err := renderDocument(b, k.width, k.style)
		return renderedMsg{key: k, doc: d, err: err}
	}
}

// Update implements common.Tab.
func (t *Tab) Update(msg tea.Msg) (common.Tab, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case loadedMsg:
		t.loading = false
		t.lib, t.loadErr = msg.lib, msg.err
		if t.lib == nil && t.loadErr == nil {
			t.loadErr = errors.New("no runbooks")
		}
		if msg.err != nil && msg.lib != nil {
			t.setNotice(msg.err.Error(), true)
		}
		t.refreshList()
		if t.pending != "" && t.lib != nil {
			p := t.pending
			t.pending = ""
			cmd = t.OpenRunbook(p)
		}
	case renderedMsg:
		delete(t.inflight, msg.key)
		if msg.err != nil {
			t.setNotice(msg.err.Error(), true)
			break
		}
		t.docs[msg.key] = msg.doc
		if t.book != nil && msg.key == t.key(t.book.Name) {
			t.show(msg.doc)
		}
	case ranMsg:
		cmd = t.finishRun(msg)
	case common.ThemeMsg:
		// The open runbook is drawn again in the new style (ensureRendered
		// below), at the same place; renderings in the old style go.
		if t.doc != nil {
			t.want = t.here()
		}
		for k := range t.docs {
			if k.style != t.c.Styles.Markdown {
				delete(t.docs, k)
			}
		}
	case tea.KeyPressMsg:
		cmd = t.handleKey(msg)
	default:
		if t.searching {
			t.search, cmd = t.search.Update(msg)
		}
	}
	return t, tea.Batch(cmd, t.ensureRendered())
}

func (t *Tab) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case t.confirm != nil:
		return t.confirmKey(msg)
	case t.output != nil:
		return t.outputKey(msg)
	case t.running != nil && key.Matches(msg, t.c.Keys.Back):
		t.running.cancel()
		t.setNotice("cancelling "+t.running.line+"…", false)
		return nil
	case t.searching:
		return t.searchKey(msg)
	case t.reading && t.outline:
		return t.outlineKey(msg)
	case t.reading:
		return t.readerKey(msg)
	}
	return t.listKey(msg)
}

func (t *Tab) setNotice(s string, bad bool) { t.notice, t.noticeBad = s, bad }

// ShortHelp implements common.Tab.
func (t *Tab) ShortHelp() []key.Binding {
	k, kr := t.c.Keys, t.c.Keys.Runbooks
	switch {
	case t.confirm != nil, t.searching:
		return nil
	case t.output != nil:
		return []key.Binding{k.Up, k.Down, k.Back}
	case t.reading && t.outline:
		return []key.Binding{k.Up, k.Down, kr.Jump, k.Back}
	case t.reading:
		return []key.Binding{kr.Search, kr.Outline, kr.NextLink, kr.Follow, k.Back}
	}
	return []key.Binding{kr.Search, kr.Read}
}

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding {
	k, kr := t.c.Keys, t.c.Keys.Runbooks
	return [][]key.Binding{{
		kr.Search, kr.Activate, kr.Outline, kr.NextLink, kr.PrevLink,
		k.Top, k.Bottom, kr.Close,
	}}
}
