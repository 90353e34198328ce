package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/kube"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// logFrame is how long the log view lets lines gather before it takes
// them: a pod writing thousands of lines a second costs one message, and
// one render, per frame.
const logFrame = 50 * time.Millisecond

// logEntry is one line of the view, prepared off the UI goroutine.
type logEntry struct {
	text  string // control characters removed, tabs expanded
	level oplogs.Level
}

// logView is one pod's log in the Health tab: followed live from a
// kube.LogStream, scrolled, searched, wrapped. It keeps at most about keep
// lines (the stream's ring keeps keep; the view trims at a quarter more).
type logView struct {
	c    *common.Common
	open func(context.Context, kube.LogRequest) (LogStream, []kube.LogSource, error)
	keep int

	ns, pod    string
	container  string
	containers []string // the pod's containers, when it has several
	previous   bool

	// The stream: gen tells a replaced stream's late messages apart.
	gen     int
	ctx     context.Context
	cancel  context.CancelFunc
	stream  LogStream
	seq     uint64 // the last line read from the ring
	opening bool
	ended   bool  // the stream ended: nothing more will come
	err     error // why the log cannot be read (or stopped)
	missed  uint64

	lines []logEntry // oldest first
	base  int        // the absolute index of lines[0]

	follow bool // stick to the newest line
	top    int  // the absolute index of the first line shown when not following
	wrap   bool

	picking bool // choosing a container
	pick    int

	search    textinput.Model
	searching bool
	query     string // lower case; "" when no search
	matches   []int  // absolute indexes of the lines that match, ascending
	cur       int    // index in matches of the current one, -1 for none
	errLine   int    // absolute index of the error line jumped to, -1 for none

	width, height int
}

// Messages of the log view, each with the generation of its stream.
type (
	logOpenedMsg struct {
		gen     int
		stream  LogStream
		sources []kube.LogSource
		err     error
	}
	logLinesMsg struct {
		gen     int
		entries []logEntry
		last    uint64 // Seq of the last line read
		missed  uint64
		done    bool
		err     error
	}
)

// newLogView returns the view of a pod's log; containers are the pod's
// (its main ones), which it offers to choose from when there are several.
// Start opens it.
func newLogView(c *common.Common, open func(context.Context, kube.LogRequest) (LogStream, []kube.LogSource, error), keep int, ns, pod string, containers []string) *logView {
	if keep <= 0 {
		keep = kube.DefaultLogLines
	}
	in := styles.NewInput()
	in.Prompt = "/"
	in.Placeholder = "search the log"
	in.CharLimit = 200
	v := &logView{c: c, open: open, keep: keep, ns: ns, pod: pod, search: in, cur: -1, errLine: -1, follow: true}
	if len(containers) > 1 {
		v.containers = containers
		v.picking = true
	}
	return v
}

// Start opens the stream, or waits for a container to be chosen.
func (v *logView) Start() tea.Cmd {
	if v.picking {
		return nil
	}
	return v.restart()
}

// Close ends the stream.
func (v *logView) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// restart (re)opens the stream for the pod, container and previous chosen,
// from an empty view.
func (v *logView) restart() tea.Cmd {
	v.Close()
	v.gen++
	v.ctx, v.cancel = context.WithCancel(v.c.Context)
	v.stream, v.seq, v.opening, v.ended, v.err, v.missed = nil, 0, true, false, nil, 0
	v.lines, v.base, v.top, v.follow = nil, 0, 0, true
	v.matches, v.cur, v.errLine = nil, -1, -1
	req := kube.LogRequest{Namespace: v.ns, Target: v.pod, Container: v.container, Previous: v.previous,
		Follow: !v.previous, Tail: int64(v.keep), Keep: v.keep}
	ctx, gen, open := v.ctx, v.gen, v.open
	return func() tea.Msg {
		s, sources, err := open(ctx, req)
		return logOpenedMsg{gen: gen, stream: s, sources: sources, err: err}
	}
}

