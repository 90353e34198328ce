// Package keys is the cockpit's one key map. The help screen and the short
// help line are generated from it, so a binding is documented where it is made.
package keys

import (
	"fmt"

	"charm.land/bubbles/v2/key"
)

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

	// Backups tab: take a backup (choose the components with Toggle),
	// verify the selected set (deep: read its content), prune by retention.
	// The actions are not bound read-only.
	TakeBackup, Verify, VerifyDeep, Prune, Toggle, CancelAction key.Binding

	// Runbooks tab; Runbook also opens the selected problem's runbook
	// section from the Health tab.
	Runbook, Search, Outline, NextLink, PrevLink key.Binding

	// Metrics tab: history window, pause, the alerts view, and silences
	// (Silence, Expire and the duration keys are not bound read-only).
	MetricsWindow, Pause, Alerts, Silence, Expire, Longer, Shorter key.Binding
	Left, Right                                                    key.Binding

	// Maintenance tab: run the selected task (again), run the selected
	// finding's action (not bound read-only), move between the task list
	// and the findings, show the reference plan, show the run's report.
	RunTask, Act, FocusTasks, FocusFindings, Plan, Report key.Binding
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

		TakeBackup:   key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "take backup")),
		Verify:       key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "verify")),
		VerifyDeep:   key.NewBinding(key.WithKeys("V"), key.WithHelp("V", "verify deep")),
		Prune:        key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "prune")),
		Toggle:       key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "toggle")),
		CancelAction: key.NewBinding(key.WithKeys("ctrl+x"), key.WithHelp("ctrl+x", "cancel the running action")),

		Runbook:  key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "runbook")),
		Search:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Outline:  key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "outline")),
		NextLink: key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next link")),
		PrevLink: key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous link")),

		MetricsWindow: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "window 1m/5m/15m")),
		Pause:         key.NewBinding(key.WithKeys("space", "p"), key.WithHelp("space", "pause")),
		Alerts:        key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "alerts")),
		Silence:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "silence alert")),
		Expire:        key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "expire silence")),
		Longer:        key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+", "longer")),
		Shorter:       key.NewBinding(key.WithKeys("-"), key.WithHelp("-", "shorter")),
		Left:          key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "left")),
		Right:         key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "right")),

		RunTask:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run task")),
		Act:           key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "run the action")),
		FocusTasks:    key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "tasks")),
		FocusFindings: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "findings")),
		Plan:          key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "reference plan")),
		Report:        key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "report")),
	}
	for _, n := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"} {
		km.Tabs = append(km.Tabs, key.NewBinding(key.WithKeys(n), key.WithHelp(n, "tab "+n)))
	}
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
