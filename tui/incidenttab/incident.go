// Package incidenttab is the cockpit's Incident tab: the open incident's
// header and live timeline, the forms that open one (also reached with i
// from any tab), add a note and close it, and the diagnostic bundle; with
// none open, the environment's past incidents and their timelines. Every
// change goes through ops/incident, which checks the session's role.
package incidenttab

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/access"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

// BundleResult is what the tab says of a written bundle.
type BundleResult struct {
	Path   string
	Size   int64
	Parts  int
	Failed []string
}

// Sources are what the tab reads and acts through.
type Sources struct {
	// Watcher holds the open incident (shared by every session); nil when
	// incident mode could not start, which the tab says.
	Watcher *opincident.Watcher
	// Timeline builds an incident's timeline (ops/opincident.Timeline over
	// the process's sources), bounded in time.
	Timeline func(context.Context, opincident.Incident) []opincident.Entry
	// Bundle writes a diagnostic bundle and records it on the open
	// incident; nil when the process cannot.
	Bundle func(context.Context) (BundleResult, error)
	// Every is how often the timeline is rebuilt while shown (default 10s).
	Every time.Duration
}

type mode int

const (
	modeView    mode = iota
	modeLevel        // choosing the new incident's level
	modeTitle        // typing its title
	modeNote         // typing a note
	modeSummary      // typing the closing summary
)

// Tab is the Incident tab.
type Tab struct {
	c   *common.Common
	src Sources

	cur  opincident.Incident
	open bool
	// viewing is the past incident whose timeline is shown (none open).
	viewing *opincident.Incident
	past    []opincident.Incident
	pastErr error

	timeline   []opincident.Entry
	timelineOf int // the incident the timeline is of
	loadedAt   time.Time
	loading    bool
	// seen is the number of entries the incident had at the last build:
	// a new note rebuilds at once.
	seen int

	mode   mode
	level  string
	input  textinput.Model
	busy   string // an action in flight ("opening", "writing the bundle")
	status string
	bad    bool // status is an error

	entries    table.Model
	list       table.Model
	detail     viewport.Model
	showDetail bool

	width, height int
}

type (
	tickMsg     struct{}
	timelineMsg struct {
		id      int
		entries []opincident.Entry
		at      time.Time
	}
	pastMsg struct {
		incs []opincident.Incident
		err  error
	}
	doneMsg struct {
		what string
		inc  opincident.Incident
		err  error
	}
	bundleMsg struct {
		res BundleResult
		err error
	}
)

var entryColumns = []table.Column{
	{Title: "TIME", Width: 8},
	{Title: "KIND", Width: 14},
	{Title: "WHO", Width: 10},
	{Title: "WHAT", Width: 20, Flex: true},
}

var listColumns = []table.Column{
	{Title: "ID", Width: 4, Right: true},
	{Title: "LEVEL", Width: 5},
	{Title: "STATE", Width: 7},
	{Title: "OPENED", Width: 16},
	{Title: "BY", Width: 10},
	{Title: "FOR", Width: 6},
	{Title: "TITLE", Width: 20, Flex: true},
}

// New returns the Incident tab.
func New(c *common.Common, src Sources) *Tab {
	if src.Every <= 0 {
		src.Every = 10 * time.Second
	}
	in := styles.NewInput()
	in.CharLimit = 300
	t := &Tab{c: c, src: src, input: in, detail: viewport.New(),
		entries: table.New(&c.Styles, entryColumns...), list: table.New(&c.Styles, listColumns...)}
	t.entries.SetEmpty("the timeline is being read…")
	t.list.SetEmpty("no incidents yet")
	return t
}

// Title implements common.Tab.
func (t *Tab) Title() string { return "Incident" }

// Init implements common.Tab.
func (t *Tab) Init() tea.Cmd {
	t.poll()
	return tea.Batch(t.tick(), t.reload())
}

