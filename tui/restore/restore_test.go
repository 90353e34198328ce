package restore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/progress"
	oprestore "github.com/opsdeck/opsdeck/ops/restore"
	"github.com/opsdeck/opsdeck/tui"
	"github.com/opsdeck/opsdeck/tui/audittab"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	"github.com/opsdeck/opsdeck/tui/restore"
)

// wait is how long a command may take before it counts as a timer (a
// cursor blink) that yields nothing.
const wait = 150 * time.Millisecond

func newTab(t *testing.T, f *fakeEngine, w, h int, mutate func(*common.Common)) (common.Tab, *common.Common) {
	t.Helper()
	c := tuitest.Common()
	c.Now = f.now
	if mutate != nil {
		mutate(c)
	}
	tab := restore.New(c, restore.Sources{Engine: func() (restore.Engine, error) { return f, nil }, Frame: -1})
	tab.SetSize(w, h)
	return tuitest.Drive(t, tab, tab.Init(), wait), c
}

func press(t *testing.T, tab common.Tab, keys ...string) common.Tab {
	t.Helper()
	return tuitest.Press(t, tab, wait, keys...)
}

// typed returns the key presses that type s.
func typed(s string) []string { return strings.Split(s, "") }

func view(tab common.Tab) string { return tuitest.Plain(tab.View()) }

// fits fails the test when the view is not exactly h lines of at most w cells.
func fits(t *testing.T, tab common.Tab, w, h int) {
	t.Helper()
	lines := strings.Split(tab.View(), "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d cells wide, more than %d: %q", i+1, n, w, ansi.Strip(l))
		}
	}
}

// Walks of the database restore of the full set 20261125_020000 (the
// cursor starts on the newest set that is not a safety backup).
var (
	toSets      = []string{"enter"}
	toOptions   = []string{"enter", "enter"}
	toPreflight = []string{"enter", "enter", "enter"}
	toConfirm   = []string{"enter", "enter", "enter", "enter"}
)

// step runs the tab's pending command (the run's listener) and feeds the
// message it yields back; it fails the test when none comes.
func step(t *testing.T, tab common.Tab, cmd tea.Cmd) (common.Tab, tea.Cmd) {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command to wait on")
	}
	msgs := make(chan tea.Msg, 1)
	go func() { msgs <- cmd() }()
	select {
	case msg := <-msgs:
		return tab.Update(msg)
	case <-time.After(5 * time.Second):
		t.Fatal("the run sent nothing")
	}
	return tab, nil
}

// emit feeds events to the fake run and lets the tab take each one.
func emit(t *testing.T, f *fakeEngine, tab common.Tab, cmd tea.Cmd, evs ...progress.Event) (common.Tab, tea.Cmd) {
	t.Helper()
	for _, e := range evs {
		f.setNow(e.At)
		f.feed <- e
		tab, cmd = step(t, tab, cmd)
	}
	return tab, cmd
}

// startRun walks to the confirmation, types the name and confirms; the
// returned command listens to the run.
func startRun(t *testing.T, f *fakeEngine, w, h int) (common.Tab, tea.Cmd, *common.Common) {
	t.Helper()
	tab, c := newTab(t, f, w, h, nil)
	tab = press(t, tab, toConfirm...)
	tab = press(t, tab, typed("stockdb")...)
	f.setNow(at(0))
	tab, cmd := tab.Update(tuitest.Key("enter"))
	return tab, cmd, c
}

func ev(kind progress.Kind, op, stepName string, sec float64, msg string) progress.Event {
	return progress.Event{At: at(sec), Kind: kind, Op: op, Step: stepName, Message: msg}
}

func advance(stepName string, sec float64, done, total int64) progress.Event {
	return progress.Event{At: at(sec), Kind: progress.Advance, Op: oprestore.OpRestore, Step: stepName, Done: done, Total: total, Bytes: true}
}

const r, u = oprestore.OpRestore, oprestore.OpUndo

