package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/pitr"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/job"
	tprogress "github.com/opsdeck/opsdeck/tui/progress"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/walstrip"
)

// The timeline's glyphs for the destructive transactions: the selected
// one differs in shape too.
const (
	glyphEvent    = "△"
	glyphSelected = "▲"
)

// pitState is the point-in-time path: the archive's coverage, the
// destructive transactions wal find reported, the moment chosen and
// what is restored at it (the whole database, or tables).
type pitState struct {
	// The coverage, read each time the timeline opens.
	ovs        []backup.WALOverview
	walErr     error
	walLoading bool

	// The events, read once in the background (r reads them again);
	// findJob drops a replaced search's result.
	found      *pitr.Found
	events     []pitr.Event // oldest first
	findErr    error
	finding    bool
	findJob    int64
	findCancel context.CancelFunc
	findBar    tprogress.Model
	findBarOn  bool
	sel        int

	// A time typed instead of an event.
	typing   bool
	in       textinput.Model
	parseErr string

	// The moment chosen, and the event it is just before (nil when a
	// time was typed).
	target *pitr.Target
	event  *pitr.Event

	scope scope
}

func newPitState() pitState {
	in := styles.NewInput()
	in.Prompt = ""
	in.CharLimit = 40
	in.Placeholder = "2026-12-07 09:13:00"
	return pitState{in: in, scope: newScope()}
}

// pitPath reports whether the kind picker's cursor is on the
// point-in-time entry (after oprestore.Kinds).
func (t *Tab) pitPath() bool { return t.kind == len(oprestore.Kinds) }

// openTimeline reads the coverage and, the first time, starts wal find.
func (t *Tab) openTimeline() tea.Cmd {
	t.stage = stageTimeline
	t.pit.typing = false
	cmds := []tea.Cmd{t.readCoverage()}
	if t.pit.found == nil && t.pit.findErr == nil && !t.pit.finding {
		cmds = append(cmds, t.startFind())
	}
	return tea.Batch(cmds...)
}

// readCoverage reads the WAL archive's overviews in a Cmd.
func (t *Tab) readCoverage() tea.Cmd {
	if t.eng == nil {
		return nil
	}
	t.pit.walLoading = true
	eng, timeout, parent := t.eng, t.src.ListTimeout, t.c.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		ovs, err := eng.WALOverviews(ctx)
		if err != nil {
			err = fmt.Errorf("reading the WAL archive: %w", err)
		}
		return walMsg{ovs: ovs, err: err}
	}
}

// startFind reads the WAL archive for destructive transactions through
// tui/job, off the UI goroutine and bounded by FindTimeout; the spinner
// turns meanwhile. A search running is replaced.
func (t *Tab) startFind() tea.Cmd {
	if t.eng == nil {
		return nil
	}
	if t.pit.findCancel != nil {
		t.pit.findCancel()
	}
	t.pit.finding, t.pit.findErr = true, nil
	t.pit.findBar, t.pit.findBarOn = tprogress.New(&t.c.Styles, "wal find", t.c.Now), false
	eng := t.eng
	h, cmd := job.Start(t.c, job.Options{Timeout: t.src.FindTimeout}, func(ctx context.Context, p progress.Func) findResult {
		found, err := eng.Find(ctx, pitr.FindOptions{}, p)
		return findResult{found: found, err: err}
	})
	t.pit.findJob, t.pit.findCancel = h.ID, h.Cancel
	return tea.Batch(cmd, t.animate())
}

// findEvent moves the search's progress bar; a replaced search's events
// are dropped.
func (t *Tab) findEvent(id int64, ev progress.Event) {
	p := &t.pit
	if id != p.findJob || !p.finding {
		return
	}
	ev.Step = ""
	p.findBar.Apply(ev)
	p.findBarOn = p.findBarOn || ev.Total > 0
}

// findDone takes wal find's result: the events, oldest first, the newest
// selected.
func (t *Tab) findDone(id int64, res findResult) {
	p := &t.pit
	if id != p.findJob {
		return
	}
	p.finding, p.findCancel = false, nil
	p.found, p.findErr = res.found, res.err
	p.events = nil
	if res.found != nil {
		p.events = slices.Clone(res.found.Events)
		slices.SortStableFunc(p.events, func(a, b pitr.Event) int { return a.Time.Compare(b.Time) })
	}
	p.sel = max(len(p.events)-1, 0)
}

