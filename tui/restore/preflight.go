package restore

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/confirm"
	"github.com/opsdeck/opsdeck/tui/job"
	tprogress "github.com/opsdeck/opsdeck/tui/progress"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// startPrepare builds the plan and runs the preflight in the background
// through tui/job, on the session's context and bounded by PrepareTimeout.
// It changes nothing, so it is no task on the task list; esc stops it.
func (t *Tab) startPrepare() tea.Cmd {
	set, ok := t.selectedSet()
	if t.pitPath() {
		ok = t.pit.target != nil
	}
	if !ok || t.eng == nil || !t.canRestore() {
		return nil
	}
	t.stopPrepare()
	t.stage = stagePreflight
	t.preparing, t.plan, t.prepErr = true, nil, nil
	t.prepBar = tprogress.New(&t.c.Styles, "preflight", t.c.Now)
	t.prepBarOn = false
	opts := t.opts.restoreOptions(t.kindName(), set.ID)
	if t.pitPath() {
		opts = t.pitOptions(opts)
	}
	eng := t.eng
	h, cmd := job.Start(t.c, job.Options{Timeout: t.src.PrepareTimeout}, func(ctx context.Context, p progress.Func) planResult {
		plan, err := eng.Prepare(ctx, opts, p)
		if err != nil {
			err = fmt.Errorf("preparing the restore: %w", err)
		}
		return planResult{plan: plan, err: err}
	})
	t.prepJob, t.prepCancel = h.ID, h.Cancel
	return tea.Batch(cmd, t.animate())
}

// stopPrepare ends a preflight in progress; its late messages are dropped.
func (t *Tab) stopPrepare() {
	if t.prepCancel != nil {
		t.prepCancel()
		t.prepCancel = nil
	}
	t.preparing = false
}

// prepEvent applies one event of the preflight job id; a stopped or
// replaced preflight's events are dropped.
func (t *Tab) prepEvent(id int64, ev progress.Event) {
	if id != t.prepJob || !t.preparing {
		return
	}
	t.prepBar.Apply(ev)
	t.prepBarOn = t.prepBarOn || ev.Total > 0
}

// planDone shows the preflight's results and the plan.
func (t *Tab) planDone(id int64, res planResult) {
	if id != t.prepJob || !t.preparing {
		return // stopped with esc, or replaced by a newer one
	}
	t.preparing, t.prepCancel = false, nil
	t.plan, t.prepErr = res.plan, res.err
	if t.plan == nil && t.prepErr == nil {
		t.prepErr = fmt.Errorf("the engine returned no plan")
	}
	t.refreshDetail()
	t.detail.GotoTop()
}

// preflightKey handles the preflight: scroll, enter to confirm, r to run
// it again, esc back to the options (stopping a preflight that runs).
func (t *Tab) preflightKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	switch {
	case key.Matches(msg, k.Back):
		t.stopPrepare()
		t.stage = stageOptions
		return nil
	case t.preparing:
		return nil
	case key.Matches(msg, k.Refresh):
		return t.startPrepare()
	case key.Matches(msg, k.Enter):
		return t.askConfirm()
	}
	scroll(&t.detail, msg, k)
	return nil
}

// askConfirm shows the typed confirmation of a plan that may run.
func (t *Tab) askConfirm() tea.Cmd {
	switch {
	case t.plan == nil:
		t.say(false, "no plan: %v — fix it, then r runs the preflight again", t.prepErr)
		return nil
	case t.plan.Blocked() != nil:
		t.say(false, "blocked by a CRIT check: fix it, then r runs the preflight again")
		return nil
	case !t.canRestore():
		return nil
	}
	p := t.plan
	title := fmt.Sprintf("Restore %s from backup %s?", p.Options.Kind, p.SetID)
	if tg := p.Options.PointInTime; tg != nil {
		title = fmt.Sprintf("Restore %s %s?", what(p), momentText(*tg, t.zone()))
	}
	t.confirm = confirm.NewTyped(&t.c.Styles, title, t.confirmBody(), p.Confirm)
	t.confirm.SetWidth(min(t.width, 100))
	t.stage = stageConfirm
	return nil
}

