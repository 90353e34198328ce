package health

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/kube"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
)

// errorKinds is the panel of new kinds of errors: the templates of the
// watched pods' error and warning lines (kube.FindErrorKinds, the same
// run as `opsdeck logs errors`), read in the background when the tab
// opens and every few minutes, the new ones first. It takes one line
// until shown.
type errorKinds struct {
	res     *kube.ErrorKinds
	err     error
	at      time.Time
	running bool
	shown   bool
	// sorted are res's templates, the new ones first, then by count.
	sorted []oplogs.Template
}

type (
	errorKindsMsg struct {
		res *kube.ErrorKinds
		err error
		at  time.Time
	}
	errorKindsTickMsg struct{}
)

// runErrorKinds reads the templates in a Cmd, bounded by ErrorsTimeout.
func (t *Tab) runErrorKinds() tea.Cmd {
	if t.src.Errors == nil || t.errs.running {
		return nil
	}
	t.errs.running = true
	find, timeout, ctx := t.src.Errors, t.src.ErrorsTimeout, t.c.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := find(ctx)
		return errorKindsMsg{res: res, err: err, at: time.Now()}
	}
}

// setErrorKinds keeps a run's result; a failed run keeps the last good
// result beside its error.
func (t *Tab) setErrorKinds(msg errorKindsMsg) tea.Cmd {
	e := &t.errs
	e.running, e.err = false, msg.err
	if msg.res != nil {
		e.res, e.at = msg.res, msg.at
		e.sorted = slices.Clone(msg.res.Templates)
		slices.SortStableFunc(e.sorted, func(a, b oplogs.Template) int {
			an, bn := msg.res.IsNew(a.ID), msg.res.IsNew(b.ID)
			if an != bn {
				if an {
					return -1
				}
				return 1
			}
			return cmp.Compare(b.Count, a.Count)
		})
	}
	t.layout()
	return t.c.Tick(t.src.ErrorsEvery, func(time.Time) tea.Msg { return errorKindsTickMsg{} })
}

// errorKindsHeight is the panel's height: one line, or when shown its
// templates, two lines each, within a third of the tab; none when the
// cluster cannot be reached (the tab says so already).
func (t *Tab) errorKindsHeight() int {
	if t.src.Errors == nil || t.kubeErr != nil {
		return 0
	}
	if !t.errs.shown || len(t.errs.sorted) == 0 {
		return 1
	}
	return 1 + min(2*len(t.errs.sorted), max(t.height/3-1, 2)&^1)
}

// errorKindsView renders the panel.
func (t *Tab) errorKindsView() string {
	s := t.c.Styles
	e := &t.errs
	line := func(str string) string { return ansi.Truncate(str, t.width, "…") }
	switch {
	case e.res == nil && e.err != nil:
		return line(s.Subtitle.Render("  New kinds of errors ") + s.Error.Render(e.err.Error()))
	case e.res == nil:
		return line(s.Subtitle.Render("  New kinds of errors ") + s.Muted.Render("reading the pods' logs…"))
	}
	n, since := len(e.res.New), shortSince(e.res.Since)
	head := fmt.Sprintf("  no new kinds of errors in the last %s", since)
	style := s.Subtitle
	if n > 0 {
		head, style = fmt.Sprintf("▲ %d new kinds of errors in the last %s", n, since), s.Warn.Bold(true)
		if n == 1 {
			head = fmt.Sprintf("▲ 1 new kind of error in the last %s", since)
		}
	}
	info := fmt.Sprintf(" · %d kinds, %d lines", len(e.res.Templates), e.res.Counted)
	if e.res.Previous.IsZero() {
		info += " · no earlier run recorded"
	}
	if len(e.res.Failed) > 0 {
		info += fmt.Sprintf(" · %d logs unread", len(e.res.Failed))
	}
	if e.err != nil {
		info += " · last run failed: " + e.err.Error()
	}
	hint := " (e to show)"
	if e.shown {
		hint = " (e to hide)"
	}
	out := []string{line(style.Render(head) + s.Muted.Render(info+hint))}
	if !e.shown {
		return out[0]
	}
	slots := (t.errorKindsHeight() - 1) / 2
	show, more := e.sorted, 0
	if len(show) > slots {
		show, more = show[:slots-1], len(show)-(slots-1)
	}
	now := t.c.Now()
	ago := func(at time.Time) string {
		if d := now.Sub(at); d >= time.Minute {
			return health.ShortDuration(d.Truncate(time.Minute)) + " ago"
		}
		return "just now"
	}
	for _, tp := range show {
		mark, ms := "   ", s.Muted
		if e.res.IsNew(tp.ID) {
			mark, ms = "NEW", s.Warn.Bold(true)
		}
		lvl := s.Warn
		if tp.Level == oplogs.LevelError {
			lvl = s.Error
		}
		out = append(out, line(ms.Render(mark)+" "+lvl.Render(fmt.Sprintf("%-5s", tp.Level))+fmt.Sprintf(" %6d× ", tp.Count)+tp.Text))
		detail := fmt.Sprintf("      first %s · last %s · %s · e.g. %s", ago(tp.FirstSeen), ago(tp.LastSeen), strings.Join(tp.Workloads, ", "), tp.Sample)
		out = append(out, line(s.Muted.Render(detail)))
	}
	if more > 0 {
		out = append(out, line(s.Muted.Render(fmt.Sprintf("    … and %d more kinds: opsdeck logs errors", more))))
	}
	return strings.Join(out, "\n")
}

// shortSince writes 24h0m0s as 24h.
func shortSince(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}
