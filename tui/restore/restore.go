// Package restore is the cockpit's Restore tab: a walkthrough of one
// restore. Pick the component (database, redis, config or full), pick the
// backup set (age, size, verify state; safety sets marked), set the
// options, read the preflight results and the plan (each step with its
// undo, the config object diff), type the target's name to confirm, then
// watch each step live (spinner, progress bar, pg_restore's log lines), an
// undo if a step fails, and end on a summary with the report's path.
//
// To a point in time (the last entry of the component list): a timeline
// of the WAL archive with the destructive transactions wal find reports
// marked on it (timeline.go), enter just before one or t to type a time,
// then the whole database or chosen tables (scope.go), and the same
// options, preflight, confirmation, run and summary.
//
// Esc steps back before the confirmation without changing anything. A
// running restore is not cancelled from the tab; it keeps running while
// the operator looks at other tabs, and every session of a server sees it
// in the status bar. Read-only sessions and roles below admin see the sets
// but are offered no restore; the engine refuses them again and audits
// every run.
package restore

import (
	"context"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/backup"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/confirm"
	"github.com/opsdeck/opsdeck/tui/job"
	tprogress "github.com/opsdeck/opsdeck/tui/progress"
	"github.com/opsdeck/opsdeck/tui/table"
)

// stage is where the walkthrough is.
type stage int

const (
	stageKind      stage = iota // pick the component
	stageSet                    // pick the backup set
	stageOptions                // safety backup, target database, update existing
	stagePreflight              // the preflight running, then its results and the plan
	stageConfirm                // type the target's name
	stageRun                    // the steps live
	stageSummary                // how it went, the report's path
	stageTimeline               // point in time: the archive's timeline, the events
	stageScope                  // point in time: the whole database or tables
)

// Tab is the Restore tab.
type Tab struct {
	c   *common.Common
	src Sources

	eng    Engine
	engErr error

	sets      []backup.Set
	listErr   error
	loading   bool
	refreshed time.Time

	stage stage
	kind  int // cursor in oprestore.Kinds, then the point-in-time entry
	tbl   table.Model
	opts  options
	pit   pitState // the point-in-time path

	// The preflight: prepJob is its job's ID, so that a stopped one's late
	// events and plan are dropped.
	preparing  bool
	prepJob    int64
	prepCancel context.CancelFunc
	prepBar    tprogress.Model
	prepBarOn  bool
	plan       *oprestore.Plan
	prepErr    error
	detail     viewport.Model // the preflight results and plan; the summary

	confirm confirm.Model

	run    *runView // the run shown (running or ended), nil before
	report *oprestore.Report
	runErr error

	frame   int
	ticking bool
	// note is a one-line message for the operator (why a key did nothing).
	note   string
	noteOK bool

	width, height int
}

// New returns the Restore tab.
func New(c *common.Common, src Sources) *Tab {
	if src.ListTimeout <= 0 {
		src.ListTimeout = 30 * time.Second
	}
	if src.PrepareTimeout <= 0 {
		src.PrepareTimeout = 30 * time.Minute
	}
	if src.FindTimeout <= 0 {
		src.FindTimeout = 10 * time.Minute
	}
	if src.RunTimeout <= 0 {
		src.RunTimeout = 12 * time.Hour
	}
	if src.Frame == 0 {
		src.Frame = spin.FPS
	}
	t := &Tab{
		c: c, src: src, loading: true,
		tbl:    table.New(&c.Styles, setColumns...),
		detail: viewport.New(),
		opts:   newOptions(c.Config),
		pit:    newPitState(),
	}
	return t
}

// Title implements common.Tab.
func (t *Tab) Title() string { return "Restore" }

// Init builds the engine and reads the catalog.
func (t *Tab) Init() tea.Cmd {
	if t.src.Engine == nil {
		t.loading = false
		t.engErr = fmt.Errorf("no backup store configured: set backup.dir or backup.s3 in the config")
		return nil
	}
	get := t.src.Engine
	return func() tea.Msg {
		eng, err := get()
		return engineMsg{eng, err}
	}
}