// next waits for the stream's next lines, lets a burst gather for a frame
// and reads them from the ring, preparing them for the view.
func (v *logView) next() tea.Cmd {
	ctx, s, gen, seq := v.ctx, v.stream, v.gen, v.seq
	return func() tea.Msg {
		select {
		case <-s.Updates():
		case <-s.Done():
		case <-ctx.Done():
			return nil
		}
		t := time.NewTimer(logFrame)
		select {
		case <-t.C:
		case <-s.Done():
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		msg := logLinesMsg{gen: gen, last: seq}
		select {
		case <-s.Done(): // every line is in the ring now
			msg.done, msg.err = true, s.Err()
		default:
		}
		lines, missed := s.Ring().After(seq)
		msg.missed = missed
		msg.entries = make([]logEntry, len(lines))
		for i, l := range lines {
			msg.entries[i] = prepareLine(l.Text)
		}
		if n := len(lines); n > 0 {
			msg.last = lines[n-1].Seq
		}
		return msg
	}
}

// prepareLine makes a log line safe to draw (no escape sequences or
// control characters from the application) and reads its level.
func prepareLine(s string) logEntry {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			clean = false
			break
		}
	}
	if !clean {
		s = ansi.Strip(s)
		var b strings.Builder
		b.Grow(len(s))
		for _, r := range s {
			switch {
			case r == '\t':
				b.WriteString("    ")
			case r < 0x20 || r == 0x7f:
			default:
				b.WriteRune(r)
			}
		}
		s = b.String()
	}
	return logEntry{text: s, level: oplogs.DetectLevel(s)}
}

// Update handles the view's messages; it returns false for messages that
// are not its own.
func (v *logView) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case logOpenedMsg:
		if msg.gen != v.gen { // a replaced stream: its context is canceled
			return nil, true
		}
		v.opening = false
		if msg.err != nil {
			var te *kube.LogTargetError
			if errors.As(msg.err, &te) && len(te.Containers) > 1 {
				v.containers = te.Containers // c offers them
				if v.container == "" {
					v.picking, v.pick = true, 0
					return nil, true
				}
			}
			v.err, v.ended = msg.err, true
			return nil, true
		}
		v.stream = msg.stream
		if len(msg.sources) == 1 {
			v.container = msg.sources[0].Container
		}
		return v.next(), true
	case logLinesMsg:
		if msg.gen != v.gen {
			return nil, true
		}
		v.seq = msg.last
		v.missed += msg.missed
		v.appendLines(msg.entries)
		if msg.done {
			v.ended = true
			if msg.err != nil && v.ctx.Err() == nil {
				v.err = msg.err
			}
			return nil, true
		}
		return v.next(), true
	}
	return nil, false
}

// appendLines adds the entries, trims the oldest beyond a quarter over
// keep, and finds the search's matches among the new ones.
func (v *logView) appendLines(es []logEntry) {
	from := v.base + len(v.lines)
	v.lines = append(v.lines, es...)
	if v.query != "" {
		for i := range es {
			if indexFold(es[i].text, v.query) >= 0 {
				v.matches = append(v.matches, from+i)
			}
		}
	}
	if over := len(v.lines) - v.keep; over > v.keep/4 {
		n := copy(v.lines, v.lines[over:])
		clear(v.lines[n:])
		v.lines = v.lines[:n]
		v.base += over
		v.dropMatchesBelow(v.base)
		v.top = max(v.top, v.base)
		if v.errLine < v.base {
			v.errLine = -1
		}
	}
}

func (v *logView) dropMatchesBelow(abs int) {
	i := 0
	for i < len(v.matches) && v.matches[i] < abs {
		i++
	}
	if i == 0 {
		return
	}
	v.matches = v.matches[i:]
	if v.cur >= 0 {
		v.cur -= i
		if v.cur < 0 {
			v.cur = -1
		}
	}
}

// end is the absolute index after the last line.
func (v *logView) end() int { return v.base + len(v.lines) }

// line returns the line at an absolute index.
func (v *logView) line(abs int) logEntry { return v.lines[abs-v.base] }

// Capturing reports whether the search input takes every key.
func (v *logView) Capturing() bool { return v.searching }

// SetSize sets the view's size.
func (v *logView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.search.SetWidth(max(w-4, 1))
}

// bodyHeight is the number of rows the lines get.
func (v *logView) bodyHeight() int {
	return max(v.height-1-len(v.footer()), 1)
}