// timelineKey handles the timeline: the arrows move between the events,
// enter targets just before the one selected, t types a time, r reads
// the archive again, esc goes back to the kinds.
func (t *Tab) timelineKey(msg tea.KeyPressMsg) tea.Cmd {
	k, kr := t.c.Keys, t.c.Keys.Restore
	p := &t.pit
	if p.typing {
		switch {
		case key.Matches(msg, kr.KeepTime):
			return t.takeTypedTime()
		case key.Matches(msg, kr.DropTime):
			p.typing, p.parseErr = false, ""
			p.in.Blur()
		default:
			var cmd tea.Cmd
			p.in, cmd = p.in.Update(msg)
			p.parseErr = ""
			return cmd
		}
		return nil
	}
	n := len(p.events)
	switch {
	case key.Matches(msg, k.Back):
		t.stage = stageKind
	case key.Matches(msg, k.Left), key.Matches(msg, k.Up):
		if n > 0 {
			p.sel = max(p.sel-1, 0)
		}
	case key.Matches(msg, k.Right), key.Matches(msg, k.Down):
		if n > 0 {
			p.sel = min(p.sel+1, n-1)
		}
	case key.Matches(msg, k.Top):
		p.sel = 0
	case key.Matches(msg, k.Bottom):
		p.sel = max(n-1, 0)
	case key.Matches(msg, k.Refresh):
		if t.eng == nil {
			return t.Init()
		}
		return tea.Batch(t.readCoverage(), t.startFind())
	case key.Matches(msg, kr.TypeTime):
		if !t.mayRestore() {
			return nil
		}
		p.typing, p.parseErr = true, ""
		return p.in.Focus()
	case key.Matches(msg, kr.JustBefore):
		if !t.mayRestore() {
			return nil
		}
		if n == 0 {
			t.say(false, "no destructive transaction to pick: t types a time")
			return nil
		}
		ev := p.events[p.sel]
		target := ev.Before()
		p.target, p.event = &target, &ev
		return t.openScope()
	}
	return nil
}

// mayRestore says why not and returns false when this session may not
// restore: the timeline is shown for reference.
func (t *Tab) mayRestore() bool {
	switch {
	case t.c.ReadOnly:
		t.say(false, "read-only: restores are hidden; the timeline is shown for reference")
	case !t.canRestore():
		t.say(false, "restores need the admin role; this session is %s", t.c.Identity.Role())
	case t.eng == nil:
		t.say(false, "no backup engine: %v", t.engErr)
	default:
		return true
	}
	return false
}

// takeTypedTime reads the typed time in the clock's zone (the
// bastion's): a parse error stays on screen under the input.
func (t *Tab) takeTypedTime() tea.Cmd {
	p := &t.pit
	at, err := pitr.ParseTime(p.in.Value(), t.zone())
	if err != nil {
		p.parseErr = err.Error()
		return nil
	}
	p.typing, p.parseErr = false, ""
	p.in.Blur()
	p.target = &pitr.Target{Time: at, How: "typed in the Restore tab"}
	p.event = nil
	return t.openScope()
}

// zone is the clock's zone: the bastion's, in which times are typed and
// shown.
func (t *Tab) zone() *time.Location { return t.c.Now().Location() }

// overview is the archive shown: the one written last.
func (p *pitState) overview() *backup.WALOverview {
	if len(p.ovs) == 0 {
		return nil
	}
	best := 0
	for i := range p.ovs {
		if p.ovs[i].HeadTime.After(p.ovs[best].HeadTime) {
			best = i
		}
	}
	return &p.ovs[best]
}

// window is the timeline's stretch of time: from the oldest base backup
// or recoverable moment to the newest recoverable moment or event.
func (p *pitState) window(o *backup.WALOverview) (from, to time.Time) {
	widen := func(at time.Time) {
		if at.IsZero() {
			return
		}
		if from.IsZero() || at.Before(from) {
			from = at
		}
		if to.IsZero() || at.After(to) {
			to = at
		}
	}
	if o != nil {
		for _, c := range o.Coverage {
			widen(c.Base.At)
		}
		for _, s := range o.Spans {
			widen(s.From)
			widen(s.To)
		}
	}
	for _, e := range p.events {
		widen(e.Time)
	}
	if !from.IsZero() && !to.After(from) {
		to = from.Add(time.Hour)
	}
	return from, to
}

