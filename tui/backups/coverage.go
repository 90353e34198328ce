package backups

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
	opwal "github.com/opsdeck/opsdeck/ops/wal"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/walstrip"
)

// minWindow is the shortest stretch of time the strip shows.
const minWindow = time.Hour

// walPanel is what the WAL panel draws: the archive of one cluster and
// the streamer, rendered for a width at a moment.
type walPanel struct {
	s     styles.Styles
	d     walData
	cfg   *config.Config
	width int
	now   time.Time
}

// lines renders the panel: a heading with the archive's facts, the base
// backups marked over the coverage strip, its time axis, the one-line
// answer, the first problem and the streamer's state. compact keeps the
// answer and the streamer only.
func (p walPanel) lines(compact bool) []string {
	s := p.s
	title := s.PanelTitle.Render("WAL archive")
	var head, answer string
	var body []string
	o, others := p.overview()
	switch {
	case !p.d.loaded:
		head, answer = s.Muted.Render("reading…"), s.Muted.Render("reading the WAL archive…")
	case p.d.err != nil:
		answer = s.Error.Render("cannot read the WAL archive: " + p.d.err.Error())
	case o == nil:
		head = s.Warn.Render("none in this store") + s.Muted.Render(": restores go back only to a backup set's end")
	default:
		spans := p.spans(o)
		head = s.Muted.Render(p.facts(o, others))
		answer = p.answer(o, spans)
		if !compact {
			body = p.strip(o, spans)
			if pr := p.problem(o); pr != "" {
				answer += "\n" + pr
			}
		}
	}
	streamer := s.Muted.Render("streamer ") + p.streamer(o)
	if compact {
		if answer == "" {
			answer = head
		}
		return p.fit([]string{s.PanelTitle.Render("WAL ") + answer, "  " + streamer})
	}
	out := []string{title}
	if head != "" {
		out[0] += "  " + head
	}
	for _, l := range body {
		out = append(out, "  "+l)
	}
	if answer != "" {
		for _, l := range strings.Split(answer, "\n") {
			out = append(out, "  "+l)
		}
	}
	return p.fit(append(out, "  "+streamer))
}

// fit truncates each line to the width.
func (p walPanel) fit(lines []string) []string {
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, p.width, "…")
	}
	return lines
}

// overview returns the overview shown: the streamer's cluster when this
// process runs it, else the one written last; and how many others the
// archive holds.
func (p walPanel) overview() (*backup.WALOverview, int) {
	ovs := p.d.ovs
	if len(ovs) == 0 {
		return nil, 0
	}
	best := 0
	for i := range ovs {
		if p.d.running && p.d.state.SystemID != 0 && ovs[i].SystemID == p.d.state.SystemID {
			best = i
			break
		}
		if ovs[i].HeadTime.After(ovs[best].HeadTime) {
			best = i
		}
	}
	return &ovs[best], len(ovs) - 1
}

func (p walPanel) facts(o *backup.WALOverview, others int) string {
	parts := []string{plural(len(o.Coverage), "base backup")}
	if o.Catalog != nil {
		parts = append(parts, fmt.Sprintf("timeline %d", o.HeadTimeline), "head "+o.Head.String(), progress.Bytes(o.Catalog.Bytes))
	} else {
		parts = append(parts, "no archive")
	}
	if others > 0 {
		parts = append(parts, fmt.Sprintf("+%d other %s", others, pluralWord(others, "cluster")))
	}
	parts = append(parts, fmt.Sprintf("system %d", o.SystemID))
	// The heading's room: the width less the title and the gap.
	room := p.width - lipgloss.Width("WAL archive  ")
	out := parts[0]
	for _, part := range parts[1:] {
		if lipgloss.Width(out+" · "+part) > room {
			break
		}
		out += " · " + part
	}
	return out
}

// fits appends each of parts to first while the line stays within the
// panel's indented width, and returns it.
func (p walPanel) fits(first string, parts ...string) string {
	out := first
	for _, part := range parts {
		if part == "" || lipgloss.Width(out+part) > p.width-2 {
			continue
		}
		out += part
	}
	return out
}

// spans are the times the archive can recover to. When this process
// streams the cluster without a hole after the archive's head, the
// newest stretch reaches the last durable write, and now when the
// streamer has all the server wrote.
func (p walPanel) spans(o *backup.WALOverview) []backup.TimeSpan {
	spans := append([]backup.TimeSpan(nil), o.Spans...)
	st := p.d.state
	if len(spans) == 0 || !p.d.running || st.Phase != opwal.Streaming || st.SystemID != o.SystemID {
		return spans
	}
	reaches := false
	for _, c := range o.Coverage {
		if c.OK() && c.To >= o.Head {
			reaches = true
		}
	}
	if !reaches {
		return spans
	}
	last := &spans[len(spans)-1]
	if st.LastDurable.After(last.To) {
		last.To = st.LastDurable
	}
	if st.ServerEnd != 0 && st.Durable >= st.ServerEnd && p.now.After(last.To) {
		last.To = p.now
	}
	return spans
}