// LastRefresh implements common.Refreshed.
func (t *Tab) LastRefresh() time.Time { return t.loadedAt }

// Capturing implements common.Tab: the forms take every key.
func (t *Tab) Capturing() bool { return t.mode != modeView }

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) {
	t.width, t.height = w, h
	body := max(h-3, 1)
	t.entries.SetSize(w, body)
	t.list.SetSize(w, body)
	t.detail.SetWidth(w)
	t.detail.SetHeight(max(h-1, 1))
	t.input.SetWidth(max(w-24, 10))
}

func (t *Tab) tick() tea.Cmd {
	return t.c.Tick(opincident.WatchEvery, func(time.Time) tea.Msg { return tickMsg{} })
}

// poll takes the open incident from the watcher.
func (t *Tab) poll() {
	if t.src.Watcher == nil {
		return
	}
	inc, open, _ := t.src.Watcher.Current()
	t.cur, t.open = inc, open
}

// shown is the incident whose timeline the tab shows, if any.
func (t *Tab) shown() (opincident.Incident, bool) {
	if t.open && t.viewing == nil {
		return t.cur, true
	}
	if t.viewing != nil {
		return *t.viewing, true
	}
	return opincident.Incident{}, false
}

// reload rebuilds the shown incident's timeline, or reads the past ones.
func (t *Tab) reload() tea.Cmd {
	if t.src.Watcher == nil || t.loading {
		return nil
	}
	t.loading = true
	ctx, store := t.c.Context, t.src.Watcher.Store()
	inc, ok := t.shown()
	if !ok {
		return func() tea.Msg {
			incs, err := store.List(ctx)
			return pastMsg{incs: incs, err: err}
		}
	}
	t.seen = len(inc.Entries)
	build := t.src.Timeline
	return func() tea.Msg {
		var es []opincident.Entry
		if build != nil {
			es = build(ctx, inc)
		} else {
			es = inc.Entries
		}
		return timelineMsg{id: inc.ID, entries: es, at: time.Now()}
	}
}

// Update implements common.Tab.
func (t *Tab) Update(msg tea.Msg) (common.Tab, tea.Cmd) {
	switch msg := msg.(type) {
	case tickMsg:
		return t, tea.Batch(t.tick(), t.onTick())
	case timelineMsg:
		t.loading = false
		t.timeline, t.timelineOf, t.loadedAt = msg.entries, msg.id, msg.at
		t.fillEntries()
		return t, nil
	case pastMsg:
		t.loading = false
		t.past, t.pastErr, t.loadedAt = msg.incs, msg.err, time.Now()
		t.fillList()
		return t, nil
	case doneMsg:
		return t, t.done(msg)
	case bundleMsg:
		t.busy = ""
		if msg.err != nil {
			t.say(true, "bundle: "+msg.err.Error())
			return t, nil
		}
		text := fmt.Sprintf("bundle written (%s, %d parts", progress.Bytes(msg.res.Size), msg.res.Parts)
		if n := len(msg.res.Failed); n > 0 {
			text += fmt.Sprintf(", %d could not be read: %s", n, joinShort(msg.res.Failed))
		}
		t.say(false, text+"): "+msg.res.Path)
		return t, t.refreshNow()
	case tea.KeyPressMsg:
		return t, t.handleKey(msg)
	}
	if t.mode == modeTitle || t.mode == modeNote || t.mode == modeSummary {
		var cmd tea.Cmd
		t.input, cmd = t.input.Update(msg)
		return t, cmd
	}
	return t, nil
}

// onTick follows the watcher: a newly opened or closed incident, or new
// entries, rebuild at once; otherwise every src.Every.
func (t *Tab) onTick() tea.Cmd {
	wasOpen, wasID := t.open, t.cur.ID
	t.poll()
	if t.open != wasOpen || t.cur.ID != wasID {
		if t.open {
			t.viewing = nil
		}
		t.loading = false
		t.timeline = nil
		t.fillEntries()
		return t.reload()
	}
	if inc, ok := t.shown(); ok && len(inc.Entries) != t.seen {
		return t.reload()
	}
	if time.Since(t.loadedAt) >= t.src.Every {
		return t.reload()
	}
	return nil
}