// stamp is a moment of the timeline, in the clock's zone.
func (t *Tab) stamp(at time.Time) string {
	return at.In(t.zone()).Format("Jan 2 15:04:05")
}

// stripLines are the timeline itself: the base backups' marks, the
// coverage strip, the events' marks and the axis.
func (t *Tab) stripLines(o *backup.WALOverview) []string {
	s := t.c.Styles
	p := &t.pit
	from, to := p.window(o)
	n := t.width - 4
	if from.IsZero() || n < 10 {
		return nil
	}
	var spans []backup.TimeSpan
	if o != nil {
		spans = o.Spans
	}
	cells := walstrip.Cells(n, from, to, from, spans)
	marks := []byte(strings.Repeat(" ", n))
	if o != nil {
		for _, c := range o.Coverage {
			if i := walstrip.Index(n, from, to, c.Base.At); i >= 0 {
				marks[i] = '^'
			}
		}
	}
	evs := make([]int, n) // 0 none, 1 an event, 2 the selected one
	for i, e := range p.events {
		if j := walstrip.Index(n, from, to, e.Time); j >= 0 {
			v := 1
			if i == p.sel {
				v = 2
			}
			evs[j] = max(evs[j], v)
		}
	}
	var eb strings.Builder
	for _, v := range evs {
		switch v {
		case 0:
			eb.WriteString(" ")
		case 1:
			eb.WriteString(s.Warn.Render(glyphEvent))
		default:
			eb.WriteString(s.FilterPrompt.Render(glyphSelected))
		}
	}
	out := []string{
		s.Title.Render(strings.ReplaceAll(strings.TrimRight(string(marks), " "), "^", walstrip.GlyphBase)),
		walstrip.Render(s, cells),
		strings.TrimRight(eb.String(), " "),
		t.axis(from, to, n),
	}
	for i := range out {
		out[i] = "  " + out[i]
	}
	return out
}

// axis is the timeline's first moment at the left, its last at the right
// and the legend between them when it fits.
func (t *Tab) axis(from, to time.Time, n int) string {
	s := t.c.Styles
	left, right := t.stamp(from), t.stamp(to)
	legend := walstrip.Legend(s) + s.Muted.Render("  ") + s.Warn.Render(glyphEvent) + s.Muted.Render(" event")
	room := n - ansi.StringWidth(left) - ansi.StringWidth(right)
	if w := ansi.StringWidth(legend); room >= w+4 {
		pad := room - w
		return s.Muted.Render(left) + strings.Repeat(" ", pad/2) + legend + strings.Repeat(" ", pad-pad/2) + s.Muted.Render(right)
	}
	if room < 1 {
		return s.Muted.Render(left)
	}
	return s.Muted.Render(left + strings.Repeat(" ", room) + right)
}

// coverageLine says to which moments the archive can recover, or why it
// cannot.
func (t *Tab) coverageLine(o *backup.WALOverview) string {
	s := t.c.Styles
	p := &t.pit
	switch {
	case p.walErr != nil:
		return s.Error.Render(p.walErr.Error())
	case o == nil && p.walLoading:
		return s.Muted.Render("reading the WAL archive…")
	case o == nil:
		return s.Crit.Render("no WAL archive in this store") + s.Muted.Render(": restores go back only to a backup set's end")
	case len(o.Spans) == 0:
		return s.Crit.Render("not recoverable to any moment: ") + s.Muted.Render(pitr.SpansString(nil))
	}
	var parts []string
	for _, sp := range o.Spans {
		parts = append(parts, t.stamp(sp.From)+" – "+t.stamp(sp.To))
	}
	out := s.OK.Render("recoverable: "+parts[len(parts)-1]) + s.Muted.Render(" "+t.c.Now().Format("MST"))
	if len(parts) > 1 {
		out += s.Muted.Render(" · before a gap: " + strings.Join(parts[:len(parts)-1], ", "))
	}
	return out
}