// firstHalf runs the database restore up to pg_restore, half-way.
var firstHalf = []progress.Event{
	ev(progress.Start, r, "preflight", 0, "Check the set, the targets and the free space again"),
	ev(progress.Finish, r, "preflight", 1.2, ""),
	ev(progress.Start, r, "safety-backup", 1.2, ""),
	ev(progress.Info, r, "safety-backup", 2, "database pg_dump of stockdb started"),
	ev(progress.Info, r, "safety-backup", 15, "safety backup 20261125_082000 (111.0 MiB)"),
	ev(progress.Finish, r, "safety-backup", 15.5, ""),
	ev(progress.Start, r, "database.restore", 15.5, ""),
	ev(progress.Info, r, "database.restore", 16, `pg_restore: creating TABLE "public.daily_prices"`),
	ev(progress.Info, r, "database.restore", 17, `pg_restore: processing data for table "public.daily_prices"`),
	ev(progress.Warn, r, "database.restore", 18, `pg_restore: role "analyst" does not exist: GRANT skipped`),
	advance("database.restore", 40, 50<<20, 111<<20),
}

// failAndUndo ends pg_restore, fails the swap and undoes in reverse.
var failAndUndo = []progress.Event{
	ev(progress.Info, r, "database.restore", 79, "row counts match the manifest: 4 tables, 300319 rows"),
	ev(progress.Finish, r, "database.restore", 80, ""),
	ev(progress.Start, r, "writers.down", 80, ""),
	ev(progress.Finish, r, "writers.down", 84, ""),
	ev(progress.Start, r, "database.swap", 84, ""),
	{At: at(85), Kind: progress.Fail, Op: r, Step: "database.swap", Err: `ALTER DATABASE "stockdb" RENAME: database "stockdb" is being accessed by other users`},
	ev(progress.Start, u, "database.swap", 85, "Rename them back"),
	ev(progress.Finish, u, "database.swap", 85.2, "Rename them back"),
	ev(progress.Start, u, "writers.down", 85.2, "Scale them back to their replicas"),
}

var undoRest = []progress.Event{
	ev(progress.Finish, u, "writers.down", 90, ""),
	ev(progress.Start, u, "database.restore", 90, "Drop stockdb_restore_20261125_020000"),
	ev(progress.Finish, u, "database.restore", 91, ""),
}

// undoneReport is the engine's report of that run.
func undoneReport(p *oprestore.Plan) *oprestore.Report {
	return &oprestore.Report{
		Plan: p, Start: at(0), End: at(92), Who: "alice (admin)", OK: false, Undone: true,
		Err:          `database.swap failed: ALTER DATABASE "stockdb" RENAME: database "stockdb" is being accessed by other users — every step done was undone; the original data is serving`,
		SafetyBackup: "20261125_082000",
		Path:         "/var/lib/opsdeck/restore/20261125_082000-database.md",
		Steps: []oprestore.StepResult{
			{Name: "preflight", Title: "Check the set, the targets and the free space again", State: oprestore.Done, Took: 1200 * time.Millisecond},
			{Name: "safety-backup", Title: "Back up the current database (a set tagged pre-restore)", State: oprestore.Done, Took: 14300 * time.Millisecond, Notes: []string{"safety backup 20261125_082000 (111.0 MiB)"}},
			{Name: "database.restore", Title: "Restore the dump into stockdb_restore_20261125_020000 with pg_restore --jobs 2", State: oprestore.Undone, Took: 64500 * time.Millisecond, Notes: []string{"row counts match the manifest: 4 tables, 300319 rows"}},
			{Name: "writers.down", Title: "Scale stockapp/worker and stockapp/scheduler to 0", State: oprestore.Undone, Took: 4 * time.Second},
			{Name: "database.swap", Title: "Rename stockdb to stockdb_pre_<time> and the restored one to stockdb", State: oprestore.Failed, Took: time.Second, Err: `ALTER DATABASE "stockdb" RENAME: database "stockdb" is being accessed by other users`},
			{Name: "writers.up", Title: "Scale the writers back", State: oprestore.Skipped},
			{Name: "post-checks", Title: "Run the health checks of the restored targets", State: oprestore.Skipped},
		},
	}
}

