package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/pitr"
)

// scope is what a point-in-time restore restores: the whole database, or
// the tables chosen (a table restore: copies beside the live ones).
type scope struct {
	// tables are schema.name: the event's relations first, then the live
	// database's.
	tables  []string
	inEvent map[string]bool
	chosen  map[string]bool
	// cursor is 0 on the whole database, i+1 on tables[i].
	cursor  int
	loading bool
	err     error
}

func newScope() scope {
	return scope{inEvent: map[string]bool{}, chosen: map[string]bool{}}
}

// chosenTables are the tables chosen, in the list's order.
func (sc *scope) chosenTables() []string {
	var out []string
	for _, t := range sc.tables {
		if sc.chosen[t] {
			out = append(out, t)
		}
	}
	return out
}

// openScope shows the choice for the moment chosen and lists the
// database's tables in a Cmd.
func (t *Tab) openScope() tea.Cmd {
	t.stage = stageScope
	sc := newScope()
	if e := t.pit.event; e != nil {
		for _, r := range e.Relations {
			if r.Known && !sc.inEvent[r.Name] {
				sc.inEvent[r.Name] = true
				sc.tables = append(sc.tables, r.Name)
			}
		}
	}
	t.pit.scope = sc
	if t.eng == nil {
		return nil
	}
	t.pit.scope.loading = true
	eng, timeout, parent := t.eng, t.src.ListTimeout, t.c.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		tables, err := eng.Tables(ctx)
		if err != nil {
			err = fmt.Errorf("listing the tables of the database: %w", err)
		}
		return tablesMsg{tables: tables, err: err}
	}
}

// tablesDone adds the live tables after the event's.
func (t *Tab) tablesDone(msg tablesMsg) {
	sc := &t.pit.scope
	sc.loading, sc.err = false, msg.err
	var live []string
	for _, tb := range msg.tables {
		name := tb.Schema + "." + tb.Name
		if !sc.inEvent[name] {
			live = append(live, name)
		}
	}
	slices.Sort(live)
	sc.tables = append(sc.tables, slices.Compact(live)...)
}

// scopeKey handles the choice: up/down move, space chooses a table (or,
// on the first row, the whole database again), enter sets the options,
// esc goes back to the timeline.
func (t *Tab) scopeKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	sc := &t.pit.scope
	n := len(sc.tables) + 1
	switch {
	case key.Matches(msg, k.Back):
		t.stage = stageTimeline
	case key.Matches(msg, k.Up):
		sc.cursor = (sc.cursor + n - 1) % n
	case key.Matches(msg, k.Down):
		sc.cursor = (sc.cursor + 1) % n
	case key.Matches(msg, k.Top):
		sc.cursor = 0
	case key.Matches(msg, k.Bottom):
		sc.cursor = n - 1
	case key.Matches(msg, k.Toggle):
		if sc.cursor == 0 {
			clear(sc.chosen)
			return nil
		}
		name := sc.tables[sc.cursor-1]
		sc.chosen[name] = !sc.chosen[name]
		if !sc.chosen[name] {
			delete(sc.chosen, name)
		}
	case key.Matches(msg, k.Enter):
		if !t.mayRestore() {
			return nil
		}
		t.opts.reset(t.kindName())
		t.stage = stageOptions
	}
	return nil
}

// scopeView is the choice between the whole database and tables.
func (t *Tab) scopeView() string {
	s := t.c.Styles
	sc := &t.pit.scope
	w := max(t.width, 1)
	var lines []string
	lines = append(lines, t.heading("What to restore "+t.targetText(), "space chooses tables · enter sets the options"), "")
	radio := "( )"
	if len(sc.chosen) == 0 {
		radio = "(•)"
	}
	marker := func(i int) string {
		if i == sc.cursor {
			return s.FilterPrompt.Render("▸ ")
		}
		return "  "
	}
	name := "the whole database"
	if sc.cursor == 0 {
		name = s.Title.Render(name)
	}
	lines = append(lines,
		ansi.Truncate(marker(0)+radio+" "+name+s.Muted.Render("  swapped in whole; the current one is kept under another name"), w, "…"),
		ansi.Truncate("    "+s.Muted.Render("or chosen tables, each copied beside the live one as <table>_at_<time>; nothing live is replaced"), w, "…"))
	switch {
	case sc.err != nil:
		lines = append(lines, strings.Split(hang("    ", s.Error.Render(sc.err.Error()), w), "\n")...)
	case sc.loading:
		lines = append(lines, s.Muted.Render("    listing the tables…"))
	case len(sc.tables) == 0:
		lines = append(lines, s.Muted.Render("    the database has no tables"))
	}
	// Breadcrumb, the lines above, the count and the status line.
	room := max(t.height-len(lines)-3, 1)
	first, last := window(len(sc.tables), max(sc.cursor-1, 0), room)
	for i := first; i < last; i++ {
		tb := sc.tables[i]
		box := "[ ]"
		if sc.chosen[tb] {
			box = "[x]"
		}
		label := tb
		if sc.cursor == i+1 {
			label = s.Title.Render(tb)
		}
		note := ""
		if sc.inEvent[tb] {
			note = s.Warn.Render("  in the event")
		}
		lines = append(lines, ansi.Truncate(marker(i+1)+"  "+box+" "+label+note, w, "…"))
	}
	if c := sc.chosenTables(); len(c) > 0 {
		lines = append(lines, "", ansi.Truncate(s.OK.Render(fmt.Sprintf("%d table(s): ", len(c)))+strings.Join(c, ", "), w, "…"))
	} else if len(sc.tables) > 0 {
		lines = append(lines, "", s.Muted.Render(ansi.Truncate("no table chosen: the whole database", w, "…")))
	}
	return strings.Join(lines, "\n")
}

// targetText names the moment chosen: "just before transaction 1234".
func (t *Tab) targetText() string {
	tg := t.pit.target
	if tg == nil {
		return "at a moment"
	}
	return momentText(*tg, t.zone())
}

// momentText is a target for the tab, its time in loc.
func momentText(tg pitr.Target, loc *time.Location) string {
	if tg.Kind() == "time" {
		s := "at " + tg.Time.In(loc).Format("2006-01-02 15:04:05 -07:00")
		if tg.Exclusive {
			return "just before " + strings.TrimPrefix(s, "at ")
		}
		return s
	}
	s := tg.String()
	if !tg.Exclusive && !tg.Head() {
		s = "at " + strings.TrimSuffix(s, " (inclusive)")
	}
	return s
}