// LastRefresh implements common.Refreshed: when the sets were read.
func (t *Tab) LastRefresh() time.Time { return t.refreshed }

// Capturing implements common.Tab: the target database being typed and the
// typed confirmation take every key.
func (t *Tab) Capturing() bool {
	return (t.stage == stageOptions && t.opts.editing) ||
		(t.stage == stageConfirm && t.confirm.Active()) ||
		(t.stage == stageTimeline && t.pit.typing)
}

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) {
	t.width, t.height = w, h
	t.confirm.SetWidth(min(w, 100))
	t.opts.db.SetWidth(max(min(w-34, 40), 10))
	t.pit.in.SetWidth(max(min(w-10, 40), 10))
	// Breadcrumb, heading, table, status line.
	t.tbl.SetSize(w, max(h-4, 2))
	t.detail.SetWidth(w)
	// Breadcrumb, heading, viewport, footer, status line.
	t.detail.SetHeight(max(h-4, 1))
	t.refreshDetail()
}

// canRestore reports whether this session may restore: the actions are
// not offered otherwise (ops checks again).
func (t *Tab) canRestore() bool { return t.c.Can(access.RestoreRun) }

// kindName is the kind of restore chosen: on the point-in-time path a
// database restore, or a table restore once tables are chosen.
func (t *Tab) kindName() string {
	if t.pitPath() {
		if len(t.pit.scope.chosen) > 0 {
			return oprestore.Table
		}
		return oprestore.Database
	}
	return oprestore.Kinds[t.kind]
}

// running reports whether a restore runs in this session.
func (t *Tab) running() bool { return t.run != nil && !t.run.ended }

// Update implements common.Tab.
func (t *Tab) Update(msg tea.Msg) (common.Tab, tea.Cmd) {
	switch msg := msg.(type) {
	case engineMsg:
		t.eng, t.engErr = msg.eng, msg.err
		if msg.err != nil {
			t.loading = false
			return t, nil
		}
		if t.stage == stageTimeline {
			// Opened before the engine was there (r after an error).
			return t, tea.Batch(t.load(), t.openTimeline())
		}
		return t, t.load()
	case setsMsg:
		t.loading = false
		t.listErr = msg.err
		if msg.err == nil {
			t.sets, t.refreshed = msg.sets, msg.at
		}
		t.applyRows()
		return t, nil
	case job.EventMsg[planResult]:
		t.prepEvent(msg.ID, msg.Event)
		// A stopped preflight is still read until it returns, so it never
		// waits on its events.
		return t, msg.Next()
	case job.DoneMsg[planResult]:
		t.planDone(msg.ID, msg.Result)
		return t, nil
	case walMsg:
		t.pit.walLoading = false
		t.pit.walErr = msg.err
		if msg.err == nil {
			t.pit.ovs = msg.ovs
		}
		return t, nil
	case tablesMsg:
		t.tablesDone(msg)
		return t, nil
	case job.EventMsg[findResult]:
		t.findEvent(msg.ID, msg.Event)
		return t, msg.Next()
	case job.DoneMsg[findResult]:
		t.findDone(msg.ID, msg.Result)
		return t, nil
	case job.EventMsg[runResult]:
		if t.run != nil {
			t.run.apply(msg.Event, t.c.Now())
		}
		return t, msg.Next()
	case job.DoneMsg[runResult]:
		return t, t.runDone(msg.Result)
	case frameMsg:
		t.ticking = false
		t.frame++
		return t, t.animate()
	case tea.KeyPressMsg:
		return t, t.handleKey(msg)
	}
	// Cursor blinks of the inputs.
	var cmd tea.Cmd
	switch {
	case t.stage == stageOptions && t.opts.editing:
		t.opts.db, cmd = t.opts.db.Update(msg)
	case t.stage == stageConfirm && t.confirm.Active():
		t.confirm, _, cmd = t.confirm.Update(msg)
	case t.stage == stageTimeline && t.pit.typing:
		t.pit.in, cmd = t.pit.in.Update(msg)
	}
	return t, cmd
}

