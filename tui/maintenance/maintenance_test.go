package maintenance_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/health"
	opmaintain "github.com/opsdeck/opsdeck/ops/maintain"
	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	"github.com/opsdeck/opsdeck/tui/maintenance"
)

const wait = 200 * time.Millisecond

// fakeEngine answers runs with a canned report and records the actions.
type fakeEngine struct {
	mu      sync.Mutex
	applied []opmaintain.Finding
	// hold, when set, makes Run wait (after one progress event) until it is
	// closed or the run is cancelled.
	hold      chan struct{}
	cancelled bool
	// who is the identity the last run's context carried.
	who string
}

func (e *fakeEngine) Run(ctx context.Context, o opmaintain.Options) (*opmaintain.Report, error) {
	id, _ := access.FromContext(ctx)
	e.mu.Lock()
	e.who = id.User
	e.mu.Unlock()
	o.Progress.Emit(progress.Event{Kind: progress.Start, Op: "maintain", Step: "redis"})
	o.Progress.Emit(progress.Event{Kind: progress.Advance, Op: "maintain", Step: "redis keyspace", Done: 4500, Total: 10000})
	if e.hold != nil {
		select {
		case <-e.hold:
		case <-ctx.Done():
			e.mu.Lock()
			e.cancelled = true
			e.mu.Unlock()
			rep := report(o.Mode)
			rep.Findings = rep.Findings[:2]
			return rep, ctx.Err()
		}
	}
	return report(o.Mode), nil
}

func (e *fakeEngine) Apply(_ context.Context, f opmaintain.Finding, _ progress.Func) opmaintain.ActionResult {
	e.mu.Lock()
	e.applied = append(e.applied, f)
	e.mu.Unlock()
	return opmaintain.ActionResult{Action: *f.Action, FindingKey: f.Key(), OK: true, Detail: "vacuumed and analyzed: 50,000 dead tuples → 0 in 1.2s"}
}

func (e *fakeEngine) LastRuns() map[opmaintain.Mode]opmaintain.LastRun {
	return map[opmaintain.Mode]opmaintain.LastRun{
		opmaintain.ModeHealth:   {At: tuitest.Now.Add(-3 * time.Hour), Status: health.Crit, Counts: map[string]int{"crit": 2, "warn": 1, "ok": 9}},
		opmaintain.ModeSecurity: {At: tuitest.Now.Add(-26 * time.Hour), Status: health.Warn, Counts: map[string]int{"warn": 4, "ok": 3, "n/a": 1}},
	}
}

func (e *fakeEngine) actions() []opmaintain.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]opmaintain.Finding(nil), e.applied...)
}

// report is what a db run finds on a busy day.
func report(mode opmaintain.Mode) *opmaintain.Report {
	start := tuitest.Now.Add(-5 * time.Minute)
	rep := &opmaintain.Report{Mode: mode, StartedAt: start, Took: 1500 * time.Millisecond, Status: health.Crit,
		Areas: []opmaintain.AreaRun{{Area: opmaintain.AreaDB}}}
	rep.Findings = []opmaintain.Finding{
		{Area: opmaintain.AreaDB, Check: "dead tuples", Status: health.Crit, Object: `"public"."daily_prices"`,
			Summary: "24.8% dead: 99,206 dead of 400,019 rows", Evidence: []string{"last vacuum: never; last autovacuum: 3d ago"},
			Why: "dead rows make scans slower", Suggestion: "VACUUM (ANALYZE) the table", Runbook: "performance.md#vacuum-and-bloat",
			Action: &opmaintain.Action{Kind: opmaintain.ActVacuum, Schema: "public", Table: "daily_prices", Label: `VACUUM (ANALYZE) "public"."daily_prices"`}},
		{Area: opmaintain.AreaDB, Check: "lock wait", Status: health.Warn, Object: "pid 4242",
			Summary: "waits 45s for a lock held by pid 4100 (app@stockdb)", Runbook: "troubleshooting.md#postgres-long-transactions",
			Action: &opmaintain.Action{Kind: opmaintain.ActTerminate, PID: 4100, Label: "terminate session 4100 (app, worker)"}},
		{Area: opmaintain.AreaDB, Check: "unused index", Status: health.Warn, Object: `"public"."daily_prices_trade_date_idx"`,
			Summary: "never scanned, 6.4 MiB on daily_prices", Runbook: "performance.md#indexes"},
		{Area: opmaintain.AreaDB, Check: "bloat", NA: true, Summary: "n/a: permission denied (pg_stats) — grant pg_monitor"},
		{Area: opmaintain.AreaDB, Check: "cache hit", Status: health.OK, Object: "stockdb", Summary: "99.4%"},
		{Area: opmaintain.AreaCleanup, Check: "pre-restore databases", Status: health.OK, Object: "stockdb_pre_20261101_020000",
			Summary: "1.2 GiB, 24 days old, past the 168h retention",
			Action:  &opmaintain.Action{Kind: opmaintain.ActDropDatabase, Database: "stockdb_pre_20261101_020000", Label: "DROP DATABASE stockdb_pre_20261101_020000 (1.2 GiB)"}},
	}
	return rep
}