// timelineView is the timeline, the list of events and the selected
// one's details, or the time being typed.
func (t *Tab) timelineView() string {
	s := t.c.Styles
	p := &t.pit
	w := max(t.width, 1)
	remark := "←→ events · enter: just before one · t: type a time"
	if !t.canRestore() {
		remark = "for reference only"
	}
	top := []string{t.heading("To a point in time", remark), ""}
	o := p.overview()
	if t.engErr != nil {
		top = append(top, s.Error.Render(ansi.Wrap("Backup store unavailable: "+t.engErr.Error(), w, "")))
		return strings.Join(top, "\n")
	}
	top = append(top, t.stripLines(o)...)
	top = append(top, ansi.Truncate("  "+t.coverageLine(o), w, "…"), "")

	bottom := t.timelineBottom(w)
	// Breadcrumb, status line: the list gets what is left.
	room := max(t.height-2-len(top)-len(bottom), 2)
	list := t.eventLines(room, w)
	lines := append(append(top, list...), bottom...)
	return strings.Join(lines, "\n")
}

// eventLines are the events' heading and rows (at most room lines), or
// the spinner while wal find reads, or its error.
func (t *Tab) eventLines(room, w int) []string {
	s := t.c.Styles
	p := &t.pit
	head := s.HelpSection.Render("Destructive transactions")
	switch {
	case p.finding:
		out := []string{head, ansi.Truncate(s.FilterPrompt.Render(t.spinner())+" "+s.Muted.Render("reading the WAL archive for DROP, TRUNCATE, large DELETE and UPDATE…"), w, "…")}
		if p.findBarOn {
			out = append(out, p.findBar.View(w))
		}
		return out
	case p.findErr != nil:
		return []string{head, hang(s.Error.Render("wal find: "), s.Error.Render(p.findErr.Error())+s.Muted.Render(" — the timeline works without them: t types a time, r tries again"), w)}
	case len(p.events) == 0 && p.found != nil:
		return []string{head, s.Muted.Render(ansi.Truncate(fmt.Sprintf("  none found in %d WAL segment(s): t types a time", p.found.Segments), w, "…"))}
	case len(p.events) == 0:
		return []string{head}
	}
	head += s.Muted.Render(fmt.Sprintf("  %d found, oldest first", len(p.events)))
	out := []string{ansi.Truncate(head, w, "…")}
	first, last := window(len(p.events), p.sel, max(room-1, 1))
	for i := first; i < last; i++ {
		out = append(out, t.eventRow(p.events[i], i == p.sel, w))
	}
	return out
}

// eventRow is one event: time, kind, transaction, relations.
func (t *Tab) eventRow(e pitr.Event, selected bool, w int) string {
	s := t.c.Styles
	marker := "  "
	if selected {
		marker = s.FilterPrompt.Render("▸ ")
	}
	kind := fmt.Sprintf("%-8s", strings.ToUpper(string(e.Kind())))
	st := s.Warn
	if e.Kind() == pitr.Drop || e.Kind() == pitr.Truncate {
		st = s.Crit
	}
	when := t.stamp(e.Time)
	if selected {
		when = s.Title.Render(when)
	}
	xid := fmt.Sprintf("xid %-8d", e.XID)
	return ansi.Truncate(marker+when+"  "+st.Render(kind)+" "+s.Muted.Render(xid)+" "+e.RelationsText(2), w, "…")
}

// timelineBottom is the time being typed with its error, or the selected
// event's details: what enter targets and what else happened then.
func (t *Tab) timelineBottom(w int) []string {
	s := t.c.Styles
	p := &t.pit
	if p.typing {
		out := []string{"", hang(s.FilterPrompt.Render("time › "), p.in.View(), w)}
		if p.parseErr != "" {
			out = append(out, hang("       ", s.Error.Render(p.parseErr), w))
		} else {
			out = append(out, s.Muted.Render(ansi.Truncate(fmt.Sprintf("       in %s unless an offset is given; recovery stops just after it · enter use it · esc cancel", t.c.Now().Format("MST -07:00")), w, "…")))
		}
		return out
	}
	if len(p.events) == 0 {
		return nil
	}
	e := p.events[p.sel]
	out := []string{""}
	out = append(out, strings.Split(hang(s.Muted.Render("enter → "), "just before "+e.Summary(), w), "\n")...)
	for i, c := range e.Context {
		if i == 3 {
			out = append(out, s.Muted.Render(fmt.Sprintf("         +%d more", len(e.Context)-3)))
			break
		}
		prefix := s.Muted.Render(fmt.Sprintf("         %s %-7s ", c.Time.In(t.zone()).Format("15:04:05"), c.Source))
		out = append(out, ansi.Truncate(prefix+c.Text, w, "…"))
	}
	return out
}