func okReport(p *oprestore.Plan) *oprestore.Report {
	rep := &oprestore.Report{Plan: p, Start: at(0), End: at(151), Who: "alice (admin)", OK: true,
		SafetyBackup: "20261125_082000", Path: "/var/lib/opsdeck/restore/20261125_082000-database.md"}
	for _, s := range p.Steps {
		rep.Steps = append(rep.Steps, oprestore.StepResult{Name: s.Name, Title: s.Title, State: oprestore.Done, Took: 2500 * time.Millisecond})
	}
	rep.Steps[len(rep.Steps)-1].Notes = []string{"health: OK"}
	return rep
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		w, h int
		keys []string
		mut  func(*common.Common)
		crit bool
	}{
		{"kind_80x24", 80, 24, nil, nil, false},
		{"kind_120x40", 120, 40, nil, nil, false},
		{"kind_read_only", 80, 24, nil, func(c *common.Common) { c.ReadOnly = true; c.Identity = access.Local(true) }, false},
		{"kind_operator", 80, 24, nil, func(c *common.Common) {
			c.Identity = access.Identity{User: "bob", Roles: map[string]access.Role{access.AllEnvs: access.Operator}, SSH: &audit.SSH{KeyFingerprint: "SHA256:x"}}
		}, false},
		{"sets_80x24", 80, 24, toSets, nil, false},
		{"sets_120x40", 120, 40, toSets, nil, false},
		{"sets_redis", 80, 24, []string{"down", "enter"}, nil, false},
		{"options_full_80x24", 80, 24, []string{"up", "up", "enter", "enter"}, nil, false},
		{"preflight_80x24", 80, 24, toPreflight, nil, false},
		{"preflight_120x40", 120, 40, toPreflight, nil, false},
		{"preflight_config_120x40", 120, 40, []string{"down", "down", "enter", "enter", "enter"}, nil, false},
		{"preflight_blocked", 100, 30, toPreflight, nil, true},
		{"confirm_80x24", 80, 24, append(append([]string{}, toConfirm...), "s", "t", "o"), nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.crit = tt.crit
			tab, _ := newTab(t, f, tt.w, tt.h-2, tt.mut)
			tab = press(t, tab, tt.keys...)
			fits(t, tab, tt.w, tt.h-2)
			golden.RequireEqual(t, []byte(view(tab)))
		})
	}
}

func TestGoldenRun(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			f := newFake()
			tab, cmd, _ := startRun(t, f, size.w, size.h-2)
			tab, cmd = emit(t, f, tab, cmd, firstHalf...)
			fits(t, tab, size.w, size.h-2)
			golden.RequireEqual(t, []byte(view(tab)))
			t.Run("undoing", func(t *testing.T) {
				tab, cmd = emit(t, f, tab, cmd, failAndUndo...)
				fits(t, tab, size.w, size.h-2)
				golden.RequireEqual(t, []byte(view(tab)))
			})
			t.Run("summary", func(t *testing.T) {
				tab, cmd = emit(t, f, tab, cmd, undoRest...)
				rep := undoneReport(f.plan(t))
				f.setReport(rep, errors.New(rep.Err))
				close(f.feed)
				tab, cmd = step(t, tab, cmd)
				tab = tuitest.Drive(t, tab, cmd, wait)
				fits(t, tab, size.w, size.h-2)
				golden.RequireEqual(t, []byte(view(tab)))
			})
		})
	}
}

func TestStageTransitions(t *testing.T) {
	f := newFake()
	tab, _ := newTab(t, f, 100, 30, nil)
	for _, tt := range []struct {
		keys []string
		want string
	}{
		{nil, "What to restore"},
		{[]string{"enter"}, "Backup sets with database"},
		{[]string{"enter"}, "Options: database restore from 20261125_020000"},
		{[]string{"enter"}, "Preflight: database restore from 20261125_020000"},
		{[]string{"enter"}, "Restore database from backup 20261125_020000?"},
	} {
		tab = press(t, tab, tt.keys...)
		if v := view(tab); !strings.Contains(v, tt.want) {
			t.Fatalf("after %v: want %q in\n%s", tt.keys, tt.want, v)
		}
	}
	if !tab.Capturing() {
		t.Error("the typed confirmation does not capture the keys")
	}
	if prepared, _ := f.counts(); prepared != 1 {
		t.Errorf("%d preflights, want 1", prepared)
	}
	o := f.prepared[0]
	if o.Kind != "database" || o.ID != "20261125_020000" || o.NoSafetyBackup || o.TargetDB != "" {
		t.Errorf("options %+v", o)
	}
}

