// Package keys is the cockpit's one key map. The help screen and the short
// help line are generated from it, so a binding is documented where it is made.
package keys

import "charm.land/bubbles/v2/key"

// KeyMap holds every binding of the cockpit.
type KeyMap struct {
	// Global.
	Quit, Help, NextTab, PrevTab, Refresh key.Binding
	Tabs                                  []key.Binding

	// Lists and tables.
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Filter, ClearFilter, Sort, Reverse      key.Binding
	Enter, Back                             key.Binding

	// Health tab.
	FocusNodes, FocusPods, ProblemsOnly key.Binding
}

// Default returns the cockpit's key map.
func Default() KeyMap {
	km := KeyMap{
		Quit:    key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:    key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		NextTab: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next tab")),
		PrevTab: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous tab")),
		Refresh: key.NewBinding(key.WithKeys("r", "ctrl+r"), key.WithHelp("r", "refresh")),

		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
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

		FocusNodes:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "nodes")),
		FocusPods:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pods")),
		ProblemsOnly: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "problems only")),
	}
	for _, n := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"} {
		km.Tabs = append(km.Tabs, key.NewBinding(key.WithKeys(n), key.WithHelp(n, "tab "+n)))
	}
	return km
}

// Global returns the bindings every screen honours, for the help screen.
func (k KeyMap) Global() []key.Binding {
	return []key.Binding{k.NextTab, k.PrevTab, key.NewBinding(key.WithKeys("1"), key.WithHelp("1-6", "go to tab")), k.Refresh, k.Help, k.Quit}
}

// Navigation returns the list and table bindings, for the help screen.
func (k KeyMap) Navigation() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Filter, k.Sort, k.Reverse, k.Enter, k.Back}
}