// HandleKey handles a key; closed is true when the view should close.
func (v *logView) HandleKey(msg tea.KeyPressMsg) (cmd tea.Cmd, closed bool) {
	k, kl := v.c.Keys, v.c.Keys.Health.Log
	if v.searching {
		return v.searchKey(msg), false
	}
	if v.picking {
		switch {
		case key.Matches(msg, kl.Close):
			if v.container == "" {
				return nil, true
			}
			v.picking = false
		case key.Matches(msg, k.Up):
			v.pick = max(v.pick-1, 0)
		case key.Matches(msg, k.Down):
			v.pick = min(v.pick+1, len(v.containers)-1)
		case key.Matches(msg, k.Enter):
			v.picking, v.container = false, v.containers[v.pick]
			return v.restart(), false
		}
		return nil, false
	}
	body := v.bodyHeight()
	switch {
	case key.Matches(msg, kl.Close):
		if v.query != "" {
			v.query, v.matches, v.cur = "", nil, -1
			v.search.SetValue("")
			return nil, false
		}
		return nil, true
	case key.Matches(msg, kl.Search):
		v.searching = true
		return v.search.Focus(), false
	case key.Matches(msg, kl.NextMatch):
		v.moveMatch(1)
	case key.Matches(msg, kl.PrevMatch):
		v.moveMatch(-1)
	case key.Matches(msg, kl.NextError):
		v.moveError(1)
	case key.Matches(msg, kl.PrevError):
		v.moveError(-1)
	case key.Matches(msg, kl.Wrap):
		v.wrap = !v.wrap
	case key.Matches(msg, kl.Previous):
		v.previous = !v.previous
		return v.restart(), false
	case key.Matches(msg, kl.Reopen):
		return v.restart(), false
	case key.Matches(msg, kl.Container):
		if len(v.containers) > 1 {
			v.picking = true
		}
	case key.Matches(msg, kl.Follow):
		v.follow = true
	case key.Matches(msg, k.Up):
		v.scroll(-1)
	case key.Matches(msg, k.Down):
		v.scroll(1)
	case key.Matches(msg, k.PageUp):
		v.scroll(-body)
	case key.Matches(msg, k.PageDown):
		v.scroll(body)
	case key.Matches(msg, k.Top):
		v.follow, v.top = false, v.base
	}
	return nil, false
}

// searchKey handles a key while the search is typed: enter keeps it and
// jumps to the newest match, esc drops it.
func (v *logView) searchKey(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	switch {
	case key.Matches(msg, k.KeepFilter):
		v.searching = false
		v.search.Blur()
		v.setQuery(v.search.Value())
		if len(v.matches) > 0 {
			v.cur = len(v.matches) - 1
			v.show(v.matches[v.cur])
		}
		return nil
	case key.Matches(msg, k.DropFilter):
		v.searching = false
		v.search.Blur()
		v.search.SetValue("")
		v.setQuery("")
		return nil
	}
	var cmd tea.Cmd
	v.search, cmd = v.search.Update(msg)
	return cmd
}

// setQuery finds the lines matching q (any case).
func (v *logView) setQuery(q string) {
	v.query = asciiLower(q)
	v.matches, v.cur = v.matches[:0], -1
	if v.query == "" {
		v.matches = nil
		return
	}
	for i := range v.lines {
		if indexFold(v.lines[i].text, v.query) >= 0 {
			v.matches = append(v.matches, v.base+i)
		}
	}
}

// moveMatch goes to the next (dir 1, newer) or previous match.
func (v *logView) moveMatch(dir int) {
	if len(v.matches) == 0 {
		return
	}
	switch {
	case v.cur < 0 && dir > 0:
		v.cur = 0
	case v.cur < 0:
		v.cur = len(v.matches) - 1
	default:
		v.cur = min(max(v.cur+dir, 0), len(v.matches)-1)
	}
	v.show(v.matches[v.cur])
}

// moveError goes to the next (dir 1) or previous error line: the first of
// the log when none was chosen yet.
func (v *logView) moveError(dir int) {
	from, step := v.base, 1
	switch {
	case v.errLine >= 0 && dir > 0:
		from = v.errLine + 1
	case v.errLine >= 0:
		from, step = v.errLine-1, -1
	case dir < 0:
		from, step = v.end()-1, -1
	}
	for i := from; i >= v.base && i < v.end(); i += step {
		if v.line(i).level == oplogs.LevelError {
			v.errLine = i
			v.show(i)
			return
		}
	}
}

// show stops following and scrolls so that the line at abs is in view, a
// third of the way down.
func (v *logView) show(abs int) {
	v.follow = false
	v.top = max(v.base, min(abs-v.bodyHeight()/3, v.lastTop()))
}

