// Package backups is the cockpit's Backups tab: the catalog of backup sets
// as a table (sort, filter), a details pane (manifest, files, checksums,
// verify state), and the actions — take a backup of chosen components,
// verify a set, prune with the dry-run list shown first and a confirmation —
// each running in the background with a progress bar and a result line.
// Actions are hidden read-only, refused again by the engine, and audited
// there.
package backups

import (
	"context"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/confirm"
	"github.com/opsdeck/opsdeck/tui/job"
	"github.com/opsdeck/opsdeck/tui/keys"
	tprogress "github.com/opsdeck/opsdeck/tui/progress"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

// mode is what the tab shows.
type mode int

const (
	modeList    mode = iota
	modeDetail       // the selected set's manifest
	modeChoose       // choosing the components of a backup
	modeConfirm      // the prune plan and its confirmation
)

// Tab is the Backups tab.
type Tab struct {
	c   *common.Common
	src Sources

	eng    *backup.Engine
	engErr error

	sets      []backup.Set
	listErr   error
	loading   bool
	ticking   bool
	refreshed time.Time

	// wal is the WAL archive's overview and the streamer's state.
	wal walData

	tbl       table.Model
	sort      sortState
	filter    textinput.Model
	filtering bool
	// proven are the sets drills proved, by ID.
	proven map[string]oprestore.DrillRecord

	mode   mode
	detail viewport.Model
	// comps are the components the chooser offers (from the engine),
	// choices which of them are chosen.
	comps   []backup.SetComponent
	choices []bool
	cursor  int

	plan    backup.PrunePlan
	confirm confirm.Model

	running  string // the action in progress, "" when idle
	cancel   context.CancelFunc
	progress tprogress.Model
	result   string
	resultOK bool

	width, height int
}

// New returns the Backups tab.
func New(c *common.Common, src Sources) *Tab {
	if src.ListTimeout <= 0 {
		src.ListTimeout = 30 * time.Second
	}
	if src.ActionTimeout <= 0 {
		src.ActionTimeout = 6 * time.Hour
	}
	if src.RefreshEvery <= 0 {
		src.RefreshEvery = time.Minute
	}
	if src.StateEvery <= 0 {
		src.StateEvery = 2 * time.Second
	}
	fi := styles.NewInput()
	fi.Prompt = "/"
	fi.Placeholder = "filter: words match id, kind, status, components, verify state"
	fi.CharLimit = 120
	t := &Tab{
		c: c, src: src, filter: fi, detail: viewport.New(),
		tbl:     table.New(&c.Styles, columns...),
		loading: true,
	}
	t.setComponents(backup.SetComponents())
	t.tbl.SetEmpty("no backup sets yet — press t to take one")
	return t
}

// Title implements common.Tab.
func (t *Tab) Title() string { return "Backups" }

// Init builds the engine and reads the catalog (the WAL archive after
// it), and the streamer's state when this process runs one.
func (t *Tab) Init() tea.Cmd {
	if t.src.Engine == nil {
		t.loading = false
		t.engErr = fmt.Errorf("no backup store configured")
		return nil
	}
	get := t.src.Engine
	return tea.Batch(func() tea.Msg {
		eng, err := get()
		return engineMsg{eng, err}
	}, t.readState(0))
}

// LastRefresh implements common.Refreshed.
func (t *Tab) LastRefresh() time.Time { return t.refreshed }

// Capturing implements common.Tab: the filter, the component chooser and
// a typed confirmation take every key.
func (t *Tab) Capturing() bool {
	return t.filtering || t.mode == modeChoose || (t.mode == modeConfirm && t.confirm.Active())
}

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) {
	t.width, t.height = w, h
	t.filter.SetWidth(max(w-20, 10))
	t.confirm.SetWidth(min(w, 100))
	t.layout()
}

func (t *Tab) layout() {
	// Title line, table, the WAL panel, status/progress lines.
	t.tbl.SetSize(t.width, max(t.height-3-len(t.walLines()), 2))
	t.applyRows() // the proven mark's cell depends on the width
	t.detail.SetWidth(t.width)
	t.detail.SetHeight(max(t.height-1, 1))
}

// tick schedules the next catalog refresh unless one is scheduled.
func (t *Tab) tick() tea.Cmd {
	if t.ticking {
		return nil
	}
	t.ticking = true
	return t.c.Tick(t.src.RefreshEvery, func(time.Time) tea.Msg { return refreshTickMsg{} })
}

