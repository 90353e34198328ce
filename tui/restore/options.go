package restore

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/postgres"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// option is one setting of a restore.
type option int

const (
	optSafety option = iota // take the safety backup
	optTarget               // the database replaced
	optUpdate               // update live config objects that differ
)

// options are the settings of the restore being prepared.
type options struct {
	rows    []option // those that apply to the kind
	cursor  int
	safety  bool
	update  bool
	db      textinput.Model
	editing bool
	before  string // the name before the edit, for esc
	// defaultDB is postgres.dsn's database, "" when it cannot be told.
	defaultDB string
}

func newOptions(cfg *config.Config) options {
	in := styles.NewInput()
	in.Prompt = ""
	in.CharLimit = 63 // PostgreSQL's longest name
	o := options{safety: true, db: in}
	if cfg != nil {
		o.defaultDB = postgres.DatabaseOf(cfg.Postgres.DSN)
	}
	in.Placeholder = o.defaultDB
	if o.defaultDB == "" {
		in.Placeholder = "the database of postgres.dsn"
	}
	o.db = in
	return o
}

// reset starts the options of a restore of kind: the safe defaults.
func (o *options) reset(kind string) {
	o.rows = nil
	if kind == oprestore.Database || kind == oprestore.Redis || kind == oprestore.Full {
		o.rows = append(o.rows, optSafety)
	}
	if kind == oprestore.Database || kind == oprestore.Full {
		o.rows = append(o.rows, optTarget)
	}
	if kind == oprestore.Config || kind == oprestore.Full {
		o.rows = append(o.rows, optUpdate)
	}
	o.cursor, o.editing = 0, false
	o.safety, o.update = true, false
	o.db.SetValue("")
	o.db.Blur()
}

// restoreOptions are the engine's options for set id.
func (o *options) restoreOptions(kind, id string) oprestore.Options {
	opts := oprestore.Options{Kind: kind, ID: id}
	for _, r := range o.rows {
		switch r {
		case optSafety:
			opts.NoSafetyBackup = !o.safety
		case optTarget:
			opts.TargetDB = strings.TrimSpace(o.db.Value())
		case optUpdate:
			opts.UpdateExisting = o.update
		}
	}
	return opts
}

// optionsKey handles the options: up/down move, space toggles (or edits
// the target database), enter runs the preflight, esc goes back.
func (t *Tab) optionsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	o := &t.opts
	if o.editing {
		switch {
		case key.Matches(msg, k.Enter):
			o.editing = false
			o.db.Blur()
			o.db.SetValue(strings.TrimSpace(o.db.Value()))
		case key.Matches(msg, k.Back):
			o.editing = false
			o.db.Blur()
			o.db.SetValue(o.before)
		default:
			var cmd tea.Cmd
			o.db, cmd = o.db.Update(msg)
			return cmd
		}
		return nil
	}
	n := len(o.rows)
	switch {
	case key.Matches(msg, k.Back) && t.pitPath():
		t.stage = stageScope
	case key.Matches(msg, k.Back):
		t.stage = stageSet
	case key.Matches(msg, k.Up) && n > 0:
		o.cursor = (o.cursor + n - 1) % n
	case key.Matches(msg, k.Down) && n > 0:
		o.cursor = (o.cursor + 1) % n
	case key.Matches(msg, k.Toggle) && n > 0:
		switch o.rows[o.cursor] {
		case optSafety:
			o.safety = !o.safety
		case optUpdate:
			o.update = !o.update
		case optTarget:
			o.editing, o.before = true, o.db.Value()
			return o.db.Focus()
		}
	case key.Matches(msg, k.Enter):
		return t.startPrepare()
	}
	return nil
}

// optionsView renders the options of the chosen set.
func (t *Tab) optionsView() string {
	s := t.c.Styles
	o := &t.opts
	var b strings.Builder
	b.WriteString(t.heading("Options: "+t.subject(), "nothing changes yet") + "\n\n")
	box := func(on bool) string {
		if on {
			return "[x]"
		}
		return "[ ]"
	}
	for i, r := range o.rows {
		var label, value, help string
		switch r {
		case optSafety:
			label, value = "safety backup", box(o.safety)
			help = "back up the current data first (a set tagged pre-restore): the way back"
			if !o.safety {
				help = "OFF: no copy of the current data is taken"
			}
		case optTarget:
			label = "target database"
			value = o.db.View()
			help = "the database replaced; another name restores beside production"
		case optUpdate:
			label, value = "update existing", box(o.update)
			help = "update live objects that differ from the backup (else skipped)"
		}
		marker := "  "
		if i == o.cursor {
			marker = s.FilterPrompt.Render("▸ ")
		}
		line := fmt.Sprintf("%s%-16s %s", marker, label, value)
		b.WriteString(ansi.Truncate(line, t.width, "…") + "\n")
		st := s.Muted
		if r == optSafety && !o.safety {
			st = s.Warn
		}
		b.WriteString(st.Render(ansi.Truncate("    "+help, t.width, "…")) + "\n")
	}
	if t.kindName() == oprestore.Table {
		tables := t.pit.scope.chosenTables()
		b.WriteString(ansi.Wrap(fmt.Sprintf("%d table(s): %s", len(tables), strings.Join(tables, ", ")), t.width, "") + "\n")
		b.WriteString(s.Muted.Render(ansi.Wrap("Each is copied beside the live one as <table>_at_<time>, from a private instance recovered to the moment; nothing live is replaced or dropped.", t.width, "")) + "\n")
	}
	what := "enter runs the preflight: read-only checks of the set (its checksums re-read), the targets and the free space, and the plan with each step's undo."
	if t.pitPath() {
		what = "enter runs the preflight: the base backup chosen for the moment and the WAL after it, the targets and the free space, and the plan with each step's undo. A moment the archive does not cover is refused there."
	}
	b.WriteString("\n" + s.Muted.Render(ansi.Wrap(what, t.width, "")))
	return b.String()
}

// subject names the restore being prepared: "database restore from
// 20261125_020000", "table restore just before transaction 1234".
func (t *Tab) subject() string {
	if t.pitPath() {
		return t.kindName() + " restore " + t.targetText()
	}
	set, _ := t.selectedSet()
	return fmt.Sprintf("%s restore from %s", t.kindName(), set.ID)
}

// pitOptions completes a point-in-time restore's options: no set (the
// engine picks the base backup for the moment), the target, the tables.
func (t *Tab) pitOptions(o oprestore.Options) oprestore.Options {
	o.ID = ""
	if tg := t.pit.target; tg != nil {
		target := *tg
		o.PointInTime = &target
	}
	o.Tables = t.pit.scope.chosenTables()
	return o
}
