package restore

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui/styles"
	"github.com/opsdeck/opsdeck/tui/table"
)

// kindHelp says in one line what each kind of restore replaces.
var kindHelp = map[string]string{
	oprestore.Database: "swaps in a restored copy of the database; the old one is kept",
	oprestore.Redis:    "replaces every Redis key with the set's snapshot",
	oprestore.Config:   "creates missing Kubernetes objects; updates others only if asked",
	oprestore.Full:     "config, database and redis in one plan, undone as one",
}

// pitEntry is the kind picker's point-in-time entry, after the kinds.
const (
	pitEntry = "to a point in time"
	pitHelp  = "the database or tables as they were at a moment of the WAL"
)

// kindKey handles the component list.
func (t *Tab) kindKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	n := len(oprestore.Kinds) + 1 // and the point-in-time entry
	switch {
	case key.Matches(msg, k.Up):
		t.kind = (t.kind + n - 1) % n
	case key.Matches(msg, k.Down):
		t.kind = (t.kind + 1) % n
	case key.Matches(msg, k.Top):
		t.kind = 0
	case key.Matches(msg, k.Bottom):
		t.kind = n - 1
	case key.Matches(msg, k.Enter) && t.pitPath():
		return t.openTimeline()
	case key.Matches(msg, k.Enter):
		t.stage = stageSet
		t.applyRows()
		t.selectNewest()
		if t.loading {
			return nil
		}
		return t.load() // sets taken since: a cron backup, another session
	case key.Matches(msg, k.Refresh):
		if t.eng == nil {
			return t.Init()
		}
		return t.load()
	}
	return nil
}

// setKey handles the list of backup sets.
func (t *Tab) setKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	switch {
	case key.Matches(msg, k.Back):
		t.stage = stageKind
	case t.tbl.Navigate(msg, k):
	case key.Matches(msg, k.Refresh):
		if t.eng == nil {
			return t.Init()
		}
		return t.load()
	case key.Matches(msg, k.Enter):
		switch {
		case t.c.ReadOnly:
			t.say(false, "read-only: restores are hidden; the sets are shown for reference")
		case !t.canRestore():
			t.say(false, "restores need the admin role; this session is %s", t.c.Identity.Role())
		case t.eng == nil:
			t.say(false, "no backup engine: %v", t.engErr)
		default:
			if _, ok := t.tbl.Selected(); ok {
				t.opts.reset(t.kindName())
				t.stage = stageOptions
			}
		}
	}
	return nil
}

// selectedSet returns the set under the cursor.
func (t *Tab) selectedSet() (backup.Set, bool) {
	row, ok := t.tbl.Selected()
	if !ok {
		return backup.Set{}, false
	}
	for _, s := range t.sets {
		if s.ID == row.Key {
			return s, true
		}
	}
	return backup.Set{}, false
}

// candidates are the sets a restore of the chosen kind can read, newest first.
func (t *Tab) candidates(kind string) []backup.Set {
	return oprestore.Candidates(t.sets, kind)
}

var setColumns = []table.Column{
	{Title: "ID", Width: 15},
	{Title: "AGE", Width: 5, Right: true},
	{Title: "SIZE", Width: 9, Right: true},
	{Title: "VERIFY", Width: 13},
	{Title: "COMPONENTS", Width: 10, Flex: true},
	{Title: "NOTE", Width: 11},
}

// applyRows shows the candidates of the chosen kind.
func (t *Tab) applyRows() {
	now := t.c.Now()
	sets := t.candidates(t.kindName())
	rows := make([]table.Row, 0, len(sets))
	for _, s := range sets {
		rows = append(rows, setRow(s, now))
	}
	t.tbl.SetRows(rows)
	t.tbl.SetEmpty(fmt.Sprintf("no backup set holds %s — take one in the Backups tab", strings.Join(componentsOf(t.kindName()), ", ")))
}

// selectNewest puts the cursor on the newest set that is not a safety
// backup: what "latest" means to the CLI.
func (t *Tab) selectNewest() {
	t.tbl.GotoTop()
	for i, s := range t.candidates(t.kindName()) {
		if !isSafety(s) {
			t.tbl.MoveDown(i)
			return
		}
	}
}

// isSafety reports whether s is the safety backup of an earlier restore.
func isSafety(s backup.Set) bool {
	return s.Manifest != nil && slices.Contains(s.Manifest.Tags, oprestore.PreRestoreTag)
}

func setRow(s backup.Set, now time.Time) table.Row {
	m := s.Manifest
	note := ""
	if isSafety(s) {
		note = "pre-restore"
	}
	r := table.Row{Key: s.ID, Cells: []string{s.ID, age(s.Age(now)), progress.Bytes(m.Size()), s.VerifyState(), strings.Join(m.ComponentNames(), ","), note}}
	switch {
	case s.VerifyState() == backup.VerifyFailed:
		r.Level = styles.LevelCrit
	case !s.Verified():
		r.Level = styles.LevelUnknown
	}
	return r
}

// componentsOf lists the components a kind restores, for messages.
func componentsOf(kind string) []string {
	if kind == oprestore.Full {
		return []string{oprestore.Config, oprestore.Database, oprestore.Redis}
	}
	return []string{kind}
}

// age renders a duration as kubectl does: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// counts describes the sets that hold what kind restores.
func (t *Tab) counts(kind string) string {
	sets := t.candidates(kind)
	what := strings.Join(componentsOf(kind), ", ")
	switch len(sets) {
	case 0:
		return "no backup set holds " + what + " yet: take one in the Backups tab"
	case 1:
		return "1 backup set holds " + what + ", " + age(sets[0].Age(t.c.Now())) + " old"
	}
	return fmt.Sprintf("%d backup sets hold %s, the newest %s old", len(sets), what, age(sets[0].Age(t.c.Now())))
}