func (t *Tab) load() tea.Cmd {
	if t.eng == nil {
		return nil
	}
	t.loading = true
	eng, timeout, parent := t.eng, t.src.ListTimeout, t.c.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		sets, err := backup.List(ctx, eng.Store)
		msg := catalogMsg{sets: sets, err: err, at: time.Now()}
		// The drill history fails alone: unreadable, the sets show unmarked.
		if recs, derr := oprestore.ReadDrills(eng.Config.StateDir); derr == nil {
			msg.proven = oprestore.ProvenSets(recs)
		}
		return msg
	}
}

// Update implements common.Tab.
func (t *Tab) Update(msg tea.Msg) (common.Tab, tea.Cmd) {
	switch msg := msg.(type) {
	case engineMsg:
		t.eng, t.engErr = msg.eng, msg.err
		if t.eng != nil {
			t.setComponents(t.eng.SetComponents())
		}
		t.layout() // the WAL panel takes its lines from the table
		if msg.err != nil {
			t.loading = false
			return t, nil
		}
		return t, t.load()
	case catalogMsg:
		t.loading = false
		t.sets, t.listErr, t.proven = msg.sets, msg.err, msg.proven
		if msg.err == nil {
			t.refreshed = msg.at
		}
		t.applyRows()
		if msg.err != nil {
			return t, t.tick()
		}
		return t, tea.Batch(t.tick(), t.readWAL())
	case walMsg:
		t.wal.loaded, t.wal.ovs, t.wal.err = true, msg.ovs, msg.err
		t.layout()
		return t, nil
	case walStateMsg:
		t.wal.state, t.wal.running = msg.st, msg.running
		t.layout()
		return t, t.readState(t.src.StateEvery)
	case refreshTickMsg:
		t.ticking = false
		if t.loading || t.running != "" {
			return t, t.tick()
		}
		return t, t.load()
	case job.EventMsg[actionResult]:
		t.progress.Apply(msg.Event)
		return t, msg.Next()
	case job.DoneMsg[actionResult]:
		r := msg.Result
		t.running = ""
		t.cancel = nil
		t.resultOK = r.err == nil
		t.result = r.line
		if r.err != nil {
			t.result = r.action + " failed: " + r.err.Error()
		}
		return t, t.load()
	case planMsg:
		t.running = ""
		if msg.err != nil {
			t.result, t.resultOK = "prune: "+msg.err.Error(), false
			return t, nil
		}
		t.plan = msg.plan
		n := len(msg.plan.Deletes()) + len(msg.plan.Leftovers)
		if n == 0 {
			t.result, t.resultOK = "prune: nothing is past retention", true
			return t, nil
		}
		t.confirm = confirm.New(&t.c.Styles, fmt.Sprintf("Delete %d backup set(s)?", n),
			"The sets marked DELETE below are past their retention; the newest verified set of every component is kept. This cannot be undone.")
		t.confirm.SetWidth(min(t.width, 100))
		t.mode = modeConfirm
		return t, nil
	case tea.KeyPressMsg:
		return t, t.handleKey(msg)
	}
	if t.filtering {
		var cmd tea.Cmd
		t.filter, cmd = t.filter.Update(msg)
		return t, cmd
	}
	return t, nil
}

