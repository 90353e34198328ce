package keys

import "charm.land/bubbles/v2/key"

// Confirm holds the keys of the confirmation prompt (tui/confirm). A yes/no
// prompt answers Yes or No, Switch moves the highlight and Submit answers
// the highlighted choice (No until moved); a typed prompt confirms with
// Submit when the name matches and leaves with Cancel.
type Confirm struct {
	Yes, No, Switch, Submit, Cancel key.Binding
}

func defaultConfirm() Confirm {
	return Confirm{
		Yes:    key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		No:     key.NewBinding(key.WithKeys("n", "N", "esc", "q", "Q", "ctrl+c"), key.WithHelp("n/esc", "no")),
		Switch: key.NewBinding(key.WithKeys("left", "right", "tab", "shift+tab", "h", "H", "l", "L"), key.WithHelp("←/→", "choose")),
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "answer")),
		Cancel: key.NewBinding(key.WithKeys("esc", "ctrl+c"), key.WithHelp("esc", "cancel")),
	}
}

// Health holds the Health tab's keys: focus the nodes or the pods table,
// show only the rows with a problem, open the selected pod's log, show the
// new kinds of errors. Logs holds the keys of the log view.
type Health struct {
	FocusNodes, FocusPods, ProblemsOnly key.Binding
	Logs, ErrorKinds                    key.Binding
	Log                                 Logs
}

// Logs holds the keys of a pod's log view (Health tab): the previous
// container's log, wrap, search and its matches, the error lines, the
// container picker, following again, closing. Scrolling is the shared
// Up, Down, PageUp, PageDown and Top.
type Logs struct {
	Previous, Wrap, Search, NextMatch, PrevMatch key.Binding
	NextError, PrevError, Container, Follow      key.Binding
	Reopen, Close                                key.Binding
}

func defaultHealth() Health {
	return Health{
		FocusNodes:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "nodes")),
		FocusPods:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pods")),
		ProblemsOnly: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "problems only")),
		Logs:         key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "pod's logs")),
		ErrorKinds:   key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "new kinds of errors")),
		Log: Logs{
			Previous:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "previous/current container")),
			Wrap:      key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "wrap")),
			Search:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
			NextMatch: key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next match")),
			PrevMatch: key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "previous match")),
			NextError: key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "next error line")),
			PrevError: key.NewBinding(key.WithKeys("E"), key.WithHelp("E", "previous error line")),
			Container: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "container")),
			Follow:    key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "follow")),
			Reopen:    key.NewBinding(key.WithKeys("r", "ctrl+r"), key.WithHelp("r", "reopen")),
			Close:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),
		},
	}
}

// Metrics holds the Metrics tab's keys: the history window, pause, the
// alerts view, and silences (Silence, Expire, and Longer and Shorter for
// the silence's duration in its confirmation). SelectPanel stands for the
// arrow keys in the help; Enlarge (short help) and EnlargePanel (help
// screen) are enter on the grid.
type Metrics struct {
	Window, Pause, Alerts              key.Binding
	Silence, Expire, Longer, Shorter   key.Binding
	SelectPanel, Enlarge, EnlargePanel key.Binding
}

func defaultMetrics(km KeyMap) Metrics {
	return Metrics{
		Window:       key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "window 1m/5m/15m")),
		Pause:        key.NewBinding(key.WithKeys("space", "p"), key.WithHelp("space", "pause")),
		Alerts:       key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "alerts")),
		Silence:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "silence alert")),
		Expire:       key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "expire silence")),
		Longer:       key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+", "longer")),
		Shorter:      key.NewBinding(key.WithKeys("-"), key.WithHelp("-", "shorter")),
		SelectPanel:  key.NewBinding(key.WithKeys(joined(km.Left, km.Right, km.Up, km.Down)...), key.WithHelp("←↑↓→", "select panel")),
		Enlarge:      as(km.Enter, "enlarge"),
		EnlargePanel: as(km.Enter, "enlarge panel"),
	}
}

// Backups holds the Backups tab's keys: take a backup (choose the
// components with Toggle or their numbers, Start it), verify the selected
// set (deep: read its content), prune by retention, cancel the running
// action. The tab disables the actions this session may not run.
type Backups struct {
	TakeBackup, Verify, VerifyDeep, Prune, CancelAction key.Binding
	Toggle, Start                                       key.Binding
	// Components toggle the chooser's components by number: the first
	// nine the engine offers.
	Components []key.Binding
}

func defaultBackups(km KeyMap) Backups {
	return Backups{
		TakeBackup:   key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "take backup")),
		Verify:       key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "verify")),
		VerifyDeep:   key.NewBinding(key.WithKeys("V"), key.WithHelp("V", "verify deep")),
		Prune:        key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "prune")),
		CancelAction: key.NewBinding(key.WithKeys("ctrl+x"), key.WithHelp("ctrl+x", "cancel the running action")),
		Toggle:       km.Toggle,
		Start:        as(km.Enter, "start"),
		Components:   numbered(9, "toggle component"),
	}
}

