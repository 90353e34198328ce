package restore

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
)

// icon draws a step's state: · pending, the spinner running, ✓ done,
// ✗ failed, ↶ undone, ! undo failed, – skipped.
func (t *Tab) icon(st stepView) string {
	s := t.c.Styles
	switch {
	case st.undoing:
		return s.Warn.Render(t.spinner())
	case st.state == oprestore.Running:
		return s.FilterPrompt.Render(t.spinner())
	case st.state == oprestore.Done:
		return s.OK.Render("✓")
	case st.state == oprestore.Failed:
		return s.Crit.Render("✗")
	case st.state == oprestore.Undone:
		return s.Warn.Render("↶")
	case st.state == oprestore.UndoFailed:
		return s.Crit.Render("!")
	case st.state == oprestore.Skipped:
		return s.Muted.Render("–")
	}
	return s.Muted.Render("·")
}

// took is how long a step ran (so far).
func (t *Tab) took(st stepView) string {
	switch {
	case st.start.IsZero():
		return ""
	case !st.end.IsZero():
		return dur(st.end.Sub(st.start))
	case st.state == oprestore.Running:
		return dur(t.c.Now().Sub(st.start))
	}
	return ""
}

// dur renders a step's time: 0.4s, 12.3s, 2m10s.
func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// nameWidth is the width of the step-name column.
func nameWidth(steps []stepView) int {
	w := 4
	for _, s := range steps {
		w = max(w, len(s.name))
	}
	return min(w, 22)
}

// stepLine is one step of the run: icon, name, title, time.
func (t *Tab) stepLine(st stepView, nameW int) string {
	s := t.c.Styles
	title := st.title
	switch {
	case st.undoing:
		title = "undoing…"
	case st.state == oprestore.Failed && st.undone:
		title += " (undone)"
	}
	took := fmt.Sprintf("%7s", t.took(st))
	name := fmt.Sprintf("%-*s", nameW, ansi.Truncate(st.name, nameW, "…"))
	if st.state == oprestore.Running || st.undoing {
		name = s.Title.Render(name)
	}
	titleW := max(t.width-2-nameW-1-1-7-1, 0)
	titleText := fmt.Sprintf("%-*s", titleW, ansi.Truncate(title, titleW, "…"))
	if st.state == oprestore.Pending || st.state == oprestore.Skipped {
		titleText = s.Muted.Render(titleText)
	}
	return ansi.Truncate(t.icon(st)+" "+name+" "+titleText+" "+s.Muted.Render(took), t.width, "…")
}

// runView draws the run: the steps, the current step's progress, the log.
func (t *Tab) runView() string {
	s := t.c.Styles
	r := t.run
	var b strings.Builder
	n := 0
	for _, st := range r.steps {
		if st.state == oprestore.Done || st.state == oprestore.Undone {
			n++
		}
	}
	b.WriteString(t.heading(titleCase(r.name), fmt.Sprintf("%s · %d of %d steps done", dur(t.c.Now().Sub(r.start)), n, len(r.steps))) + "\n")

	// Breadcrumb and heading above, a blank line, the progress line, the
	// log heading and the status line below: the steps get what is left
	// after three log lines.
	room := max(t.height-6-3, 3)
	nameW := nameWidth(r.steps)
	first, last := window(len(r.steps), max(r.cur, 0), room)
	for i := first; i < last; i++ {
		switch {
		case i == first && first > 0:
			b.WriteString(s.Muted.Render(fmt.Sprintf("  … %d step(s) above", first+1)) + "\n")
		case i == last-1 && last < len(r.steps):
			b.WriteString(s.Muted.Render(fmt.Sprintf("  … %d more step(s)", len(r.steps)-i)) + "\n")
		default:
			b.WriteString(t.stepLine(r.steps[i], nameW) + "\n")
		}
	}
	b.WriteString("\n")
	switch {
	case r.barOn:
		b.WriteString(r.bar.View(t.width))
	case r.cur >= 0:
		st := r.steps[r.cur]
		what := st.title
		if st.undoing {
			what = "undoing " + st.name
		}
		b.WriteString(ansi.Truncate(t.icon(st)+" "+s.Muted.Render(what), t.width, "…"))
	default:
		b.WriteString(s.FilterPrompt.Render(t.spinner()) + s.Muted.Render(" starting: taking the store lock…"))
	}
	b.WriteString("\n" + s.HelpSection.Render("Log") + s.Muted.Render(fmt.Sprintf("  %d line(s), the newest last", len(r.log))) + "\n")
	used := strings.Count(b.String(), "\n") + 1 // with the breadcrumb
	room = max(t.height-1-used, 0)
	// The newest lines that fit; a warning or an error wraps.
	var tail []string
	for i := len(r.log) - 1; i >= 0 && len(tail) < room; i-- {
		lines := strings.Split(t.logLine(r.log[i], nameW), "\n")
		for j := len(lines) - 1; j >= 0 && len(tail) < room; j-- {
			tail = append(tail, lines[j])
		}
	}
	for i := len(tail) - 1; i >= 0; i-- {
		b.WriteString(tail[i] + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// window picks the rows [first,last) of n to show in room lines, keeping
// cur in view.
func window(n, cur, room int) (first, last int) {
	if n <= room {
		return 0, n
	}
	first = max(cur-room/2, 0)
	first = min(first, n-room)
	return first, first + room
}

// logLine renders one log line: the step, then the text. Warnings and
// errors wrap (they say what to do); tool output is cut at the width.
func (t *Tab) logLine(l logLine, nameW int) string {
	s := t.c.Styles
	step := s.Muted.Render(fmt.Sprintf("%-*s", nameW, ansi.Truncate(l.step, nameW, "…"))) + " "
	switch l.kind {
	case progress.Warn:
		return hang(step, s.Warn.Render(l.text), t.width)
	case progress.Fail:
		return hang(step, s.Error.Render(l.text), t.width)
	}
	return ansi.Truncate(step+l.text, t.width, "…")
}

// titleCase upper-cases the first letter.
func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