// scroll moves by n lines; moving up stops following.
func (v *logView) scroll(n int) {
	if v.follow {
		if n > 0 {
			return
		}
		v.top = v.lastTop()
		v.follow = false
	}
	v.top = max(v.base, min(v.top+n, v.lastTop()))
}

// lastTop is the first line shown when the newest is at the bottom.
func (v *logView) lastTop() int {
	body := v.bodyHeight()
	if !v.wrap {
		return max(v.base, v.end()-body)
	}
	rows := 0
	for i := v.end() - 1; i >= v.base; i-- {
		rows += v.rowsOf(v.line(i).text)
		if rows >= body {
			if rows > body && i < v.end()-1 {
				return i + 1
			}
			return i
		}
	}
	return v.base
}

// rowsOf is how many rows a line takes wrapped.
func (v *logView) rowsOf(s string) int {
	w := ansi.StringWidth(s)
	if w == 0 || v.width <= 0 {
		return 1
	}
	return (w + v.width - 1) / v.width
}

// View renders the view.
func (v *logView) View() string {
	if v.width <= 0 || v.height <= 0 {
		return ""
	}
	if v.picking {
		return v.pickerView()
	}
	out := make([]string, 0, v.height)
	out = append(out, v.header())
	body := v.bodyHeight()
	rows := v.bodyRows(body)
	out = append(out, rows...)
	for len(out) < 1+body {
		out = append(out, "")
	}
	out = append(out, v.footer()...)
	if len(out) > v.height {
		out = out[:v.height]
	}
	return strings.Join(out, "\n")
}

// header is the title line: the pod and container, previous, following or
// paused, the search and the error line chosen, the lines kept. What
// matters most comes first: a narrow terminal cuts the end.
func (v *logView) header() string {
	s := v.c.Styles
	title := s.PanelTitle.Render("Logs " + v.pod)
	parts := []string{}
	if v.container != "" {
		parts = append(parts, v.container)
	}
	if v.previous {
		parts = append(parts, s.Warn.Render("previous (crashed) container"))
	}
	switch {
	case v.opening:
		parts = append(parts, "opening…")
	case v.err != nil && len(v.lines) == 0:
		parts = append(parts, s.Error.Render("not read"))
	case v.previous || v.ended:
		parts = append(parts, "ended")
	case v.follow:
		parts = append(parts, s.OK.Render("● following"))
	default:
		parts = append(parts, s.Warn.Render("⏸ paused"))
	}
	if v.query != "" {
		q := fmt.Sprintf("/%s %d matches", v.search.Value(), len(v.matches))
		if v.cur >= 0 {
			q = fmt.Sprintf("/%s %d of %d", v.search.Value(), v.cur+1, len(v.matches))
		}
		parts = append(parts, s.FilterPrompt.Render(q))
	}
	if v.errLine >= 0 {
		parts = append(parts, s.Error.Render(fmt.Sprintf("error at line %d", v.errLine-v.base+1)))
	}
	if v.wrap {
		parts = append(parts, "wrap")
	}
	info := fmt.Sprintf("%d lines", len(v.lines))
	if v.base > 0 || v.missed > 0 {
		info = fmt.Sprintf("last %d lines", len(v.lines))
	}
	parts = append(parts, info, v.ns)
	return ansi.Truncate(title+s.Muted.Render(" · ")+strings.Join(parts, s.Muted.Render(" · ")), v.width, "…")
}

// footer is the lines under the log: the search being typed, why the log
// cannot be read and what to do, or that the stream ended.
func (v *logView) footer() []string {
	s := v.c.Styles
	if v.searching {
		return []string{v.search.View()}
	}
	if v.err != nil {
		text := v.err.Error() + " — " + v.errAdvice()
		lines := strings.Split(s.Error.Width(max(v.width, 1)).Render(text), "\n")
		return lines[:min(len(lines), max(v.height/3, 1))]
	}
	if v.ended && !v.previous && !v.opening {
		return []string{s.Muted.Render(ansi.Truncate("the stream ended (the container stopped or restarted) — r reopens it", max(v.width, 1), "…"))}
	}
	return nil
}

// errAdvice says which key helps after err.
func (v *logView) errAdvice() string {
	var te *kube.LogTargetError
	switch {
	case errors.Is(v.err, kube.ErrNoPreviousLog):
		return "p shows the current log, esc goes back"
	case errors.As(v.err, &te) && te.NotFound:
		return "the pod is gone: esc goes back to the table"
	case errors.As(v.err, &te) && len(te.Containers) > 0:
		return "c chooses another container"
	}
	return "r tries again, esc goes back"
}