// confirmBody says what the run replaces and how it can be undone.
func (t *Tab) confirmBody() string {
	p := t.plan
	if tg := p.Options.PointInTime; tg != nil && p.Options.Kind == oprestore.Table {
		return fmt.Sprintf("This copies %s as they were %s beside the live ones, as %s, from a private instance recovered from base backup %s and the WAL after it. The live tables are not changed. %d steps; if one fails, the steps done are undone in reverse.",
			strings.Join(p.Options.Tables, ", "), momentText(*tg, t.zone()), strings.Join(p.Copies, ", "), p.SetID, len(p.Steps))
	}
	body := "This replaces " + targetText(p.Target) + " with the content of backup " + p.SetID + "."
	if tg := p.Options.PointInTime; tg != nil {
		body = "This replaces " + targetText(p.Target) + " with its content as it was " + momentText(*tg, t.zone()) + ", recovered from base backup " + p.SetID + " and the WAL after it."
	}
	if _, ok := p.Step("safety-backup"); ok {
		body += " The current data is backed up first (a set tagged " + oprestore.PreRestoreTag + ")."
	} else if p.Options.NoSafetyBackup {
		body += " No safety backup is taken: you turned it off."
	}
	return body + fmt.Sprintf(" %d steps; if one fails, the steps done are undone in reverse.", len(p.Steps))
}

// confirmKey forwards a key to the confirmation and acts on its decision.
func (t *Tab) confirmKey(msg tea.KeyPressMsg) tea.Cmd {
	var d confirm.Decision
	var cmd tea.Cmd
	t.confirm, d, cmd = t.confirm.Update(msg)
	switch d {
	case confirm.Confirmed:
		return t.startRun()
	case confirm.Cancelled:
		t.stage = stagePreflight
		t.say(true, "not confirmed: nothing was changed")
	}
	return cmd
}

// refreshDetail renders the viewport's content for the stage: the
// preflight results and plan, or the summary.
func (t *Tab) refreshDetail() {
	switch {
	case t.stage == stageSummary && t.run != nil:
		t.detail.SetContent(t.summaryText())
	case t.plan != nil || t.prepErr != nil:
		t.detail.SetContent(t.preflightText())
	}
}

// what names what a plan restores: the database, or its tables.
func what(p *oprestore.Plan) string {
	if p.Options.Kind == oprestore.Table {
		return "tables " + strings.Join(p.Options.Tables, ", ")
	}
	return p.Options.Kind
}

// targetText names what a plan replaces.
func targetText(tg oprestore.Target) string {
	var parts []string
	if tg.Database != "" {
		d := "database " + tg.Database
		if tg.Postgres != "" {
			d += " on " + tg.Postgres
		}
		parts = append(parts, d)
	}
	if tg.Redis != "" {
		parts = append(parts, "Redis "+tg.Redis)
	}
	if len(tg.Namespaces) > 0 {
		parts = append(parts, "the objects of namespace "+strings.Join(tg.Namespaces, ", "))
	}
	if len(parts) == 0 {
		return "the target"
	}
	return strings.Join(parts, ", ")
}

// level maps a check's status to a style level.
func level(st health.Status) styles.Level {
	switch st {
	case health.OK:
		return styles.LevelOK
	case health.Warn:
		return styles.LevelWarn
	case health.Crit:
		return styles.LevelCrit
	}
	return styles.LevelUnknown
}