func (t *Tab) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k, kb := t.c.Keys, t.bindings()
	switch t.mode {
	case modeConfirm:
		var d confirm.Decision
		var cmd tea.Cmd
		t.confirm, d, cmd = t.confirm.Update(msg)
		switch d {
		case confirm.Confirmed:
			t.mode = modeList
			return t.startPrune()
		case confirm.Cancelled:
			t.mode = modeList
			t.result, t.resultOK = "prune cancelled: nothing deleted", true
		}
		return cmd
	case modeChoose:
		return t.chooseKey(msg)
	case modeDetail:
		switch {
		case key.Matches(msg, k.Back), key.Matches(msg, k.Enter):
			t.mode = modeList
			return nil
		}
		var cmd tea.Cmd
		t.detail, cmd = t.detail.Update(msg)
		return cmd
	}
	if t.filtering {
		done, changed, cmd := t.c.FilterKey(&t.filter, msg)
		t.filtering = !done
		if changed {
			t.applyRows()
		}
		return cmd
	}
	switch {
	case key.Matches(msg, kb.CancelAction) && t.cancel != nil:
		// The engine stops pg_dump and removes the staged files.
		t.cancel()
		t.progress.Apply(progress.Event{Kind: progress.Info, Message: "cancelling…"})
	case key.Matches(msg, k.Filter):
		t.filtering = true
		return t.filter.Focus()
	case key.Matches(msg, k.ClearFilter):
		if t.filter.Value() != "" {
			t.filter.SetValue("")
			t.applyRows()
		}
	case t.tbl.Navigate(msg, k):
	case key.Matches(msg, k.Sort):
		t.sort.next()
		t.applyRows()
	case key.Matches(msg, k.Reverse):
		t.sort.desc = !t.sort.desc
		t.applyRows()
	case key.Matches(msg, k.Enter):
		t.openDetail()
	case key.Matches(msg, k.Refresh):
		if t.eng == nil {
			return t.Init()
		}
		return t.load()
	case t.idle() && key.Matches(msg, kb.TakeBackup):
		t.mode = modeChoose
	case t.idle() && key.Matches(msg, kb.Verify):
		return t.startVerify(false)
	case t.idle() && key.Matches(msg, kb.VerifyDeep):
		return t.startVerify(true)
	case t.idle() && key.Matches(msg, kb.Prune):
		return t.startPlan()
	}
	return nil
}

// idle: an engine, and no action running.
func (t *Tab) idle() bool { return t.eng != nil && t.running == "" }

// bindings returns the tab's keys with the actions this session may not
// run (read-only, a role too low) disabled: they neither match nor show
// in the help. Cancel and the chooser's keys go with taking a backup.
func (t *Tab) bindings() keys.Backups {
	kb := t.c.Keys.Backups
	run, verify, prune := t.c.Can(access.BackupRun), t.c.Can(access.BackupVerify), t.c.Can(access.BackupPrune)
	kb.TakeBackup.SetEnabled(run)
	kb.Toggle.SetEnabled(run)
	kb.CancelAction.SetEnabled(run)
	kb.Verify.SetEnabled(verify)
	kb.VerifyDeep.SetEnabled(verify)
	kb.Prune.SetEnabled(prune)
	return kb
}

// setComponents makes comps the chooser's components, keeping the choice
// of those it offered already.
func (t *Tab) setComponents(comps []backup.SetComponent) {
	was := map[string]bool{}
	for i, c := range t.comps {
		was[c.Name()] = t.choices[i]
	}
	t.comps, t.choices = comps, make([]bool, len(comps))
	for i, c := range comps {
		on, ok := was[c.Name()]
		if !ok {
			on = c.Chosen()
		}
		t.choices[i] = on
	}
}

// toggleComponent toggles the chooser's component whose number msg is,
// and reports whether it was one.
func (t *Tab) toggleComponent(msg tea.KeyPressMsg) bool {
	i := keys.Index(msg, t.c.Keys.Backups.Components)
	if i < 0 || i >= len(t.choices) {
		return false
	}
	t.choices[i] = !t.choices[i]
	return true
}

// ShortHelp implements common.Tab.
func (t *Tab) ShortHelp() []key.Binding {
	k, kb := t.c.Keys, t.bindings()
	switch {
	case t.filtering:
		return []key.Binding{k.KeepFilter, k.DropFilter}
	case t.mode == modeDetail:
		return []key.Binding{k.Up, k.Down, k.Back}
	case t.mode == modeChoose:
		return []key.Binding{kb.Toggle, kb.Start, k.Back}
	case t.mode == modeConfirm:
		return nil
	}
	out := []key.Binding{k.Filter, k.Enter, k.Sort}
	if t.cancel != nil {
		out = append(out, kb.CancelAction)
	}
	return append(out, keys.Enabled(kb.TakeBackup, kb.Verify, kb.Prune)...)
}

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding {
	k, kb := t.c.Keys, t.bindings()
	groups := [][]key.Binding{{k.Filter, k.ClearFilter, k.Sort, k.Reverse, k.Enter, k.Refresh}}
	if acts := keys.Enabled(kb.TakeBackup, kb.Toggle, kb.Verify, kb.VerifyDeep, kb.Prune, kb.CancelAction); len(acts) > 0 {
		groups = append(groups, acts)
	}
	return groups
}
