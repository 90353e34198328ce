package restore

import (
	"context"
	"errors"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/job"
	tprogress "github.com/opsdeck/opsdeck/tui/progress"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// maxLog is how many log lines a run keeps for its pane.
const maxLog = 500

// stepView is one step of the run as the tab draws it.
type stepView struct {
	name, title string
	state       oprestore.StepState
	// undoing is set while the step's undo runs; undone when the undo of a
	// failed step finished (its state stays failed).
	undoing, undone bool
	start, end      time.Time
	err, undoErr    string
}

// logLine is one line of the log pane.
type logLine struct {
	step string
	kind progress.Kind
	text string
}

// runView is a run's live state, fed by its progress events.
type runView struct {
	name   string
	start  time.Time
	steps  []stepView
	cur    int // the step running (or being undone), -1 before the first
	bar    tprogress.Model
	barOn  bool // the current step reported a total
	log    []logLine
	ended  bool
	endAt  time.Time
	styles *styles.Styles
	now    func() time.Time
}

func newRunView(s *styles.Styles, name string, plan *oprestore.Plan, now func() time.Time) *runView {
	r := &runView{name: name, start: now(), cur: -1, styles: s, now: now}
	for _, st := range plan.Steps {
		r.steps = append(r.steps, stepView{name: st.Name, title: st.Title, state: oprestore.Pending})
	}
	return r
}

func (r *runView) index(step string) int {
	for i, s := range r.steps {
		if s.name == step {
			return i
		}
	}
	return -1
}

func (r *runView) addLog(step string, kind progress.Kind, text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	for _, line := range strings.Split(text, "\n") {
		r.log = append(r.log, logLine{step: step, kind: kind, text: line})
	}
	if n := len(r.log) - maxLog; n > 0 {
		r.log = append(r.log[:0], r.log[n:]...)
	}
}

// apply moves the steps with one event of the engine: Op "restore" runs
// them, Op "undo" undoes them.
func (r *runView) apply(e progress.Event, now time.Time) {
	at := e.At
	if at.IsZero() {
		at = now
	}
	i := r.index(e.Step)
	var s *stepView
	if i >= 0 {
		s = &r.steps[i]
	}
	if e.Op == oprestore.OpUndo {
		switch e.Kind {
		case progress.Start:
			if s != nil {
				s.undoing, r.cur, r.barOn = true, i, false
			}
			r.addLog(e.Step, progress.Warn, "↶ undo: "+e.Message)
		case progress.Finish:
			if s != nil {
				s.undoing = false
				if s.state == oprestore.Done {
					s.state = oprestore.Undone
				} else {
					s.undone = true
				}
			}
			r.addLog(e.Step, progress.Info, "↶ undone")
		case progress.Fail:
			if s != nil {
				s.undoing, s.undoErr = false, e.Err
				if s.state == oprestore.Done {
					s.state = oprestore.UndoFailed
				}
			}
			r.addLog(e.Step, progress.Fail, "undo failed: "+e.Err)
		case progress.Info, progress.Warn:
			r.addLog(e.Step, e.Kind, e.Message)
		}
		return
	}
	switch e.Kind {
	case progress.Start:
		if s != nil {
			s.state, s.start, r.cur = oprestore.Running, at, i
		}
		// The bar is labelled with the step: its detail stays empty.
		r.bar = tprogress.New(r.styles, e.Step, r.now)
		e.Step = ""
		r.bar.Apply(e)
		r.barOn = e.Total > 0
	case progress.Advance:
		if i == r.cur {
			e.Step = ""
			r.bar.Apply(e)
			r.barOn = r.barOn || e.Total > 0
		}
	case progress.Info, progress.Warn:
		r.addLog(e.Step, e.Kind, e.Message)
	case progress.Finish:
		if s != nil {
			s.state, s.end = oprestore.Done, at
		}
		if i == r.cur {
			r.bar.Apply(e)
		}
	case progress.Fail:
		if s != nil {
			s.state, s.end, s.err = oprestore.Failed, at, e.Err
		}
		r.addLog(e.Step, progress.Fail, e.Err)
	}
}

// finish takes the report's step results: they are what happened.
func (r *runView) finish(rep *oprestore.Report, at time.Time) {
	r.ended, r.endAt, r.barOn = true, at, false
	if rep == nil {
		return
	}
	for _, res := range rep.Steps {
		i := r.index(res.Name)
		if i < 0 {
			continue
		}
		s := &r.steps[i]
		s.state, s.err, s.undoErr, s.undoing = res.State, res.Err, res.UndoErr, false
		if !s.start.IsZero() && res.Took > 0 {
			s.end = s.start.Add(res.Took)
		}
	}
}

// startRun runs the confirmed plan in the background through tui/job, on
// the session's context and bounded by RunTimeout. It is registered as a
// running task, so the status bar of every session shows it; it goes on
// while the operator looks at other tabs.
func (t *Tab) startRun() tea.Cmd {
	if t.plan == nil || t.eng == nil || !t.canRestore() || t.running() {
		t.stage = stagePreflight
		return nil
	}
	plan, eng := t.plan, t.eng
	name := "restore " + plan.Options.Kind + " from " + plan.SetID
	if tg := plan.Options.PointInTime; tg != nil {
		name = "restore " + what(plan) + " " + momentText(*tg, t.zone())
	}
	t.run = newRunView(&t.c.Styles, name, plan, t.c.Now)
	t.report, t.runErr = nil, nil
	t.stage = stageRun
	// Not cancelled from the tab (runKey): the handle is not kept.
	_, cmd := job.Start(t.c, job.Options{Task: name, Timeout: t.src.RunTimeout, Buffer: 256}, func(ctx context.Context, p progress.Func) runResult {
		rep, err := eng.Run(ctx, plan, p)
		return runResult{rep: rep, err: err}
	})
	return tea.Batch(cmd, t.animate())
}

// runDone shows the summary.
func (t *Tab) runDone(res runResult) tea.Cmd {
	if t.run == nil {
		return nil
	}
	t.report, t.runErr = res.rep, res.err
	if res.rep == nil && res.err == nil {
		t.runErr = errors.New("the engine returned no report")
	}
	t.run.finish(res.rep, t.c.Now())
	t.stage = stageSummary
	t.note = ""
	t.refreshDetail()
	t.detail.GotoTop()
	// The safety backup is a new set.
	return t.load()
}

// runKey: a running restore is not cancelled from the tab.
func (t *Tab) runKey(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, t.c.Keys.Back) {
		t.say(false, "esc does not cancel a running restore: wait for its summary (quitting stops it, and it undoes what it changed)")
	}
	return nil
}

// summaryKey: enter or esc start over; the arrows scroll.
func (t *Tab) summaryKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	switch {
	case key.Matches(msg, k.Enter), key.Matches(msg, k.Back):
		t.stage = stageKind
		t.plan, t.prepErr = nil, nil
		t.pit.target, t.pit.event, t.pit.scope = nil, nil, newScope()
		return t.load()
	}
	scroll(&t.detail, msg, k)
	return nil
}