func newTab(t *testing.T, eng *fakeEngine, w, h int, mutate func(*common.Common)) common.Tab {
	t.Helper()
	c := tuitest.Common()
	if mutate != nil {
		mutate(c)
	}
	tab := maintenance.New(c, maintenance.Sources{Engine: func() (maintenance.Engine, error) { return eng, nil }})
	tab.SetSize(w, h)
	return tuitest.Drive(t, tab, tab.Init(), wait)
}

// runTask moves to the task and runs it.
func runTask(t *testing.T, tab common.Tab, downs int) common.Tab {
	t.Helper()
	for range downs {
		tab = tuitest.Press(t, tab, wait, "down")
	}
	return tuitest.Press(t, tab, wait, "enter")
}

func TestGolden(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		t.Run(sizeName(size.w, size.h), func(t *testing.T) {
			tab := runTask(t, newTab(t, &fakeEngine{}, size.w, size.h-2, nil), 3) // db
			golden.RequireEqual(t, []byte(tuitest.Plain(tab.View())))
		})
	}
}

func TestGoldenDetail(t *testing.T) {
	tab := runTask(t, newTab(t, &fakeEngine{}, 80, 22, nil), 3)
	tab = tuitest.Press(t, tab, wait, "enter")
	golden.RequireEqual(t, []byte(tuitest.Plain(tab.View())))
}

func sizeName(w, h int) string {
	return strings.TrimSpace(strings.Join([]string{itoa(w), itoa(h)}, "x"))
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestTasksShowTheirLastRun(t *testing.T) {
	tab := newTab(t, &fakeEngine{}, 120, 38, nil)
	out := tuitest.Plain(tab.View())
	for _, want := range []string{"health", "3h ago", "CRIT", "2 crit, 1 warn, 9 ok", "security", "WARN", "never"} {
		if !strings.Contains(out, want) {
			t.Errorf("task list lacks %q:\n%s", want, out)
		}
	}
}

func TestRunShowsProgressAndEscCancels(t *testing.T) {
	eng := &fakeEngine{hold: make(chan struct{})}
	var c *common.Common
	tab := newTab(t, eng, 120, 38, func(cc *common.Common) { c = cc })
	tab = tuitest.Press(t, tab, wait, "down", "down", "down", "down") // redis
	tab, listen := tab.Update(tuitest.Key("enter"))
	// The run's two events; the listen for what comes next stays pending.
	for range 2 {
		tab, listen = tab.Update(listen())
	}
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "maintain redis") || !strings.Contains(out, "45%") || !strings.Contains(out, "esc cancels") {
		t.Fatalf("no progress while running:\n%s", out)
	}
	// The run is a task of the session, and runs as it.
	if r := c.Tasks.Running(); len(r) != 1 || r[0].Name != "maintain redis" || r[0].Who != "test-admin" {
		t.Errorf("tasks while running: %+v", r)
	}
	eng.mu.Lock()
	who := eng.who
	eng.mu.Unlock()
	if who != "test-admin" {
		t.Errorf("the run's context carries %q, not the session's identity", who)
	}
	// A second enter does not start another run.
	tab = tuitest.Press(t, tab, 50*time.Millisecond, "enter")
	tab, _ = tab.Update(tuitest.Key("esc"))
	// The cancelled run's partial report arrives through the pending listen.
	tab = tuitest.Drive(t, tab, listen, 5*time.Second)
	eng.mu.Lock()
	cancelled := eng.cancelled
	eng.mu.Unlock()
	if !cancelled {
		t.Fatal("esc did not cancel the run")
	}
	if !strings.Contains(tuitest.Plain(tab.View()), "stopped") {
		t.Errorf("the cancelled run's findings are not shown:\n%s", tuitest.Plain(tab.View()))
	}
	if r := c.Tasks.Running(); len(r) != 0 {
		t.Errorf("tasks after the end: %+v", r)
	}
}

func TestActionConfirmationDefaultsToNo(t *testing.T) {
	eng := &fakeEngine{}
	tab := runTask(t, newTab(t, eng, 120, 38, nil), 3)
	tab = tuitest.Press(t, tab, wait, "a")
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, `VACUUM (ANALYZE) "public"."daily_prices"?`) || !strings.Contains(out, "No") {
		t.Fatalf("no confirmation:\n%s", out)
	}
	tab = tuitest.Press(t, tab, wait, "enter") // the default: No
	if n := len(eng.actions()); n != 0 {
		t.Fatalf("enter on the untouched prompt ran %d action(s)", n)
	}
	if !strings.Contains(tuitest.Plain(tab.View()), "not done") {
		t.Errorf("no result line after No:\n%s", tuitest.Plain(tab.View()))
	}
	tab = tuitest.Press(t, tab, wait, "a", "y")
	if acts := eng.actions(); len(acts) != 1 || acts[0].Action.Kind != opmaintain.ActVacuum {
		t.Fatalf("actions after y: %+v", acts)
	}
	out = tuitest.Plain(tab.View())
	if !strings.Contains(out, "50,000 dead tuples → 0") || !strings.Contains(out, "✓") {
		t.Errorf("the result is not shown:\n%s", out)
	}
}