func TestOptionsReachThePlan(t *testing.T) {
	f := newFake()
	tab, _ := newTab(t, f, 100, 30, nil)
	// full: safety off, target renamed, update existing on.
	tab = press(t, tab, "up", "up", "enter", "enter", "space", "down", "space")
	if !tab.Capturing() {
		t.Fatal("editing the target database does not capture keys")
	}
	tab = press(t, tab, typed("stockdb_check")...)
	tab = press(t, tab, "enter", "down", "space", "enter")
	if prepared, _ := f.counts(); prepared != 1 {
		t.Fatalf("%d preflights:\n%s", prepared, view(tab))
	}
	o := f.prepared[0]
	if o.Kind != "full" || !o.NoSafetyBackup || o.TargetDB != "stockdb_check" || !o.UpdateExisting {
		t.Errorf("options %+v", o)
	}
	if v := view(tab); !strings.Contains(v, "database stockdb_check on 10.0.0.5:5432") || strings.Contains(v, "safety-backup") {
		t.Errorf("plan does not follow the options:\n%s", v)
	}
}

func TestEscChangesNothing(t *testing.T) {
	f := newFake()
	tab, _ := newTab(t, f, 100, 30, nil)
	tab = press(t, tab, toConfirm...)
	tab = press(t, tab, typed("stockd")...)
	tab = press(t, tab, "enter") // does not match: stays
	if !strings.Contains(view(tab), "does not match yet") {
		t.Fatalf("a wrong name was taken:\n%s", view(tab))
	}
	for _, want := range []string{"Preflight:", "Options:", "Backup sets with", "What to restore"} {
		tab = press(t, tab, "esc")
		if v := view(tab); !strings.Contains(v, want) {
			t.Fatalf("esc: want %q in\n%s", want, v)
		}
	}
	if v := view(tab); !strings.Contains(v, "What to restore") {
		t.Fatalf("not back at the start:\n%s", v)
	}
	if _, runs := f.counts(); runs != 0 {
		t.Fatalf("esc ran the restore %d time(s)", runs)
	}
}

func TestEscStopsARunningPreflight(t *testing.T) {
	f := newFake()
	slow := &slowPrepare{fakeEngine: f, cancelled: make(chan struct{})}
	c := tuitest.Common()
	tab := restore.New(c, restore.Sources{Engine: func() (restore.Engine, error) { return slow, nil }, Frame: -1})
	tab.SetSize(100, 30)
	var ct common.Tab = tuitest.Drive(t, tab, tab.Init(), wait)
	ct = press(t, ct, toPreflight...)
	if v := view(ct); !strings.Contains(v, "re-reading the set's files") {
		t.Fatalf("no spinner while the preflight runs:\n%s", v)
	}
	ct = press(t, ct, "esc")
	if v := view(ct); !strings.Contains(v, "Options:") {
		t.Fatalf("esc did not go back:\n%s", v)
	}
	select {
	case <-slow.cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("the preflight's context was not cancelled")
	}
	if _, runs := f.counts(); runs != 0 {
		t.Fatal("a run started")
	}
}

