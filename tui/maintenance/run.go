package maintenance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/tui/confirm"
	"github.com/opsdeck/opsdeck/tui/job"
	tprogress "github.com/opsdeck/opsdeck/tui/progress"
)

var errNoEngine = errors.New("maintenance is not available: no configuration")

// start runs do in the background through tui/job as name: on the
// session's context, bounded by timeout, cancellable with esc, registered
// as a task every session of a server sees. Its events come back in order
// as job.EventMsg[R], its end as job.DoneMsg[R] (R: runResult or
// actionResult). Update never waits for it.
func start[R any](t *Tab, name string, timeout time.Duration, do func(ctx context.Context, p progress.Func) R) tea.Cmd {
	t.running, t.result = name, ""
	t.progress = tprogress.New(&t.c.Styles, name, t.c.Now)
	h, cmd := job.Start(t.c, job.Options{Task: name, Timeout: timeout}, do)
	t.cancel = h.Cancel
	return cmd
}

// runSelected runs the task under the task cursor.
func (t *Tab) runSelected() tea.Cmd {
	if t.eng == nil || t.running != "" {
		return nil
	}
	row, ok := t.tasks.Selected()
	if !ok {
		return nil
	}
	mode := opmaintain.Mode(row.Key)
	eng := t.eng
	t.repMode = mode
	cmd := start(t, "maintain "+string(mode), t.src.RunTimeout, func(ctx context.Context, p progress.Func) runResult {
		rep, err := eng.Run(ctx, opmaintain.Options{Mode: mode, Progress: p,
			Keyspace: opmaintain.KeyspaceOptions{MaxOpsPerSec: -1}})
		return runResult{mode: mode, rep: rep, err: err}
	})
	t.setTaskRows()
	return cmd
}

// runDone shows a finished (or cancelled) run's findings.
func (t *Tab) runDone(msg runResult) tea.Cmd {
	t.running, t.cancel = "", nil
	t.runErr = msg.err
	if msg.rep != nil {
		t.rep, t.repMode = msg.rep, msg.mode
		t.refreshed = t.c.Now()
		t.setFindingRows()
		t.findings.GotoTop()
		t.setFocus(focusFindings)
	}
	switch {
	case msg.err != nil && msg.rep != nil:
		t.result, t.resultOK = fmt.Sprintf("%s stopped (%v): the findings so far are shown", msg.mode, msg.err), false
	case msg.err != nil:
		t.result, t.resultOK = fmt.Sprintf("%s failed: %v", msg.mode, msg.err), false
	default:
		c := msg.rep.Counts()
		t.result, t.resultOK = fmt.Sprintf("%s: %s — %s in %s", msg.mode, strings.ToUpper(msg.rep.Status.String()), counts(c), msg.rep.Took.Round(1e6)), true
	}
	t.setTaskRows()
	eng := t.eng
	return func() tea.Msg { return lastRunsMsg{eng.LastRuns()} }
}

// askAction shows the confirmation of the selected finding's action. It
// does nothing when the finding has none or the session may not run it.
func (t *Tab) askAction() tea.Cmd {
	f, ok := t.selectedFinding()
	switch {
	case !ok:
		return nil
	case t.running != "":
		t.result, t.resultOK = t.running+" is running: wait for it, or esc to cancel it", false
		return nil
	case f.Action == nil:
		t.result, t.resultOK = "this finding has no action opsdeck takes: enter shows what to do", false
		return nil
	case t.c.ReadOnly:
		t.result, t.resultOK = "read-only: actions are hidden", false
		return nil
	case !t.canAct(f):
		t.result, t.resultOK = "this action needs the "+accessNeeds(f)+" role", false
		return nil
	}
	a := f.Action
	body := f.Summary
	if f.Why != "" {
		body += "\n\nWhy: " + f.Why
	}
	title := a.Label + "?"
	if a.Destructive() {
		body += "\n\nThis cannot be undone."
	}
	if a.Kind == opmaintain.ActDropDatabase {
		t.confirm = confirm.NewTyped(&t.c.Styles, title, body, a.Database)
	} else {
		t.confirm = confirm.New(&t.c.Styles, title, body)
	}
	t.confirm.SetWidth(min(t.width, 100))
	t.pending = &f
	t.view = viewConfirm
	return nil
}

// confirmKey forwards a key to the confirmation and acts on its decision.
func (t *Tab) confirmKey(msg tea.KeyPressMsg) tea.Cmd {
	var dec confirm.Decision
	var cmd tea.Cmd
	t.confirm, dec, cmd = t.confirm.Update(msg)
	switch dec {
	case confirm.Confirmed:
		t.view = viewMain
		f := *t.pending
		t.pending = nil
		return t.runAction(f)
	case confirm.Cancelled:
		t.view = viewMain
		t.pending = nil
		t.result, t.resultOK = "not done", false
	}
	return cmd
}

// runAction applies a confirmed action in the background.
func (t *Tab) runAction(f opmaintain.Finding) tea.Cmd {
	if !t.c.Can(f.Action.Permission()) {
		return nil
	}
	eng := t.eng
	return start(t, f.Action.Label, t.src.ActionTimeout, func(ctx context.Context, p progress.Func) actionResult {
		return actionResult{res: eng.Apply(ctx, f, p)}
	})
}

// actionDone records an action's result in the report.
func (t *Tab) actionDone(msg actionResult) {
	t.running, t.cancel = "", nil
	res := msg.res
	if t.rep != nil {
		t.rep.Record(res)
		t.setFindingRows()
	}
	switch {
	case res.OK:
		t.result, t.resultOK = res.Action.Label+": "+res.Detail, true
	case res.Refused:
		t.result, t.resultOK = "not done: "+res.Error, false
	default:
		t.result, t.resultOK = "failed: "+res.Error, false
	}
	t.setTaskRows()
}
