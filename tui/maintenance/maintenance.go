// Package maintenance is the cockpit's Maintenance tab: the maintenance
// tasks (full, health, db, redis, cleanup, security, capacity) with their
// last run and result; a task run in the background with live progress
// (esc cancels it safely); its findings grouped by area and severity in a
// sortable table; a finding's evidence, why it matters and what to do,
// with its runbook section one key away; and its action (vacuum, cancel or
// terminate a session, delete, drop, prune) run after a confirmation that
// defaults to No. Actions are hidden read-only, refused again by the
// engine, and audited there. The reference maintenance plan shows what
// opsdeck automates for each item.
package maintenance

import (
	"context"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/confirm"
	"github.com/opsdeck/opsdeck/tui/job"
	tprogress "github.com/opsdeck/opsdeck/tui/progress"
	"github.com/opsdeck/opsdeck/tui/table"
)

// view is what the tab shows.
type view int

const (
	viewMain    view = iota // tasks and findings
	viewDetail              // the selected finding
	viewPlan                // the reference plan
	viewReport              // the run's Markdown report
	viewConfirm             // an action's confirmation
)

// focus is the list receiving the arrow keys.
type focus int

const (
	focusTasks focus = iota
	focusFindings
)

// Tab is the Maintenance tab.
type Tab struct {
	c   *common.Common
	src Sources

	eng    Engine
	engErr error
	runs   map[opmaintain.Mode]opmaintain.LastRun

	tasks    table.Model
	findings table.Model
	focus    focus
	sort     sortState

	// rep is the report shown: the last run of this session.
	rep     *opmaintain.Report
	repMode opmaintain.Mode
	runErr  error

	view    view
	detail  viewport.Model
	confirm confirm.Model
	pending *opmaintain.Finding // the finding whose action awaits confirmation

	running  string // the run or action in progress, "" when idle
	cancel   context.CancelFunc
	progress tprogress.Model
	result   string
	resultOK bool

	refreshed     time.Time
	width, height int
}

// New returns the Maintenance tab.
func New(c *common.Common, src Sources) *Tab {
	if src.RunTimeout <= 0 {
		src.RunTimeout = 30 * time.Minute
	}
	if src.ActionTimeout <= 0 {
		src.ActionTimeout = 6 * time.Hour
	}
	t := &Tab{
		c: c, src: src, detail: viewport.New(),
		tasks:    table.New(&c.Styles, taskColumns...),
		findings: table.New(&c.Styles, findingColumns...),
	}
	t.findings.SetEmpty("no findings yet — choose a task above and press enter to run it")
	t.findings.Blur()
	t.setTaskRows()
	return t
}

// Title implements common.Tab.
func (t *Tab) Title() string { return "Maintenance" }

// ShortTitle implements common.ShortTitler: the tab bar of a narrow
// terminal.
func (t *Tab) ShortTitle() string { return "Maint." }

// Init builds the engine and reads the last runs.
func (t *Tab) Init() tea.Cmd {
	if t.src.Engine == nil {
		t.engErr = errNoEngine
		return nil
	}
	get := t.src.Engine
	return func() tea.Msg {
		eng, err := get()
		return engineMsg{eng, err}
	}
}

// LastRefresh implements common.Refreshed.
func (t *Tab) LastRefresh() time.Time { return t.refreshed }

// Capturing implements common.Tab: a typed confirmation takes every key.
func (t *Tab) Capturing() bool {
	return t.view == viewConfirm && t.confirm.Active() && t.confirm.Typed()
}

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) {
	t.width, t.height = w, h
	t.confirm.SetWidth(min(w, 100))
	t.layout()
}

// layout sizes the task list (all tasks) and gives the findings the rest.
func (t *Tab) layout() {
	taskH := len(opmaintain.Modes) + 1
	if t.height < 18 {
		taskH = min(taskH, max(t.height/3, 3))
	}
	t.tasks.SetSize(t.width, taskH)
	// Title, tasks, findings heading, findings, status.
	t.findings.SetSize(t.width, max(t.height-taskH-3, 2))
	t.detail.SetWidth(t.width)
	t.detail.SetHeight(max(t.height-2, 1))
}

// Update implements common.Tab.
func (t *Tab) Update(msg tea.Msg) (common.Tab, tea.Cmd) {
	switch msg := msg.(type) {
	case engineMsg:
		t.eng, t.engErr = msg.eng, msg.err
		if t.eng == nil {
			return t, nil
		}
		eng := t.eng
		return t, func() tea.Msg { return lastRunsMsg{eng.LastRuns()} }
	case lastRunsMsg:
		t.runs = msg.runs
		t.setTaskRows()
		return t, nil
	case job.EventMsg[runResult]:
		t.progress.Apply(msg.Event)
		return t, msg.Next()
	case job.EventMsg[actionResult]:
		t.progress.Apply(msg.Event)
		return t, msg.Next()
	case job.DoneMsg[runResult]:
		return t, t.runDone(msg.Result)
	case job.DoneMsg[actionResult]:
		t.actionDone(msg.Result)
		return t, nil
	case tea.KeyPressMsg:
		return t, t.handleKey(msg)
	}
	return t, nil
}