// preflightText is the preflight's results, the plan and the config diff.
func (t *Tab) preflightText() string {
	s := t.c.Styles
	w := max(t.width, 20)
	var b strings.Builder
	if t.plan == nil {
		b.WriteString(s.Error.Render(ansi.Wrap(t.prepErr.Error(), w, "")) + "\n")
		b.WriteString("\n" + s.Muted.Render(ansi.Wrap("Nothing was changed. Fix the cause, then r runs the preflight again, or esc to choose other options.", w, "")))
		return b.String()
	}
	p := t.plan
	kv := func(k, v string) { b.WriteString(hang(s.Muted.Render(fmt.Sprintf("%-9s", k))+" ", v, w) + "\n") }
	kv("target", targetText(p.Target))
	set := p.SetID
	if p.Set != nil {
		set += fmt.Sprintf(" · %s · %s old", progress.Bytes(p.Set.Size()), age(t.c.Now().Sub(p.Set.Start)))
	}
	if tg := p.Options.PointInTime; tg != nil {
		kv("moment", momentText(*tg, t.zone()))
		if tg.How != "" {
			kv("chosen", tg.How)
		}
		set = "base backup " + set
	}
	kv("set", set+" · "+strings.Join(p.Components, ", "))
	if len(p.Copies) > 0 {
		kv("copies", strings.Join(p.Copies, ", "))
	}
	kv("confirm", "type "+s.Title.Render(p.Confirm)+" to confirm")

	b.WriteString("\n" + s.HelpSection.Render("Preflight checks") + "\n")
	if len(p.Checks) == 0 {
		b.WriteString(s.Muted.Render("  none") + "\n")
	}
	nameW := 0
	for _, c := range p.Checks {
		nameW = max(nameW, len(c.Component)+1+len(c.Name))
	}
	nameW = min(nameW, 26)
	for _, c := range p.Checks {
		st := s.ForLevel(level(c.Status))
		name := ansi.Truncate(c.Component+" "+c.Name, nameW, "…")
		prefix := "  " + st.Render(fmt.Sprintf("%-4s", strings.ToUpper(c.Status.String()))) + " " + fmt.Sprintf("%-*s", nameW, name) + " "
		b.WriteString(hang(prefix, c.Detail, w) + "\n")
	}

	b.WriteString("\n" + s.HelpSection.Render(fmt.Sprintf("Plan: %d steps", len(p.Steps))) + s.Muted.Render("  (a failure undoes the steps done, in reverse)") + "\n")
	stepW := 0
	for _, st := range p.Steps {
		stepW = max(stepW, len(st.Name))
	}
	stepW = min(stepW, 22)
	for i, st := range p.Steps {
		prefix := fmt.Sprintf("  %2d %-*s ", i+1, stepW, ansi.Truncate(st.Name, stepW, "…"))
		b.WriteString(hang(prefix, st.Title, w) + "\n")
		if st.Undo != "" {
			b.WriteString(hang(strings.Repeat(" ", 6+stepW)+s.Warn.Render("↶ undo: "), st.Undo, w) + "\n")
		}
	}
	if len(p.Objects) > 0 {
		b.WriteString("\n" + t.objectsText(p.Objects, w))
	}
	return b.String()
}

// objectsText is the config restore's diff, one line per object.
func (t *Tab) objectsText(objs []oprestore.ObjectChange, w int) string {
	s := t.c.Styles
	n := map[string]int{}
	for _, o := range objs {
		n[o.Action]++
	}
	var sum []string
	for _, a := range []string{oprestore.ObjectCreate, oprestore.ObjectUpdate, oprestore.ObjectSkip, oprestore.ObjectUnchanged, oprestore.ObjectError} {
		if n[a] > 0 {
			sum = append(sum, fmt.Sprintf("%d %s", n[a], a))
		}
	}
	var b strings.Builder
	b.WriteString(s.HelpSection.Render(fmt.Sprintf("Config objects: %d", len(objs))) + s.Muted.Render("  "+strings.Join(sum, " · ")) + "\n")
	for _, o := range objs {
		st := s.Muted
		switch o.Action {
		case oprestore.ObjectCreate:
			st = s.OK
		case oprestore.ObjectUpdate:
			st = s.Warn
		case oprestore.ObjectError:
			st = s.Crit
		}
		name := o.Ref()
		var detail []string
		if len(o.Fields) > 0 {
			detail = append(detail, "differs: "+strings.Join(o.Fields, ", "))
		}
		if o.Err != "" {
			detail = append(detail, o.Err)
		}
		prefix := "  " + st.Render(fmt.Sprintf("%-9s", o.Action)) + " "
		line := name
		if len(detail) > 0 {
			line += s.Muted.Render("  " + strings.Join(detail, "; "))
		}
		b.WriteString(hang(prefix, line, w) + "\n")
	}
	return b.String()
}

// hang writes text after prefix, wrapped to width with the continuation
// lines indented under the text.
func hang(prefix, text string, width int) string {
	pw := ansi.StringWidth(prefix)
	avail := width - pw
	if avail < 12 {
		return ansi.Truncate(prefix+text, width, "…")
	}
	lines := strings.Split(ansi.Wrap(text, avail, ""), "\n")
	pad := strings.Repeat(" ", pw)
	for i := range lines {
		if i == 0 {
			lines[i] = prefix + lines[i]
		} else {
			lines[i] = pad + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}