// bodyRows renders the rows of the lines in view.
func (v *logView) bodyRows(body int) []string {
	if len(v.lines) == 0 {
		if v.opening || v.err != nil {
			return nil
		}
		return []string{v.c.Styles.Muted.Render("  no lines yet")}
	}
	start := v.top
	if v.follow {
		start = v.lastTop()
	}
	start = max(v.base, min(start, v.end()-1))
	rows := make([]string, 0, body)
	curLine := -1
	if v.cur >= 0 && v.cur < len(v.matches) {
		curLine = v.matches[v.cur]
	}
	for i := start; i < v.end() && len(rows) < body; i++ {
		styled := v.styleLine(v.line(i), i == curLine, i == v.errLine)
		if !v.wrap {
			rows = append(rows, ansi.Truncate(styled, v.width, "…"))
			continue
		}
		for _, r := range strings.Split(ansi.Hardwrap(styled, v.width, false), "\n") {
			if len(rows) == body {
				break
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// styleLine colours a line by its level and marks the search's matches.
func (v *logView) styleLine(e logEntry, current, chosenErr bool) string {
	s := v.c.Styles
	base := s.TableCell
	switch e.level {
	case oplogs.LevelError:
		base = s.Error
	case oplogs.LevelWarn:
		base = s.Warn
	}
	if chosenErr {
		base = s.Crit.Reverse(true)
	}
	text := e.text
	if !v.wrap && len(text) > 4*v.width+16 {
		cut := 4*v.width + 16 // only the start is drawn
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	if v.query == "" {
		return base.Render(text)
	}
	match := s.Match
	if current {
		match = s.MatchCurrent
	}
	var b strings.Builder
	for text != "" {
		i := indexFold(text, v.query)
		if i < 0 {
			b.WriteString(base.Render(text))
			break
		}
		if i > 0 {
			b.WriteString(base.Render(text[:i]))
		}
		b.WriteString(match.Render(text[i : i+len(v.query)]))
		text = text[i+len(v.query):]
	}
	return b.String()
}

// pickerView lists the pod's containers to choose from.
func (v *logView) pickerView() string {
	s := v.c.Styles
	out := []string{ansi.Truncate(s.PanelTitle.Render("Logs "+v.ns+"/"+v.pod)+" "+s.Muted.Render(fmt.Sprintf("· %d containers: choose one (enter)", len(v.containers))), v.width, "…")}
	for i, c := range v.containers {
		line := "  " + c
		if i == v.pick {
			line = s.TableSelected.Render("▸ " + c)
		}
		out = append(out, ansi.Truncate(line, v.width, "…"))
	}
	if len(out) > v.height {
		out = out[:v.height]
	}
	return strings.Join(out, "\n")
}

// ShortHelp is the view's short help.
func (v *logView) ShortHelp() []key.Binding {
	k, kl := v.c.Keys, v.c.Keys.Health.Log
	switch {
	case v.searching:
		return []key.Binding{k.KeepFilter, k.DropFilter}
	case v.picking:
		return []key.Binding{k.Up, k.Down, k.Enter, kl.Close}
	}
	return []key.Binding{kl.Search, kl.NextError, kl.Previous, kl.Wrap, kl.Follow, kl.Close}
}

// FullHelp is the view's help screen.
func (v *logView) FullHelp() [][]key.Binding {
	k, kl := v.c.Keys, v.c.Keys.Health.Log
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, kl.Follow},
		{kl.Search, kl.NextMatch, kl.PrevMatch, kl.NextError, kl.PrevError},
		{kl.Previous, kl.Container, kl.Wrap, kl.Reopen, kl.Close},
	}
}

// indexFold is strings.Index of lower (ASCII lower case) in s, ignoring
// ASCII case, so that the index is one in s.
func indexFold(s, lower string) int {
	n := len(lower)
	if n == 0 {
		return 0
	}
	first := lower[0]
	for i := 0; i+n <= len(s); i++ {
		if asciiLowerByte(s[i]) != first {
			continue
		}
		j := 1
		for j < n && asciiLowerByte(s[i+j]) == lower[j] {
			j++
		}
		if j == n {
			return i
		}
	}
	return -1
}

func asciiLowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = asciiLowerByte(c)
	}
	return string(b)
}
