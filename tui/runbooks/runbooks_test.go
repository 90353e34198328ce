package runbooks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	runbookstab "github.com/opsdeck/opsdeck/tui/runbooks"
)

// wait bounds one Cmd: rendering a long runbook takes a few hundred
// milliseconds, more under -race.
const wait = 30 * time.Second

// runner is a fake command source that records what it was asked to run
// and answers with canned output; the real runner is tested in ops/runbook.
type runner struct {
	mu    sync.Mutex
	calls []string
}

func (r *runner) run(_ context.Context, c runbook.Command, confirmed bool, book, section string) (runbook.RunResult, error) {
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf("%s confirmed=%v from=%s#%s", c.String(), confirmed, book, section))
	r.mu.Unlock()
	res := runbook.RunResult{Line: c.String(), ExitCode: 0, Took: 1200 * time.Millisecond}
	if !c.ReadOnly() && !confirmed {
		return res, fmt.Errorf("%s changes things and was not confirmed: %w", c.String(), audit.ErrRefused)
	}
	res.Output = "TARGET  CHECK      STATUS\npostgres reachable OK\n\nOK: 1 ok, 0 warn, 0 crit, 0 unknown in 12ms"
	return res, nil
}

func (r *runner) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func sources(r *runner) runbookstab.Sources {
	src := runbookstab.Sources{
		Load:     func() (*runbook.Library, error) { return runbook.Load(runbooks.FS, "", runbooks.Order) },
		Database: "stockdb", Namespace: "stockapp",
	}
	if r != nil {
		src.Run = r.run
	}
	return src
}

// loaded returns the tab at w x h (the tab's own area) with the runbooks loaded.
func loaded(t *testing.T, c *common.Common, w, h int, r *runner) *runbookstab.Tab {
	t.Helper()
	tab := runbookstab.New(c, sources(r))
	tab.SetSize(w, h)
	tuitest.Drive(t, tab, tab.Init(), wait)
	return tab
}

func press(t *testing.T, tab *runbookstab.Tab, keys ...string) {
	t.Helper()
	tuitest.Press(t, tab, wait, keys...)
}

func view(tab *runbookstab.Tab) string { return tuitest.Plain(tab.View()) }

func open(t *testing.T, tab *runbookstab.Tab, section string) {
	t.Helper()
	tuitest.Drive(t, tab, tab.OpenRunbook(section), wait)
}

func sizeName(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }

func TestGolden(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		t.Run(sizeName(size.w, size.h), func(t *testing.T) {
			// The tab gets the terminal less the tab bar and the status bar.
			tab := loaded(t, tuitest.Common(), size.w, size.h-2, &runner{})
			t.Run("list", func(t *testing.T) { golden.RequireEqual(t, view(tab)) })
			open(t, tab, "pod-crashloop")
			t.Run("reader", func(t *testing.T) { golden.RequireEqual(t, view(tab)) })
			press(t, tab, "o")
			t.Run("outline", func(t *testing.T) { golden.RequireEqual(t, view(tab)) })
			press(t, tab, "esc", "/")
			for _, r := range "pg_wal" {
				press(t, tab, string(r))
			}
			t.Run("search", func(t *testing.T) { golden.RequireEqual(t, view(tab)) })
		})
	}
}

func TestRenderedLinesFitTheWidth(t *testing.T) {
	for _, w := range []int{60, 80, 120, 200} {
		tab := loaded(t, tuitest.Common(), w, 30, nil)
		lib, _ := runbook.Load(runbooks.FS, "", runbooks.Order)
		for _, b := range lib.Books() {
			open(t, tab, b.Name)
			for i := 0; i < 400; i++ {
				for n, l := range strings.Split(tab.View(), "\n") {
					if got := ansi.StringWidth(l); got > w {
						t.Fatalf("%s at width %d: line %d is %d wide: %q", b.Name, w, n, got, ansi.Strip(l))
					}
				}
				before := view(tab)
				press(t, tab, "space")
				if view(tab) == before {
					break
				}
			}
		}
	}
}

func TestSearchFindsAPhraseDeepInARunbook(t *testing.T) {
	tab := loaded(t, tuitest.Common(), 100, 30, nil)
	press(t, tab, "/")
	if !tab.Capturing() {
		t.Fatal("search should capture keys")
	}
	for _, r := range "requested WAL segment" {
		k := string(r)
		if r == ' ' {
			k = "space"
		}
		press(t, tab, k)
	}
	out := view(tab)
	if !strings.Contains(out, "Troubleshooting › Postgres replication") {
		t.Fatalf("search did not list the replication section:\n%s", out)
	}
	press(t, tab, "enter")
	out = view(tab)
	if tab.Capturing() || !strings.Contains(out, "Troubleshooting › Postgres replication") {
		t.Fatalf("enter should open the hit:\n%s", out)
	}
	// The matching line is on screen, marked in the gutter.
	found := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "» ") && strings.Contains(l, "requested WAL") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the hit is not shown and marked:\n%s", out)
	}
}