// A preflight stopped with esc and replaced by a new one still sends its
// events and its end: they change nothing, even while the new one runs.
func TestStoppedPreflightIsIgnored(t *testing.T) {
	f := newFake()
	stale := &stalePrepare{fakeEngine: f, release: make(chan struct{}), entered: make(chan struct{}, 2)}
	c := tuitest.Common()
	tab := restore.New(c, restore.Sources{Engine: func() (restore.Engine, error) { return stale, nil }, Frame: -1})
	tab.SetSize(100, 30)
	var ct common.Tab = tuitest.Drive(t, tab, tab.Init(), wait)
	ct = press(t, ct, toOptions...)
	ct, first := ct.Update(tuitest.Key("enter")) // the first preflight
	select {
	case <-stale.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first preflight did not start")
	}
	ct = press(t, ct, "esc")                      // stopped
	ct, second := ct.Update(tuitest.Key("enter")) // the second one, held
	// The first one's event and its end arrive while the second runs.
	ct = tuitest.Drive(t, ct, first, 5*time.Second)
	if v := view(ct); !strings.Contains(v, "re-reading the set's files") || strings.Contains(v, "stale") {
		t.Fatalf("the stopped preflight reached the screen:\n%s", v)
	}
	close(stale.release)
	ct = tuitest.Drive(t, ct, second, 5*time.Second)
	if v := view(ct); !strings.Contains(v, "Preflight checks") || strings.Contains(v, "stale") {
		t.Fatalf("the second preflight's plan is not shown:\n%s", v)
	}
}

// stalePrepare's first preflight runs until it is cancelled, then reports
// a step and an error; the second waits for release, then is the fake's.
type stalePrepare struct {
	*fakeEngine
	release chan struct{}
	entered chan struct{}
	mu      sync.Mutex
	n       int
}

func (s *stalePrepare) Prepare(ctx context.Context, o oprestore.Options, p progress.Func) (*oprestore.Plan, error) {
	s.mu.Lock()
	s.n++
	first := s.n == 1
	s.mu.Unlock()
	s.entered <- struct{}{}
	if !first {
		<-s.release
		return s.fakeEngine.Prepare(ctx, o, p)
	}
	<-ctx.Done()
	p.Emit(progress.Event{Kind: progress.Start, Op: "verify", Step: "stale", Total: 10})
	return nil, errors.New("stale preflight")
}

// slowPrepare is a preflight that runs until it is cancelled.
type slowPrepare struct {
	*fakeEngine
	cancelled chan struct{}
}

func (s *slowPrepare) Prepare(ctx context.Context, _ oprestore.Options, _ progress.Func) (*oprestore.Plan, error) {
	<-ctx.Done()
	close(s.cancelled)
	return nil, ctx.Err()
}

func TestReadOnlyHidesActions(t *testing.T) {
	for name, mut := range map[string]func(*common.Common){
		"read-only": func(c *common.Common) { c.ReadOnly = true; c.Identity = access.Local(true) },
		"viewer": func(c *common.Common) {
			c.ReadOnly = true
			c.Identity = access.Identity{User: "carol", Roles: map[string]access.Role{access.AllEnvs: access.Viewer}, SSH: &audit.SSH{}}
		},
		"operator": func(c *common.Common) {
			c.Identity = access.Identity{User: "bob", Roles: map[string]access.Role{access.AllEnvs: access.Operator}, SSH: &audit.SSH{}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			tab, _ := newTab(t, f, 100, 30, mut)
			if v := view(tab); !strings.Contains(v, "admin role") {
				t.Errorf("no explanation:\n%s", v)
			}
			tab = press(t, tab, "enter")
			if v := view(tab); !strings.Contains(v, "20261125_020000") {
				t.Fatalf("the sets are not listed:\n%s", v)
			}
			for _, b := range tab.ShortHelp() {
				if b.Help().Desc == "options" {
					t.Errorf("help offers %q", b.Help().Desc)
				}
			}
			for _, g := range tab.FullHelp() {
				for _, b := range g {
					if b.Help().Desc == "next step" {
						t.Errorf("full help offers %q", b.Help().Desc)
					}
				}
			}
			tab = press(t, tab, "enter", "enter", "enter", "space")
			if v := view(tab); strings.Contains(v, "Options:") || strings.Contains(v, "Preflight:") {
				t.Fatalf("went on:\n%s", v)
			}
			if prepared, runs := f.counts(); prepared != 0 || runs != 0 {
				t.Fatalf("%d preflights, %d runs", prepared, runs)
			}
		})
	}
}