func TestDropDatabaseNeedsItsName(t *testing.T) {
	eng := &fakeEngine{}
	tab := runTask(t, newTab(t, eng, 120, 38, nil), 3)
	tab = tuitest.Press(t, tab, wait, "G", "a") // the last finding: the pre-restore database
	if !tab.Capturing() {
		t.Fatal("the typed confirmation does not capture keys")
	}
	tab = tuitest.Press(t, tab, wait, "y", "enter")
	if len(eng.actions()) != 0 {
		t.Fatal("y dropped a database")
	}
	for _, r := range "stockdb_pre_20261101_020000" {
		tab = tuitest.Press(t, tab, wait, string(r))
	}
	tab = tuitest.Press(t, tab, wait, "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace")
	tab = tuitest.Press(t, tab, wait, "esc")
	if len(eng.actions()) != 0 || tab.Capturing() {
		t.Fatal("esc did not cancel")
	}
}

func TestReadOnlyAndViewerHaveNoActions(t *testing.T) {
	for name, mutate := range map[string]func(*common.Common){
		"read-only": func(c *common.Common) { c.ReadOnly = true },
		"viewer": func(c *common.Common) {
			c.Identity = access.Identity{User: "val", Roles: map[string]access.Role{access.AllEnvs: access.Viewer}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			eng := &fakeEngine{}
			tab := runTask(t, newTab(t, eng, 120, 38, mutate), 3)
			tab = tuitest.Press(t, tab, wait, "a", "y", "enter")
			if len(eng.actions()) != 0 {
				t.Fatal("an action ran")
			}
			for _, b := range tab.ShortHelp() {
				if b.Help().Key == "a" {
					t.Error("the action key is offered")
				}
			}
			tab = tuitest.Press(t, tab, wait, "enter")
			out := tuitest.Plain(tab.View())
			if !strings.Contains(out, "hidden: read-only") && !strings.Contains(out, "needs the operator role") {
				t.Errorf("the detail does not say why there is no action:\n%s", out)
			}
		})
	}
}

func TestRunbookKeyOpensTheSection(t *testing.T) {
	tab := runTask(t, newTab(t, &fakeEngine{}, 120, 38, nil), 3)
	_, cmd := tab.Update(tuitest.Key("b"))
	msgs := tuitest.Run(cmd, wait)
	if len(msgs) != 1 {
		t.Fatalf("b gave %v", msgs)
	}
	if m, ok := msgs[0].(common.OpenRunbookMsg); !ok || m.Section != "performance.md#vacuum-and-bloat" {
		t.Errorf("b gave %#v", msgs[0])
	}
}

func TestPlanAndReportViews(t *testing.T) {
	tab := newTab(t, &fakeEngine{}, 120, 38, nil)
	tab = tuitest.Press(t, tab, wait, "p")
	out := tuitest.Plain(tab.View())
	for _, want := range []string{"Daily", "Weekly", "Monthly", "restore drill", "opsdeck maintain security", "last run"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	tab = tuitest.Press(t, tab, wait, "esc", "d")
	if !strings.Contains(tuitest.Plain(tab.View()), "no report yet") {
		t.Errorf("report before a run:\n%s", tuitest.Plain(tab.View()))
	}
	tab = runTask(t, tab, 3)
	tab = tuitest.Press(t, tab, wait, "d")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "# opsdeck maintenance report: db") {
		t.Errorf("report view:\n%s", out)
	}
}

func TestSortCyclesAndKeepsSelection(t *testing.T) {
	tab := runTask(t, newTab(t, &fakeEngine{}, 120, 38, nil), 3)
	tab = tuitest.Press(t, tab, wait, "down", "s", "s")
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "sort check") {
		t.Errorf("sort:\n%s", out)
	}
	tab = tuitest.Press(t, tab, wait, "enter")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "lock wait: pid 4242") {
		t.Errorf("the selection moved with the sort:\n%s", out)
	}
}

func TestEngineUnavailable(t *testing.T) {
	c := tuitest.Common()
	tab := maintenance.New(c, maintenance.Sources{})
	tab.SetSize(80, 22)
	tab.Init()
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "Maintenance unavailable") {
		t.Errorf("no engine:\n%s", out)
	}
}