// refreshNow re-reads the open incident (this session just changed it)
// and its timeline.
func (t *Tab) refreshNow() tea.Cmd {
	if t.src.Watcher != nil {
		t.src.Watcher.Refresh(t.c.Context)
	}
	return t.onTick()
}

func (t *Tab) say(bad bool, text string) { t.status, t.bad = text, bad }

// StartOpen begins opening an incident: what i does on any tab.
func (t *Tab) StartOpen() tea.Cmd {
	switch {
	case t.src.Watcher == nil:
		t.say(true, "incident mode is not available: the state dir cannot be read (see the log)")
	case t.open:
		t.say(true, fmt.Sprintf("%s is open: n adds a note, C closes it", t.cur.Name()))
	case !t.c.Can(access.IncidentOpen):
		t.say(true, "opening an incident: "+t.c.Refusal(access.IncidentOpen))
	default:
		t.viewing, t.showDetail = nil, false
		t.mode, t.level, t.status = modeLevel, "", ""
	}
	return nil
}

func (t *Tab) startInput(m mode, prompt, placeholder string) tea.Cmd {
	t.mode = m
	t.input.Prompt = prompt
	t.input.Placeholder = placeholder
	t.input.SetValue("")
	return t.input.Focus()
}

func (t *Tab) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	switch t.mode {
	case modeLevel:
		if key.Matches(msg, k.Back) {
			t.mode = modeView
			return nil
		}
		for i, b := range k.Incident.Levels {
			if key.Matches(msg, b) {
				t.level = opincident.Levels[i]
				return t.startInput(modeTitle, t.level+" title: ", "what is broken, e.g. API 5xx after deploy")
			}
		}
		return nil
	case modeTitle, modeNote, modeSummary:
		return t.inputKey(msg)
	}
	if t.showDetail {
		if key.Matches(msg, k.Back, k.Enter) {
			t.showDetail = false
			return nil
		}
		var cmd tea.Cmd
		t.detail, cmd = t.detail.Update(msg)
		return cmd
	}
	_, showing := t.shown()
	switch {
	case key.Matches(msg, k.Incident.Open):
		return t.StartOpen()
	case key.Matches(msg, k.Incident.Note) && t.open:
		if r := t.c.Refusal(access.IncidentNote); r != "" {
			t.say(true, "adding a note: "+r)
			return nil
		}
		return t.startInput(modeNote, "note: ", "what you saw or did")
	case key.Matches(msg, k.Incident.Close) && t.open:
		if r := t.closeRefusal(); r != "" {
			t.say(true, "closing: "+r)
			return nil
		}
		return t.startInput(modeSummary, "close — summary: ", "what happened (enter closes, esc keeps it open)")
	case key.Matches(msg, k.Incident.Bundle):
		return t.bundle()
	case key.Matches(msg, k.Back) && t.viewing != nil:
		t.viewing = nil
		return t.reload()
	case key.Matches(msg, k.Refresh):
		t.loading = false
		return t.reload()
	case showing && t.entries.Navigate(msg, k):
	case !showing && t.list.Navigate(msg, k):
	case key.Matches(msg, k.Enter):
		if showing {
			t.openDetail()
		} else {
			return t.openPast()
		}
	}
	return nil
}

// closeRefusal is why this session may not close the open incident.
func (t *Tab) closeRefusal() string {
	if t.cur.OpenedBy == t.c.Identity.User {
		return t.c.Refusal(access.IncidentClose)
	}
	if r := t.c.Refusal(access.IncidentCloseAny); r != "" {
		return fmt.Sprintf("it was opened by %s: closing it %s", t.cur.OpenedBy, r)
	}
	return ""
}