func TestLinksFollowAndBack(t *testing.T) {
	tab := loaded(t, tuitest.Common(), 100, 30, nil)
	open(t, tab, "troubleshooting#pod-pending")
	press(t, tab, "]")
	out := view(tab)
	if !strings.Contains(out, "link ") || !strings.Contains(out, "enter follow") {
		t.Fatalf("] should select a link and say where it goes:\n%s", out)
	}
	// Select the link to Node not ready and follow it.
	pressUntil(t, tab, "]", 20, "→ troubleshooting › node-not-ready")
	press(t, tab, "enter")
	out = view(tab)
	if !strings.Contains(out, "Troubleshooting › Node not ready") || !strings.Contains(out, "esc back (1)") {
		t.Fatalf("enter should follow the link:\n%s", out)
	}
	press(t, tab, "esc")
	if out := view(tab); !strings.Contains(out, "Troubleshooting › Pod Pending") {
		t.Fatalf("esc should come back to the section the link was in:\n%s", out)
	}
	press(t, tab, "esc")
	if out := view(tab); !strings.Contains(out, "System overview and architecture") || !strings.Contains(out, "/ to search") {
		t.Fatalf("esc with no history goes back to the list:\n%s", out)
	}
}

func TestLinkToAnotherRunbook(t *testing.T) {
	tab := loaded(t, tuitest.Common(), 100, 30, nil)
	open(t, tab, "monitoring#postgresqldown")
	pressUntil(t, tab, "]", 10, "→ troubleshooting › postgres-down")
	press(t, tab, "enter")
	if out := view(tab); !strings.Contains(out, "Troubleshooting › Postgres down") {
		t.Fatalf("following a link to another runbook:\n%s", out)
	}
	press(t, tab, "esc")
	if out := view(tab); !strings.Contains(out, "Monitoring and alerting › PostgreSQLDown") {
		t.Fatalf("back to the other runbook:\n%s", out)
	}
}

func TestOutlineJumps(t *testing.T) {
	tab := loaded(t, tuitest.Common(), 100, 30, nil)
	open(t, tab, "incident-response")
	press(t, tab, "o")
	out := view(tab)
	if !strings.Contains(out, "Outline") || !strings.Contains(out, "Severity levels") {
		t.Fatalf("outline:\n%s", out)
	}
	pressUntil(t, tab, "j", 30, "▸     Lost node")
	press(t, tab, "enter")
	if out := view(tab); !strings.Contains(out, "Incident response › Lost node") {
		t.Fatalf("enter in the outline should jump to the heading:\n%s", out)
	}
}

func TestOpenRunbookBeforeLoad(t *testing.T) {
	tab := runbookstab.New(tuitest.Common(), sources(nil))
	tab.SetSize(100, 30)
	init := tab.Init()
	if cmd := tab.OpenRunbook("node-not-ready"); cmd != nil {
		t.Fatal("opening before the runbooks are loaded should wait for them")
	}
	tuitest.Drive(t, tab, init, wait)
	if out := view(tab); !strings.Contains(out, "Troubleshooting › Node not ready") {
		t.Fatalf("the section asked for before loading should open once loaded:\n%s", out)
	}
	open(t, tab, "no-such-section")
	if out := view(tab); !strings.Contains(out, `no runbook section "no-such-section"`) {
		t.Fatalf("an unknown section should say so:\n%s", out)
	}
}

func TestRunReadOnlyCommandWithoutConfirmation(t *testing.T) {
	r := &runner{}
	tab := loaded(t, tuitest.Common(), 100, 30, r)
	open(t, tab, "daily-operations#morning-check")
	selectCommand(t, tab, "opsdeck check")
	press(t, tab, "enter")
	out := view(tab)
	if !strings.Contains(out, "$ opsdeck check") || !strings.Contains(out, "exit 0 · 1.2s") || !strings.Contains(out, "postgres reachable OK") {
		t.Fatalf("a read-only command runs at once and shows its output:\n%s", out)
	}
	if calls := r.log(); len(calls) != 1 || calls[0] != "opsdeck check confirmed=false from=daily-operations#morning-check" {
		t.Fatalf("calls = %q", calls)
	}
	press(t, tab, "esc")
	if out := view(tab); !strings.Contains(out, "Daily operations") || strings.Contains(out, "$ opsdeck check") {
		t.Fatalf("esc closes the output:\n%s", out)
	}
}