func TestCritBlocks(t *testing.T) {
	f := newFake()
	f.crit = true
	tab, _ := newTab(t, f, 100, 30, nil)
	tab = press(t, tab, toPreflight...)
	v := view(tab)
	if !strings.Contains(v, "CRIT") || !strings.Contains(v, "Blocked by CRIT set store lock") {
		t.Fatalf("no block shown:\n%s", v)
	}
	for _, b := range tab.ShortHelp() {
		if b.Help().Desc == "confirm" {
			t.Error("a blocked plan offers the confirmation")
		}
	}
	tab = press(t, tab, "enter")
	if v := view(tab); strings.Contains(v, "Type stockdb to confirm") || !strings.Contains(v, "blocked by a CRIT check") {
		t.Fatalf("enter went on past a CRIT check:\n%s", v)
	}
	// Fixed meanwhile: r runs the preflight again and the plan may go on.
	f.crit = false
	tab = press(t, tab, "r", "enter")
	if v := view(tab); !strings.Contains(v, "Type stockdb to confirm") {
		t.Fatalf("not unblocked by a new preflight:\n%s", v)
	}
}

func TestTypedConfirmationRequired(t *testing.T) {
	f := newFake()
	tab, _ := newTab(t, f, 100, 30, nil)
	tab = press(t, tab, toConfirm...)
	tab = press(t, tab, "enter") // nothing typed
	tab = press(t, tab, typed("stockdb_x")...)
	tab = press(t, tab, "enter")
	if _, runs := f.counts(); runs != 0 {
		t.Fatal("ran without the exact name")
	}
	tab = press(t, tab, "backspace", "backspace")
	tab, cmd := tab.Update(tuitest.Key("enter"))
	if cmd == nil || !strings.Contains(view(tab), "Restore database from 20261125_020000") {
		t.Fatalf("the exact name did not start the run:\n%s", view(tab))
	}
	f.setReport(okReport(f.plan(t)), nil)
	close(f.feed)
	tab, cmd = step(t, tab, cmd)
	tuitest.Drive(t, tab, cmd, wait)
	if _, runs := f.counts(); runs != 1 {
		t.Fatalf("%d runs", runs)
	}
}