// Restore holds what enter, esc, space and r do at each step of the
// Restore tab's walkthrough, for its help: each is a shared binding (Enter,
// Back, Toggle, Refresh) with the help text of that step. The tab matches
// the shared bindings, so the keys it shows are the keys it takes.
type Restore struct {
	// Choosing the kind, then the set.
	Sets, Options key.Binding
	// The point-in-time path: the timeline (Timeline opens it), the
	// events moved between with the arrows, enter just before one, a time
	// typed (KeepTime, DropTime while it is typed), then the whole
	// database or the tables chosen with ToggleTable.
	Timeline, Events, JustBefore, TypeTime, KeepTime, DropTime, ToggleTable key.Binding
	// The options; KeepName and UndoEdit while the database name is edited.
	ToggleEdit, Preflight, KeepName, UndoEdit key.Binding
	// The preflight.
	StopPreflight, Confirm, Again key.Binding
	// The typed confirmation.
	RestoreNow, Cancel key.Binding
	// The summary.
	StartOver key.Binding
	// The help screen's summary of every step.
	NextStep, PrevStep, ToggleOption key.Binding
}

func defaultRestore(km KeyMap) Restore {
	return Restore{
		Sets:          as(km.Enter, "backup sets"),
		Options:       as(km.Enter, "options"),
		Timeline:      as(km.Enter, "timeline"),
		Events:        key.NewBinding(key.WithKeys(joined(km.Left, km.Right, km.Up, km.Down)...), key.WithHelp("←→", "event")),
		JustBefore:    as(km.Enter, "just before it"),
		TypeTime:      key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "type a time")),
		KeepTime:      as(km.Enter, "use the time"),
		DropTime:      as(km.Back, "cancel"),
		ToggleTable:   as(km.Toggle, "choose table"),
		ToggleEdit:    as(km.Toggle, "toggle/edit"),
		Preflight:     as(km.Enter, "preflight"),
		KeepName:      as(km.Enter, "keep the name"),
		UndoEdit:      as(km.Back, "undo the edit"),
		StopPreflight: as(km.Back, "stop the preflight"),
		Confirm:       as(km.Enter, "confirm"),
		Again:         as(km.Refresh, "again"),
		RestoreNow:    as(km.Enter, "restore if the name matches"),
		Cancel:        as(km.Back, "cancel"),
		StartOver:     as(km.Enter, "start over"),
		NextStep:      as(km.Enter, "next step"),
		PrevStep:      as(km.Back, "previous step (changes nothing)"),
		ToggleOption:  as(km.Toggle, "toggle or edit an option"),
	}
}

// Maintenance holds the Maintenance tab's keys: run the selected task
// (again), run the selected finding's action (not offered read-only), move
// between the task list and the findings, show the reference plan, show the
// run's report.
type Maintenance struct {
	RunTask, Act, FocusTasks, FocusFindings, Plan, Report key.Binding
}

func defaultMaintenance() Maintenance {
	return Maintenance{
		RunTask:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run task")),
		Act:           key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "run the action")),
		FocusTasks:    key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "tasks")),
		FocusFindings: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "findings")),
		Plan:          key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "reference plan")),
		Report:        key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "report")),
	}
}

// Runbooks holds the Runbooks tab's keys: search, the outline, the next
// and previous link or command, paging with space in the reader; what
// enter does in the list (Read), the reader (Follow) and the outline
// (Jump), and on the help screen (Activate, Close); and while a search is
// typed, SearchOpen, SearchCancel and SearchMove (the arrow and page keys
// only, since letters are typed).
type Runbooks struct {
	Search, Outline, NextLink, PrevLink, Page key.Binding
	Read, Follow, Jump, Activate, Close       key.Binding
	SearchOpen, SearchCancel, SearchMove      key.Binding
}

func defaultRunbooks(km KeyMap) Runbooks {
	return Runbooks{
		Search:       key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Outline:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "outline")),
		NextLink:     key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next link")),
		PrevLink:     key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous link")),
		Page:         key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "page down")),
		Read:         as(km.Enter, "read"),
		Follow:       as(km.Enter, "follow/run"),
		Jump:         as(km.Enter, "jump"),
		Activate:     as(km.Enter, "read · follow link · run command"),
		Close:        as(km.Back, "back / close / cancel"),
		SearchOpen:   as(km.Enter, "open"),
		SearchCancel: as(km.Back, "clear search"),
		SearchMove:   key.NewBinding(key.WithKeys("up", "down", "pgup", "pgdown"), key.WithHelp("↑/↓", "move")),
	}
}

// joined returns the keys of bs, in order.
func joined(bs ...key.Binding) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Keys()...)
	}
	return out
}