// pressUntil presses k until the view shows want, at most n times.
func pressUntil(t *testing.T, tab *runbookstab.Tab, k string, n int, want string) {
	t.Helper()
	for i := 0; i <= n; i++ {
		if strings.Contains(view(tab), want) {
			return
		}
		press(t, tab, k)
	}
	t.Fatalf("%d presses of %s did not show %q:\n%s", n, k, want, view(tab))
}

// selectCommand selects the command line in the open runbook.
func selectCommand(t *testing.T, tab *runbookstab.Tab, line string) {
	t.Helper()
	pressUntil(t, tab, "]", 60, "run "+line+" ·")
}

func TestRunCommandThatChangesThingsAsksFirst(t *testing.T) {
	r := &runner{}
	c := tuitest.Common()
	tab := loaded(t, c, 80, 22, r)
	open(t, tab, "backup-restore#take-a-backup")
	selectCommand(t, tab, "opsdeck backup database")
	if out := view(tab); !strings.Contains(out, "enter asks first") {
		t.Fatalf("the footer should warn the command changes things:\n%s", out)
	}
	press(t, tab, "enter")
	if !tab.Capturing() {
		t.Fatal("the confirmation should capture keys")
	}
	golden.RequireEqual(t, view(tab))
	// enter alone is No: nothing runs but the refusal is recorded.
	press(t, tab, "enter")
	if out := view(tab); !strings.Contains(out, "not run: opsdeck backup database") {
		t.Fatalf("declining should say so:\n%s", out)
	}
	if calls := r.log(); len(calls) != 1 || !strings.Contains(calls[0], "confirmed=false") {
		t.Fatalf("a declined command is passed on unconfirmed to be refused and audited: %q", calls)
	}
	press(t, tab, "enter", "y")
	if calls := r.log(); len(calls) != 2 || calls[1] != "opsdeck backup database confirmed=true from=backup-restore#take-a-backup" {
		t.Fatalf("calls = %q", calls)
	}
	if out := view(tab); !strings.Contains(out, "$ opsdeck backup database") {
		t.Fatalf("output not shown:\n%s", out)
	}
}

func TestRestoreAsksForTheDatabaseName(t *testing.T) {
	r := &runner{}
	tab := loaded(t, tuitest.Common(), 100, 30, r)
	open(t, tab, "backup-restore#restore-the-database")
	selectCommand(t, tab, "opsdeck restore database latest")
	press(t, tab, "enter")
	if out := view(tab); !strings.Contains(out, "Type stockdb to confirm") {
		t.Fatalf("a restore asks to type the database name:\n%s", out)
	}
	press(t, tab, "y", "enter") // y is not the name: nothing runs
	if len(r.log()) != 0 || !tab.Capturing() {
		t.Fatalf("a wrong name must not run the restore: %q", r.log())
	}
	press(t, tab, "esc")
	if len(r.log()) != 1 || !strings.Contains(r.log()[0], "confirmed=false") {
		t.Fatalf("esc declines, and the refusal is passed on to be audited: %q", r.log())
	}
	press(t, tab, "enter")
	for _, k := range "stockdb" {
		press(t, tab, string(k))
	}
	press(t, tab, "enter")
	if calls := r.log(); len(calls) != 2 || !strings.Contains(calls[1], "opsdeck restore database latest confirmed=true") {
		t.Fatalf("calls = %q", calls)
	}
}

func TestReadOnlyHidesCommandsThatChangeThings(t *testing.T) {
	r := &runner{}
	c := tuitest.Common()
	c.ReadOnly = true
	tab := loaded(t, c, 100, 30, r)
	open(t, tab, "backup-restore#take-a-backup")
	for i := 0; i < 15; i++ {
		if strings.Contains(view(tab), "run opsdeck backup database") {
			t.Fatalf("read-only mode offers a command that changes things:\n%s", view(tab))
		}
		press(t, tab, "]")
	}
	open(t, tab, "backup-restore#check-backups")
	selectCommand(t, tab, "opsdeck backups list")
}

func TestNoRunnerMeansReadOnlyPage(t *testing.T) {
	tab := loaded(t, tuitest.Common(), 100, 30, nil)
	open(t, tab, "daily-operations#morning-check")
	for i := 0; i < 10; i++ {
		if strings.Contains(view(tab), "run opsdeck") {
			t.Fatalf("commands offered without a runner:\n%s", view(tab))
		}
		press(t, tab, "]")
	}
}