func (f *fakeEngine) plan(t *testing.T) *oprestore.Plan {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		p := f.ranPlan
		f.mu.Unlock()
		if p != nil {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("Run was not called")
	return nil
}

func TestEventsMoveStepStates(t *testing.T) {
	f := newFake()
	tab, cmd, c := startRun(t, f, 120, 38)
	if got := c.Tasks.Running(); len(got) != 1 || got[0].Name != "restore database from 20261125_020000" {
		t.Fatalf("tasks %+v", got)
	}
	tab, cmd = emit(t, f, tab, cmd, firstHalf...)
	v := view(tab)
	for _, want := range []string{"✓ preflight", "✓ safety-backup", "database.restore", "45%", `pg_restore: role "analyst" does not exist`, "· writers.down"} {
		if !strings.Contains(v, want) {
			t.Errorf("running: no %q in\n%s", want, v)
		}
	}
	tab = press(t, tab, "esc")
	if v := view(tab); !strings.Contains(v, "esc does not cancel a running restore") {
		t.Errorf("esc during the run:\n%s", v)
	}
	tab, cmd = emit(t, f, tab, cmd, failAndUndo...)
	v = view(tab)
	for _, want := range []string{"✗ database.swap", "(undone)", "writers.down", "undoing…", "↶ undo: Scale them back"} {
		if !strings.Contains(v, want) {
			t.Errorf("undoing: no %q in\n%s", want, v)
		}
	}
	tab, cmd = emit(t, f, tab, cmd, undoRest...)
	v = view(tab)
	for _, want := range []string{"↶ writers.down", "↶ database.restore", "✓ safety-backup"} {
		if !strings.Contains(v, want) {
			t.Errorf("undone: no %q in\n%s", want, v)
		}
	}
	rep := undoneReport(f.plan(t))
	f.setReport(rep, errors.New(rep.Err))
	close(f.feed)
	tab, cmd = step(t, tab, cmd)
	tab = tuitest.Drive(t, tab, cmd, wait)
	v = view(tab)
	for _, want := range []string{"Failed and undone: the original data is serving", "/var/lib/opsdeck/restore/20261125_082000-database.md", "backup 20261125_082000", "– writers.up", "skipped", "row counts match the manifest"} {
		if !strings.Contains(v, want) {
			t.Errorf("summary: no %q in\n%s", want, v)
		}
	}
	f.mu.Lock()
	runCtx := f.runCtx
	f.mu.Unlock()
	if runCtx.Err() == nil {
		t.Error("the run's context outlived the run")
	}
	if id, _ := access.FromContext(runCtx); id.User != "test-admin" {
		t.Errorf("the run acted as %q, not as the session", id.User)
	}
	if got := c.Tasks.Running(); len(got) != 0 {
		t.Errorf("task still registered: %+v", got)
	}
	tab = press(t, tab, "enter")
	if v := view(tab); !strings.Contains(v, "What to restore") {
		t.Errorf("enter did not start over:\n%s", v)
	}
}

func TestSummaryOK(t *testing.T) {
	f := newFake()
	tab, cmd, _ := startRun(t, f, 100, 30)
	f.setReport(okReport(f.plan(t)), nil)
	close(f.feed)
	tab, cmd = step(t, tab, cmd)
	tab = tuitest.Drive(t, tab, cmd, wait)
	v := view(tab)
	for _, want := range []string{"✓ Done in 2m31s: restore database from 20261125_020000", "report    /var/lib/opsdeck/restore/20261125_082000-database.md", "health: OK"} {
		if !strings.Contains(v, want) {
			t.Errorf("no %q in\n%s", want, v)
		}
	}
}

func TestRefusedRunSaysNothingChanged(t *testing.T) {
	f := newFake()
	tab, cmd, _ := startRun(t, f, 100, 30)
	f.setReport(nil, errors.New("restore.run refused: bob (operator) may not run it, it needs the admin role"))
	close(f.feed)
	tab, cmd = step(t, tab, cmd)
	tab = tuitest.Drive(t, tab, cmd, wait)
	if v := view(tab); !strings.Contains(v, "Not run: nothing was changed") || !strings.Contains(v, "needs the admin role") {
		t.Errorf("view:\n%s", v)
	}
}

func TestRunSurvivesSwitchingTabs(t *testing.T) {
	f := newFake()
	c := tuitest.Common()
	tab := restore.New(c, restore.Sources{Engine: func() (restore.Engine, error) { return f, nil }, Frame: -1})
	root := tui.New(c, tab, audittab.New(c, audittab.Sources{Path: filepath.Join(t.TempDir(), "audit.log")}))
	root.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	var ct common.Tab = tuitest.Drive(t, tab, tab.Init(), wait)
	ct = press(t, ct, toConfirm...)
	press(t, ct, typed("stockdb")...)
	_, cmd := root.Update(tuitest.Key("enter"))
	root.Update(tuitest.Key("tab"))
	if root.Active() != 1 {
		t.Fatal("tab did not switch tabs during the run")
	}
	for _, e := range firstHalf {
		f.feed <- e
		msgs := tuitest.Run(cmd, 5*time.Second)
		if len(msgs) != 1 {
			t.Fatalf("messages %v", msgs)
		}
		_, cmd = root.Update(msgs[0])
	}
	if out := tuitest.Plain(root.Render()); !strings.Contains(out, "⟳ restore database from 20261125_020000") {
		t.Errorf("status bar does not show the run:\n%s", out)
	}
	root.Update(tuitest.Key("shift+tab"))
	out := tuitest.Plain(root.Render())
	for _, want := range []string{"✓ safety-backup", "45%"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q after switching back:\n%s", want, out)
		}
	}
	f.setReport(okReport(f.plan(t)), nil)
	close(f.feed)
	for range 3 {
		msgs := tuitest.Run(cmd, 5*time.Second)
		if len(msgs) == 0 {
			break
		}
		_, cmd = root.Update(msgs[0])
	}
	if out := tuitest.Plain(root.Render()); !strings.Contains(out, "Done in 2m31s") {
		t.Errorf("no summary:\n%s", out)
	}
}