// window returns the strip's stretch of time: from the oldest base
// backup or archived object (start) to now, at least minWindow.
func (p walPanel) window(o *backup.WALOverview, spans []backup.TimeSpan) (from, start time.Time) {
	earliest := func(t time.Time) {
		if !t.IsZero() && (start.IsZero() || t.Before(start)) {
			start = t
		}
	}
	for _, c := range o.Coverage {
		earliest(c.Base.At)
	}
	if len(spans) > 0 {
		earliest(spans[0].From)
	}
	earliest(archiveStart(o.Catalog))
	from = start
	if !start.IsZero() && p.now.Sub(start) < minWindow {
		from = p.now.Add(-minWindow)
	}
	return from, start
}

// archiveStart is when the archive's oldest segment or chunk was stored.
func archiveStart(c *backup.WALCatalog) time.Time {
	var t time.Time
	if c == nil {
		return t
	}
	for _, group := range []map[uint32][]backup.WALObject{c.Segments, c.Partials} {
		for _, objs := range group {
			for _, o := range objs {
				if !o.ModTime.IsZero() && (t.IsZero() || o.ModTime.Before(t)) {
					t = o.ModTime
				}
			}
		}
	}
	return t
}

// strip returns the base backups' marks, the coverage strip and its time
// axis; nothing when the archive holds nothing and no base backup.
func (p walPanel) strip(o *backup.WALOverview, spans []backup.TimeSpan) []string {
	from, start := p.window(o, spans)
	n := p.width - 4
	if from.IsZero() || !p.now.After(from) || n < 10 {
		return nil
	}
	s := p.s
	cells := walstrip.Cells(n, from, p.now, start, spans)
	slice := p.now.Sub(from) / time.Duration(n)
	marks := []byte(strings.Repeat(" ", n))
	marked := false
	for _, c := range o.Coverage {
		if c.Base.At.Before(from) || c.Base.At.After(p.now) {
			continue
		}
		i := min(int(c.Base.At.Sub(from)/slice), n-1)
		marks[i], marked = '^', true
	}
	var out []string
	if marked {
		out = append(out, s.Title.Render(strings.ReplaceAll(strings.TrimRight(string(marks), " "), "^", walstrip.GlyphBase)))
	}
	out = append(out, walstrip.Render(s, cells), p.axis(from, n))
	return out
}

// axis is the strip's first time at the left, "now" at the right and the
// legend between them when it fits.
func (p walPanel) axis(from time.Time, n int) string {
	s := p.s
	left := p.minute(from)
	right := "now"
	legend := walstrip.Legend(s)
	room := n - lipgloss.Width(left) - lipgloss.Width(right)
	if w := lipgloss.Width(legend); room >= w+4 {
		pad := room - w
		return s.Muted.Render(left) + strings.Repeat(" ", pad/2) + legend + strings.Repeat(" ", pad-pad/2) + s.Muted.Render(right)
	}
	return s.Muted.Render(left + strings.Repeat(" ", max(room, 1)) + right)
}

// answer is the one line: to which moments the archive can recover, or
// why it cannot.
func (p walPanel) answer(o *backup.WALOverview, spans []backup.TimeSpan) string {
	s := p.s
	if len(spans) == 0 {
		switch {
		case o.Catalog == nil:
			return s.Crit.Render("no WAL archived for this cluster") + s.Muted.Render(": its base backups restore only to their end")
		case len(o.Coverage) == 0:
			return s.Crit.Render("not recoverable: no base backup to start from") + s.Muted.Render(" — take one: opsdeck backup base")
		}
		c := o.Coverage[len(o.Coverage)-1]
		if c.Missing != "" {
			return s.Crit.Render(fmt.Sprintf("not recoverable: base backup %s needs segment %s, missing", c.Base.ID, c.Missing))
		}
		return s.Crit.Render(fmt.Sprintf("not recoverable yet: the WAL of base backup %s stops at %s, before %s", c.Base.ID, c.To, c.Base.Stop))
	}
	last := spans[len(spans)-1]
	to := p.stamp(last.To) + " " + p.now.Format("MST")
	if last.To.Equal(p.now) {
		to = "now (" + p.now.Format("15:04:05 MST") + ")"
	}
	out := s.OK.Render(fmt.Sprintf("recoverable to any moment between %s and %s", p.stamp(last.From), to))
	if n := len(spans) - 1; n > 0 {
		var earlier []string
		for i := n - 1; i >= 0; i-- {
			earlier = append(earlier, p.minute(spans[i].From)+"–"+p.minute(spans[i].To))
		}
		out = p.fits(out, s.Muted.Render(" · before a gap: "+strings.Join(earlier, ", ")))
	}
	return out
}