func TestRunErrorsShowInThePane(t *testing.T) {
	src := sources(nil)
	src.Run = func(ctx context.Context, c runbook.Command, _ bool, _, _ string) (runbook.RunResult, error) {
		return runbook.RunResult{Line: c.String(), Output: "opsdeck: no config file\n", ExitCode: 3}, errors.New("opsdeck check exited with status 3: see its output")
	}
	tab := runbookstab.New(tuitest.Common(), src)
	tab.SetSize(100, 30)
	tuitest.Drive(t, tab, tab.Init(), wait)
	open(t, tab, "daily-operations#morning-check")
	selectCommand(t, tab, "opsdeck check")
	press(t, tab, "enter")
	if out := view(tab); !strings.Contains(out, "exited with status 3") || !strings.Contains(out, "no config file") {
		t.Fatalf("a failed command shows its error and output:\n%s", out)
	}
}

func TestCancelARunningCommand(t *testing.T) {
	src := sources(nil)
	started := make(chan struct{})
	src.Run = func(ctx context.Context, c runbook.Command, _ bool, _, _ string) (runbook.RunResult, error) {
		close(started)
		<-ctx.Done()
		return runbook.RunResult{Line: c.String()}, errors.New(c.String() + " was cancelled")
	}
	tab := runbookstab.New(tuitest.Common(), src)
	tab.SetSize(100, 30)
	tuitest.Drive(t, tab, tab.Init(), wait)
	open(t, tab, "daily-operations#morning-check")
	selectCommand(t, tab, "opsdeck check")
	_, cmd := tab.Update(tuitest.Key("enter"))
	done := make(chan []any, 1)
	go func() {
		var out []any
		for _, m := range tuitest.Run(cmd, wait) {
			out = append(out, m)
		}
		done <- out
	}()
	<-started
	if out := view(tab); !strings.Contains(out, "running opsdeck check… esc cancels") {
		t.Fatalf("running state not shown:\n%s", out)
	}
	tab.Update(tuitest.Key("esc"))
	msgs := <-done
	for _, m := range msgs {
		tab.Update(m)
	}
	if out := view(tab); !strings.Contains(out, "was cancelled") {
		t.Fatalf("cancelling should end the command:\n%s", out)
	}
}

func TestResizeRendersAgainAtTheSamePlace(t *testing.T) {
	tab := loaded(t, tuitest.Common(), 120, 30, nil)
	open(t, tab, "troubleshooting#redis-memory")
	tab.SetSize(70, 20)
	tuitest.Drive(t, tab, nil, wait)
	// Any message lets the tab start the rendering for the new width.
	press(t, tab, "x")
	out := view(tab)
	if !strings.Contains(out, "Troubleshooting › Redis memory") {
		t.Fatalf("after a resize the same section should be shown:\n%s", out)
	}
	for _, l := range strings.Split(tab.View(), "\n") {
		if ansi.StringWidth(l) > 70 {
			t.Fatalf("line wider than the new width: %q", ansi.Strip(l))
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tab := runbookstab.New(tuitest.Common(), runbookstab.Sources{Load: func() (*runbook.Library, error) {
		return nil, errors.New("cannot read runbooks: permission denied")
	}})
	tab.SetSize(80, 22)
	tuitest.Drive(t, tab, tab.Init(), wait)
	if out := view(tab); !strings.Contains(out, "permission denied") {
		t.Fatalf("load error not shown:\n%s", out)
	}
	// A library with a warning (runbooks.dir missing) still lists the built-ins.
	tab = runbookstab.New(tuitest.Common(), runbookstab.Sources{Load: func() (*runbook.Library, error) {
		return runbook.Load(runbooks.FS, "/nonexistent/runbooks", runbooks.Order)
	}})
	tab.SetSize(100, 22)
	tuitest.Drive(t, tab, tab.Init(), wait)
	if out := view(tab); !strings.Contains(out, "does not exist") || !strings.Contains(out, "Troubleshooting") {
		t.Fatalf("a missing runbooks.dir is a warning over the built-in list:\n%s", out)
	}
}

func BenchmarkRenderTroubleshooting(b *testing.B) {
	lib, err := runbook.Load(runbooks.FS, "", runbooks.Order)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		tab := runbookstab.New(tuitest.Common(), runbookstab.Sources{Load: func() (*runbook.Library, error) { return lib, nil }})
		tab.SetSize(120, 38)
		tuitest.Drive(b, tab, tab.Init(), wait)
		tuitest.Drive(b, tab, tab.OpenRunbook("troubleshooting"), wait)
	}
}
