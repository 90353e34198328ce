package runbooks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/tui/confirm"
)

// runRequest is a command about to run, with where it came from.
type runRequest struct {
	cmd           runbook.Command
	book, section string
}

// runState is the command running now.
type runState struct {
	id     int
	line   string
	cancel context.CancelFunc
}

// askToRun runs a read-only command at once and asks before one that
// changes things; in read-only mode those are refused here and, again,
// in ops/runbook.
func (t *Tab) askToRun(it item) tea.Cmd {
	c, err := runbook.ParseCommand(it.cmd.Text)
	switch {
	case err != nil:
		t.setNotice("cannot run here: "+err.Error(), true)
		return nil
	case c.Interactive():
		t.setNotice(it.cmd.Text+": "+runbook.ErrInteractive.Error(), true)
		return nil
	case t.src.Run == nil:
		t.setNotice("commands cannot run in this session: copy it into a shell", true)
		return nil
	case t.running != nil:
		t.setNotice(t.running.line+" is still running: wait for it or press esc to cancel it", true)
		return nil
	}
	req := runRequest{cmd: c, book: t.book.Name}
	if h, ok := t.doc.headingAt(it.line); ok {
		req.section = h.section.Anchor
	}
	if c.ReadOnly() {
		return t.startRun(req, false)
	}
	if t.c.Env.ReadOnly {
		t.setNotice(c.String()+" changes things: "+audit.ErrReadOnly.Error(), true)
		return nil
	}
	if why := t.c.Refusal(c.Action()); why != "" {
		t.setNotice(fmt.Sprintf("%s is not offered to %s: it %s", c.String(), t.c.Identity, why), true)
		return nil
	}
	word := c.ConfirmWord(t.src.Database, t.src.Namespace)
	title := "Run " + c.String() + "?"
	body := "It changes things and is recorded in the audit log.\nFrom " + t.book.Title + ", section " + req.section + "."
	var m confirm.Model
	if word != "" {
		m = confirm.NewTyped(&t.c.Styles, title, body+"\nIt overwrites "+word+".", word)
	} else {
		m = confirm.New(&t.c.Styles, title, body)
	}
	m.SetWidth(min(t.width-4, 100))
	t.confirm = &m
	t.confirmFor = req
	return nil
}

func (t *Tab) confirmKey(msg tea.KeyPressMsg) tea.Cmd {
	m, decision, cmd := t.confirm.Update(msg)
	*t.confirm = m
	switch decision {
	case confirm.Confirmed:
		t.confirm = nil
		return t.startRun(t.confirmFor, true)
	case confirm.Cancelled:
		t.confirm = nil
		t.setNotice("not run: "+t.confirmFor.cmd.String(), false)
		// Record the refusal, as every refused action is.
		if t.src.Run != nil {
			return t.runCmd(t.c.Context, t.confirmFor, false, -1)
		}
	}
	return cmd
}

// startRun runs the command in a Cmd; esc cancels it.
func (t *Tab) startRun(req runRequest, confirmed bool) tea.Cmd {
	t.runs++
	ctx, cancel := context.WithCancel(t.c.Context)
	t.running = &runState{id: t.runs, line: req.cmd.String(), cancel: cancel}
	t.notice = ""
	return t.runCmd(ctx, req, confirmed, t.runs)
}

// runCmd calls the source. id -1 is a declined command: the source
// refuses it and audits the refusal, and nothing is shown.
func (t *Tab) runCmd(ctx context.Context, req runRequest, confirmed bool, id int) tea.Cmd {
	run := t.src.Run
	return func() tea.Msg {
		res, err := run(ctx, req.cmd, confirmed, req.book, req.section)
		return ranMsg{id: id, res: res, err: err}
	}
}

func (t *Tab) finishRun(msg ranMsg) tea.Cmd {
	if msg.id < 0 || t.running == nil || msg.id != t.running.id {
		return nil
	}
	t.running.cancel()
	t.running = nil
	t.output = newOutputPane(msg.res, msg.err)
	t.output.setSize(t.width, t.height)
	return nil
}

func (t *Tab) outputKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	switch {
	case key.Matches(msg, k.Back), key.Matches(msg, k.Enter):
		t.output = nil
	case key.Matches(msg, k.Up):
		t.output.vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		t.output.vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		t.output.vp.PageUp()
	case key.Matches(msg, k.PageDown):
		t.output.vp.PageDown()
	case key.Matches(msg, k.Top):
		t.output.vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		t.output.vp.GotoBottom()
	}
	return nil
}

// outputPane shows what a command printed.
type outputPane struct {
	res runbook.RunResult
	err error
	vp  viewport.Model
}

func newOutputPane(res runbook.RunResult, err error) *outputPane {
	p := &outputPane{res: res, err: err, vp: viewport.New()}
	p.vp.SoftWrap = true
	out := strings.TrimRight(res.Output, "\n")
	if out == "" {
		out = "(no output)"
	}
	if res.Truncated {
		out += "\n… output cut at 1 MiB"
	}
	p.vp.SetContent(out)
	return p
}

func (p *outputPane) setSize(w, h int) {
	p.vp.SetWidth(w)
	p.vp.SetHeight(max(h-2, 1))
}

func (p *outputPane) view(t *Tab) string {
	s := t.c.Styles
	head := s.Title.Render("$ " + p.res.Line)
	var status string
	switch {
	case p.err == nil:
		status = s.OK.Render(fmt.Sprintf("exit 0 · %s", p.res.Took.Round(time.Millisecond)))
	case errors.Is(p.err, audit.ErrReadOnly), errors.Is(p.err, audit.ErrRefused):
		status = s.Warn.Render(p.err.Error())
	default:
		status = s.Error.Render(p.err.Error())
	}
	return t.frame(head+"  "+status, p.vp.View(), s.Muted.Render("↑/↓ scroll · esc close"))
}