// problem is the first thing wrong with the archive beyond the answer,
// "" when nothing is.
func (p walPanel) problem(o *backup.WALOverview) string {
	s := p.s
	switch {
	case o.Catalog != nil && o.Err != "":
		return s.Error.Render(o.Err)
	case len(o.Gaps) > 0:
		g := o.Gaps[0]
		more := ""
		if n := len(o.Gaps) - 1; n > 0 {
			more = s.Muted.Render(fmt.Sprintf(" (+%d more)", n))
		}
		// The segments' names when they fit, else the LSNs.
		out := s.Crit.Render(fmt.Sprintf("gap on timeline %d: %s", g.Timeline, g)) + more
		if lipgloss.Width(out) > p.width-2 {
			out = s.Crit.Render(fmt.Sprintf("gap on timeline %d: WAL %s–%s missing", g.Timeline, g.From, g.To)) + more
		}
		return out
	}
	for _, c := range o.Coverage {
		if !c.OK() && c.Missing != "" && o.Catalog != nil {
			return s.Warn.Render(fmt.Sprintf("base backup %s cannot be recovered: segment %s missing", c.Base.ID, c.Missing))
		}
	}
	return ""
}

// streamer is the streamer's state when this process runs it, else that
// it does not and when the archive was last written.
func (p walPanel) streamer(o *backup.WALOverview) string {
	s := p.s
	st := p.d.state
	if !p.d.running {
		last := ""
		switch {
		case o == nil || o.Catalog == nil:
		case o.HeadTime.IsZero():
			last = s.Muted.Render(" · nothing archived yet")
		default:
			last = s.Muted.Render(" · archive last written ") + p.short(o.HeadTime) + s.Muted.Render(", "+p.ago(o.HeadTime))
		}
		why := ""
		if p.cfg != nil && !p.cfg.Postgres.WAL.Stream {
			why = s.Muted.Render(" (postgres.wal.stream is off)")
		}
		return p.fits(s.Muted.Render("not running in this process"), last, why)
	}
	durable := ""
	if st.Durable != 0 {
		durable = " · durable " + st.Durable.String()
		if !st.LastDurable.IsZero() {
			durable += ", " + p.ago(st.LastDurable)
		}
	}
	slot := ""
	if st.Slot != "" {
		slot = " · slot " + st.Slot
	}
	switch st.Phase {
	case opwal.Streaming:
		lvl := styles.LevelOK
		behind := " · caught up"
		if st.ServerEnd > st.Durable {
			behind = " · behind " + progress.Bytes(int64(st.ServerEnd-st.Durable))
			if p.cfg != nil && !st.LastDurable.IsZero() {
				lvl = styles.Level(health.AboveDuration(p.now.Sub(st.LastDurable), p.cfg.Thresholds.WALArchiveLag))
			}
		} else if st.ServerEnd == 0 {
			behind = ""
		}
		return s.ForLevel(lvl).Render("streaming") + s.Muted.Render(slot) + durable + s.ForLevel(lvl).Render(behind)
	case opwal.Connecting, "": // "": before its first state
		return s.Unknown.Render("connecting…") + s.Muted.Render(slot) + durable
	case opwal.Waiting:
		out := s.Crit.Render("waiting to retry")
		if !st.RetryAt.IsZero() {
			out += s.Crit.Render(" in " + health.ShortDuration(max(st.RetryAt.Sub(p.now), 0).Round(time.Second)))
		}
		if st.Err != "" {
			out += s.Error.Render(": " + st.Err)
		}
		return out + durable
	}
	out := s.Warn.Render("stopped")
	if st.Err != "" {
		out += s.Error.Render(": " + st.Err)
	}
	return out + durable
}

// stamp is a moment for the answer: to the second, in the clock's zone.
func (p walPanel) stamp(t time.Time) string {
	return t.In(p.now.Location()).Format("Jan 2 15:04:05")
}

// short is a moment for the streamer's line: the time of day to the
// second, with the date when it is not today.
func (p walPanel) short(t time.Time) string {
	if p.today(t) {
		return t.In(p.now.Location()).Format("15:04:05")
	}
	return p.stamp(t)
}

// minute is a moment for the axis and the older stretches: to the
// minute, with the date when it is not today.
func (p walPanel) minute(t time.Time) string {
	t = t.In(p.now.Location())
	if p.today(t) {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

func (p walPanel) today(t time.Time) bool {
	y, m, d := t.In(p.now.Location()).Date()
	return y == p.now.Year() && m == p.now.Month() && d == p.now.Day()
}

// ago is how long before now t was: "2s ago".
func (p walPanel) ago(t time.Time) string { return age(p.now.Sub(t)) + " ago" }

func plural(n int, word string) string {
	if n == 0 {
		return "no " + word + "s"
	}
	return fmt.Sprintf("%d %s", n, pluralWord(n, word))
}

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
