// Package keys is the cockpit's one key map. Every binding a screen matches
// is made here with its help text, and the help screen and the short help
// line are generated from these bindings alone, so a binding is documented
// where it is made. The bindings every screen shares sit on KeyMap itself;
// those of one tab (or of the confirmation prompt) sit in that tab's group.
//
// A tab that offers a binding only sometimes (an action hidden read-only)
// disables it on its own copy with SetEnabled, or leaves it out of its help;
// Enabled filters a list of bindings down to those offered.
package keys

import (
	"fmt"

	"charm.land/bubbles/v2/key"
)

// KeyMap holds every binding of the cockpit.
type KeyMap struct {
	// Global. Interrupt quits even while a tab takes every key.
	Quit, Interrupt, Help, NextTab, PrevTab, Refresh key.Binding
	Tabs                                             []key.Binding

	// Lists and tables.
	Up, Down, Left, Right, PageUp, PageDown, Top, Bottom key.Binding
	Filter, ClearFilter, Sort, Reverse                   key.Binding
	Enter, Back                                          key.Binding
	// Toggle flips the selected choice (backup components, restore options).
	Toggle key.Binding
	// Runbook opens the selected problem's runbook section (Health,
	// Maintenance).
	Runbook key.Binding

	// While a filter is typed: KeepFilter ends typing and keeps it,
	// DropFilter clears it and ends typing.
	KeepFilter, DropFilter key.Binding

	Confirm     Confirm
	Health      Health
	Metrics     Metrics
	Backups     Backups
	Restore     Restore
	Maintenance Maintenance
	Runbooks    Runbooks
	Incident    Incident
}

// Default returns the cockpit's key map.
func Default() KeyMap {
	km := KeyMap{
		Quit:      key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Interrupt: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		NextTab:   key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next tab")),
		PrevTab:   key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous tab")),
		Refresh:   key.NewBinding(key.WithKeys("r", "ctrl+r"), key.WithHelp("r", "refresh")),

		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Left:     key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "left")),
		Right:    key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "right")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),

		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Sort:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort column")),
		Reverse:     key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "reverse sort")),
		Enter:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Back:        key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Toggle:      key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "toggle")),
		Runbook:     key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "runbook")),

		KeepFilter: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		DropFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear")),

		Confirm: defaultConfirm(),
	}
	for _, n := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"} {
		km.Tabs = append(km.Tabs, key.NewBinding(key.WithKeys(n), key.WithHelp(n, "tab "+n)))
	}
	km.Health = defaultHealth()
	km.Metrics = defaultMetrics(km)
	km.Backups = defaultBackups(km)
	km.Restore = defaultRestore(km)
	km.Maintenance = defaultMaintenance()
	km.Runbooks = defaultRunbooks(km)
	km.Incident = defaultIncident()
	return km
}

// Global returns the bindings every screen honours, for the help screen;
// tabs is the number of tabs, for the "1-N" entry.
func (k KeyMap) Global(tabs int) []key.Binding {
	jump := key.NewBinding(key.WithKeys("1"), key.WithHelp(fmt.Sprintf("1-%d", min(tabs, len(k.Tabs))), "go to tab"))
	return []key.Binding{k.NextTab, k.PrevTab, jump, k.Refresh, k.Help, k.Quit}
}

// Navigation returns the list and table bindings, for the help screen.
func (k KeyMap) Navigation() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Filter, k.Sort, k.Reverse, k.Enter, k.Back}
}

// Enabled returns the bindings of bs that are enabled: those a screen
// offers, for its help.
func Enabled(bs ...key.Binding) []key.Binding {
	out := make([]key.Binding, 0, len(bs))
	for _, b := range bs {
		if b.Enabled() {
			out = append(out, b)
		}
	}
	return out
}

// Index returns the index of the first binding of bs that msg matches, -1
// when none does (the tab numbers, the backup components).
func Index(msg fmt.Stringer, bs []key.Binding) int {
	for i, b := range bs {
		if key.Matches(msg, b) {
			return i
		}
	}
	return -1
}

// as is b with the help text of what it does on one screen: the keys, and
// how they are shown, stay b's.
func as(b key.Binding, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(b.Keys()...), key.WithHelp(b.Help().Key, desc))
}

// numbered returns bindings for the keys 1 to n, each described by desc
// and its number.
func numbered(n int, desc string) []key.Binding {
	out := make([]key.Binding, n)
	for i := range out {
		k := fmt.Sprint(i + 1)
		out[i] = key.NewBinding(key.WithKeys(k), key.WithHelp(k, fmt.Sprintf("%s %s", desc, k)))
	}
	return out
}
