package restore

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// summaryView is how the run went: a headline, the details (scrollable)
// and the way back to the start.
func (t *Tab) summaryView() string {
	s := t.c.Styles
	var b strings.Builder
	b.WriteString(ansi.Truncate(t.headline(), t.width, "…") + "\n")
	b.WriteString(t.detail.View() + "\n")
	b.WriteString(ansi.Truncate(s.Muted.Render("enter or esc: back to the start")+t.more(), t.width, "…"))
	return b.String()
}

// headline says in one line whether the restore worked, and if not
// whether production is as it was.
func (t *Tab) headline() string {
	s := t.c.Styles
	rep := t.report
	switch {
	case rep == nil:
		return s.Crit.Render("✗ Not run: nothing was changed")
	case rep.OK:
		return s.OK.Render(fmt.Sprintf("✓ Done in %s", dur(rep.End.Sub(rep.Start)))) + s.Muted.Render(": "+t.run.name)
	case rep.Undone:
		return s.Warn.Render("✗ Failed and undone: the original data is serving") + s.Muted.Render(" ("+t.run.name+")")
	}
	return s.Crit.Render("✗ Failed, and the undo did not finish: read the report and the restore runbook first")
}

// summaryText is the run's details: target, safety backup, report, error,
// and each step with its time, notes and errors.
func (t *Tab) summaryText() string {
	s := t.c.Styles
	w := max(t.width, 20)
	rep := t.report
	var b strings.Builder
	kv := func(k, v string) { b.WriteString(hang(s.Muted.Render(fmt.Sprintf("%-9s", k))+" ", v, w) + "\n") }
	if rep == nil {
		kv("error", s.Error.Render(errText(t.runErr)))
		return b.String()
	}
	if p := rep.Plan; p != nil && p.Options.PointInTime != nil {
		kv("restored", what(p)+" "+momentText(*p.Options.PointInTime, t.c.Now().Location())+" from base backup "+p.SetID)
		if len(p.Copies) > 0 {
			kv("copies", strings.Join(p.Copies, ", ")+" beside the live tables")
			if cmd := p.MergeCommand(); cmd != "" && rep.OK {
				kv("next", "compare and put the rows back from a shell: "+cmd)
			}
		}
	} else if p != nil {
		kv("restored", targetText(p.Target)+" from "+p.SetID)
	}
	by := ""
	if rep.Who != "" {
		by = " · by " + rep.Who
	}
	kv("took", dur(rep.End.Sub(rep.Start))+by)
	switch {
	case rep.SafetyBackup != "":
		kv("safety", "backup "+rep.SafetyBackup+" holds the data as it was: keep it until the restore is checked")
	case rep.Plan != nil && rep.Plan.Options.NoSafetyBackup:
		kv("safety", s.Warn.Render("none: it was turned off"))
	}
	if rep.Path != "" {
		// A path is never broken at its hyphens: on a line of its own when
		// it does not fit beside the label, so it can be copied whole.
		label := s.Muted.Render(fmt.Sprintf("%-9s", "report")) + " "
		if ansi.StringWidth(label)+len(rep.Path) <= w {
			b.WriteString(label + s.Title.Render(rep.Path) + "\n")
		} else {
			b.WriteString(label + "\n" + s.Title.Render(ansi.Hardwrap(rep.Path, w, false)) + "\n")
		}
	} else {
		kv("report", s.Warn.Render("not written (the log says why)"))
	}
	if rep.Err != "" {
		kv("error", s.Error.Render(rep.Err))
	}

	b.WriteString("\n" + s.HelpSection.Render("Steps") + "\n")
	nameW := 4
	for _, st := range rep.Steps {
		nameW = max(nameW, len(st.Name))
	}
	nameW = min(nameW, 22)
	for _, st := range rep.Steps {
		sv := stepView{name: st.Name, state: st.State}
		took := ""
		if st.Took > 0 {
			took = dur(st.Took)
		}
		line := fmt.Sprintf("%s %-*s %-11s %7s", t.icon(sv), nameW, ansi.Truncate(st.Name, nameW, "…"), st.State, took)
		indent := strings.Repeat(" ", 4)
		if ansi.StringWidth(line)+2+ansi.StringWidth(st.Title) <= w {
			b.WriteString(line + "  " + s.Muted.Render(st.Title) + "\n")
		} else {
			b.WriteString(line + "\n" + hang(indent, s.Muted.Render(st.Title), w) + "\n")
		}
		for _, n := range st.Notes {
			b.WriteString(hang(indent, n, w) + "\n")
		}
		if st.Err != "" {
			b.WriteString(hang(indent, s.Error.Render("error: "+st.Err), w) + "\n")
		}
		if st.State == oprestore.Failed && t.run != nil {
			if i := t.run.index(st.Name); i >= 0 && t.run.steps[i].undone {
				b.WriteString(indent + s.Warn.Render("↶ undone") + "\n")
			}
		}
		if st.UndoErr != "" {
			b.WriteString(hang(indent, s.Crit.Render("undo failed: "+st.UndoErr), w) + "\n")
		}
	}
	return b.String()
}

func errText(err error) string {
	if err == nil {
		return "the engine returned no report"
	}
	return err.Error()
}