// load reads the catalog in the background.
func (t *Tab) load() tea.Cmd {
	if t.eng == nil {
		return nil
	}
	t.loading = true
	eng, timeout, parent := t.eng, t.src.ListTimeout, t.c.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		sets, err := eng.List(ctx)
		if err != nil {
			err = fmt.Errorf("reading the backup sets: %w", err)
		}
		return setsMsg{sets: sets, err: err, at: time.Now()}
	}
}

// animate schedules the next spinner frame while the preflight or a run
// goes on.
func (t *Tab) animate() tea.Cmd {
	if t.ticking || t.src.Frame < 0 || !(t.preparing || t.running() || t.pit.finding) {
		return nil
	}
	t.ticking = true
	return t.c.Tick(t.src.Frame, func(time.Time) tea.Msg { return frameMsg{} })
}

// spinner is the current spinner frame.
func (t *Tab) spinner() string { return spin.Frames[t.frame%len(spin.Frames)] }

// say sets the one-line note.
func (t *Tab) say(ok bool, format string, args ...any) {
	t.note, t.noteOK = fmt.Sprintf(format, args...), ok
}

// handleKey dispatches a key by stage.
func (t *Tab) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	t.note = ""
	switch t.stage {
	case stageKind:
		return t.kindKey(msg)
	case stageSet:
		return t.setKey(msg)
	case stageOptions:
		return t.optionsKey(msg)
	case stagePreflight:
		return t.preflightKey(msg)
	case stageConfirm:
		return t.confirmKey(msg)
	case stageRun:
		return t.runKey(msg)
	case stageSummary:
		return t.summaryKey(msg)
	case stageTimeline:
		return t.timelineKey(msg)
	case stageScope:
		return t.scopeKey(msg)
	}
	return nil
}

// ShortHelp implements common.Tab: what enter, esc, space and r do at
// this step (the key map's Restore group).
func (t *Tab) ShortHelp() []key.Binding {
	k, kr := t.c.Keys, t.c.Keys.Restore
	switch t.stage {
	case stageKind:
		if t.pitPath() {
			return []key.Binding{kr.Timeline}
		}
		return []key.Binding{kr.Sets}
	case stageTimeline:
		if t.pit.typing {
			return []key.Binding{kr.KeepTime, kr.DropTime}
		}
		out := []key.Binding{kr.Events}
		if t.canRestore() {
			out = append(out, kr.JustBefore, kr.TypeTime)
		}
		return append(out, k.Back, k.Refresh)
	case stageScope:
		return []key.Binding{kr.ToggleTable, kr.Options, k.Back}
	case stageSet:
		var out []key.Binding
		if t.canRestore() {
			out = append(out, kr.Options)
		}
		return append(out, k.Back, k.Refresh)
	case stageOptions:
		if t.opts.editing {
			return []key.Binding{kr.KeepName, kr.UndoEdit}
		}
		return []key.Binding{kr.ToggleEdit, kr.Preflight, k.Back}
	case stagePreflight:
		if t.preparing {
			return []key.Binding{kr.StopPreflight}
		}
		var out []key.Binding
		if t.plan != nil && t.plan.Blocked() == nil {
			out = append(out, kr.Confirm)
		}
		return append(out, kr.Again, k.Back)
	case stageConfirm:
		return []key.Binding{kr.RestoreNow, kr.Cancel}
	case stageSummary:
		return []key.Binding{kr.StartOver}
	}
	return nil
}

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding {
	k, kr := t.c.Keys, t.c.Keys.Restore
	groups := [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, kr.PrevStep, k.Refresh}}
	if t.canRestore() {
		groups = append(groups, []key.Binding{kr.NextStep, kr.ToggleOption})
	}
	pit := []key.Binding{kr.Events}
	if t.canRestore() {
		pit = append(pit, kr.JustBefore, kr.TypeTime, kr.ToggleTable)
	}
	return append(groups, pit)
}