// handleKey dispatches a key by view.
func (t *Tab) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k, km := t.c.Keys, t.c.Keys.Maintenance
	switch t.view {
	case viewConfirm:
		return t.confirmKey(msg)
	case viewDetail, viewPlan, viewReport:
		switch {
		case key.Matches(msg, k.Back), t.view == viewPlan && key.Matches(msg, km.Plan),
			t.view == viewReport && key.Matches(msg, km.Report):
			t.view = viewMain
			return nil
		case t.view == viewDetail && key.Matches(msg, k.Runbook):
			return t.openRunbook()
		case t.view == viewDetail && key.Matches(msg, km.Act):
			return t.askAction()
		}
		var cmd tea.Cmd
		t.detail, cmd = t.detail.Update(msg)
		return cmd
	}
	switch {
	case key.Matches(msg, k.Back):
		if t.running != "" && t.cancel != nil {
			t.cancel()
			t.result, t.resultOK = "cancelling "+t.running+"…", false
		}
		return nil
	case key.Matches(msg, km.FocusTasks):
		t.setFocus(focusTasks)
	case key.Matches(msg, km.FocusFindings):
		t.setFocus(focusFindings)
	case key.Matches(msg, km.Plan):
		t.showPlan()
	case key.Matches(msg, km.Report):
		t.showReport()
	case key.Matches(msg, k.Sort):
		t.sort.next()
		t.setFindingRows()
	case key.Matches(msg, k.Reverse):
		t.sort.desc = !t.sort.desc
		t.setFindingRows()
	case key.Matches(msg, k.Refresh):
		return t.runSelected()
	case key.Matches(msg, k.Runbook) && t.focus == focusFindings:
		return t.openRunbook()
	case key.Matches(msg, km.Act) && t.focus == focusFindings:
		return t.askAction()
	case key.Matches(msg, k.Enter) || key.Matches(msg, km.RunTask):
		if t.focus == focusTasks {
			return t.runSelected()
		}
		t.showDetail()
	default:
		t.move(msg)
	}
	return nil
}

func (t *Tab) setFocus(f focus) {
	t.focus = f
	if f == focusTasks {
		t.tasks.Focus()
		t.findings.Blur()
	} else {
		t.tasks.Blur()
		t.findings.Focus()
	}
}

// move moves the cursor of the focused list.
func (t *Tab) move(msg tea.KeyPressMsg) {
	tbl := &t.tasks
	if t.focus == focusFindings {
		tbl = &t.findings
	}
	tbl.Navigate(msg, t.c.Keys)
}

// selectedFinding returns the finding under the findings cursor.
func (t *Tab) selectedFinding() (opmaintain.Finding, bool) {
	row, ok := t.findings.Selected()
	if !ok || t.rep == nil {
		return opmaintain.Finding{}, false
	}
	for _, f := range t.rep.Findings {
		if f.Key() == row.Key {
			return f, true
		}
	}
	return opmaintain.Finding{}, false
}

// canAct reports whether this session may run the finding's action: the
// key is not even offered otherwise.
func (t *Tab) canAct(f opmaintain.Finding) bool {
	return f.Action != nil && t.c.Can(f.Action.Permission())
}

// openRunbook asks the cockpit to show the selected finding's runbook section.
func (t *Tab) openRunbook() tea.Cmd {
	f, ok := t.selectedFinding()
	if !ok || f.Runbook == "" {
		return nil
	}
	section := f.Runbook
	return func() tea.Msg { return common.OpenRunbookMsg{Section: section} }
}

// ShortHelp implements common.Tab.
func (t *Tab) ShortHelp() []key.Binding {
	k, km := t.c.Keys, t.c.Keys.Maintenance
	switch t.view {
	case viewDetail:
		out := []key.Binding{k.Back, k.Runbook}
		if f, ok := t.selectedFinding(); ok && t.canAct(f) {
			out = append(out, km.Act)
		}
		return out
	case viewPlan, viewReport, viewConfirm:
		return []key.Binding{k.Back}
	}
	if t.focus == focusTasks {
		return []key.Binding{km.RunTask, km.FocusFindings, km.Plan, km.Report}
	}
	out := []key.Binding{k.Enter, k.Runbook}
	if f, ok := t.selectedFinding(); ok && t.canAct(f) {
		out = append(out, km.Act)
	}
	return append(out, k.Sort, km.FocusTasks)
}

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding {
	k, km := t.c.Keys, t.c.Keys.Maintenance
	acts := []key.Binding{km.RunTask, k.Refresh}
	if !t.c.ReadOnly {
		acts = append(acts, km.Act)
	}
	return [][]key.Binding{
		acts,
		{km.FocusTasks, km.FocusFindings, k.Enter, k.Runbook, k.Sort, k.Reverse},
		{km.Plan, km.Report, k.Back},
	}
}