func (t *Tab) inputKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	switch {
	case key.Matches(msg, k.Back):
		t.mode = modeView
		t.input.Blur()
		return nil
	case msg.String() == "enter":
		text, m := t.input.Value(), t.mode
		t.mode = modeView
		t.input.Blur()
		return t.act(m, text)
	}
	var cmd tea.Cmd
	t.input, cmd = t.input.Update(msg)
	return cmd
}

// act runs the form's change in the background.
func (t *Tab) act(m mode, text string) tea.Cmd {
	store, ctx, level, id := t.src.Watcher.Store(), t.c.Context, t.level, t.cur.ID
	switch m {
	case modeTitle:
		t.busy = "opening the incident"
		return func() tea.Msg {
			inc, err := store.Open(ctx, level, text)
			return doneMsg{what: "opened", inc: inc, err: err}
		}
	case modeNote:
		t.busy = "adding the note"
		return func() tea.Msg {
			inc, err := store.Note(ctx, id, text)
			return doneMsg{what: "noted on", inc: inc, err: err}
		}
	case modeSummary:
		t.busy = "closing the incident and writing its postmortem"
		build := t.src.Timeline
		return func() tea.Msg {
			inc, err := store.Close(ctx, id, text, func(inc opincident.Incident) []opincident.Entry {
				if build == nil {
					return inc.Entries
				}
				return build(ctx, inc)
			})
			return doneMsg{what: "closed", inc: inc, err: err}
		}
	}
	return nil
}

func (t *Tab) done(msg doneMsg) tea.Cmd {
	t.busy = ""
	if msg.err != nil {
		t.say(true, msg.err.Error())
		return nil
	}
	text := msg.what + " " + msg.inc.Name()
	if msg.what == "closed" {
		text += " — postmortem skeleton: " + msg.inc.Postmortem
	}
	t.say(false, text)
	return t.refreshNow()
}

func (t *Tab) bundle() tea.Cmd {
	switch {
	case t.busy != "":
		return nil
	case t.src.Bundle == nil:
		t.say(true, "a diagnostic bundle cannot be written from this cockpit: run opsdeck incident bundle")
		return nil
	case !t.c.Can(access.IncidentBundle):
		t.say(true, "writing a bundle: "+t.c.Refusal(access.IncidentBundle))
		return nil
	}
	t.busy = "writing the diagnostic bundle (each source bounded in time)"
	ctx, write := t.c.Context, t.src.Bundle
	return func() tea.Msg {
		res, err := write(ctx)
		return bundleMsg{res: res, err: err}
	}
}

// openPast shows the selected past incident's timeline.
func (t *Tab) openPast() tea.Cmd {
	row, ok := t.list.Selected()
	if !ok {
		return nil
	}
	for i := range t.past {
		if fmt.Sprint(t.past[i].ID) == row.Key {
			inc := t.past[i]
			t.viewing = &inc
			t.timeline = nil
			t.fillEntries()
			t.loading = false
			return t.reload()
		}
	}
	return nil
}

func (t *Tab) openDetail() {
	row, ok := t.entries.Selected()
	if !ok {
		return
	}
	var i int
	if _, err := fmt.Sscan(row.Key, &i); err != nil || i < 0 || i >= len(t.timeline) {
		return
	}
	e := t.timeline[i]
	s := t.c.Styles
	var b strings.Builder
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %s %s\n", s.Muted.Render(fmt.Sprintf("%-8s", k+":")), v)
		}
	}
	kv("Time", e.At.In(t.c.Now().Location()).Format(time.RFC3339))
	kv("Kind", e.Label())
	kv("Who", e.Who)
	b.WriteString("\n" + wrap(e.Text, max(t.width-2, 10)) + "\n")
	t.detail.SetContent(b.String())
	t.detail.GotoTop()
	t.showDetail = true
}
