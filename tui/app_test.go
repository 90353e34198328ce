package tui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/tui"
	"github.com/opsdeck/opsdeck/tui/backups"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	"github.com/opsdeck/opsdeck/tui/maintenance"
	"github.com/opsdeck/opsdeck/tui/metrics"
	"github.com/opsdeck/opsdeck/tui/restore"
	runbookstab "github.com/opsdeck/opsdeck/tui/runbooks"
)

func newModel(t *testing.T, w, h int, readOnly bool) *tui.Model {
	t.Helper()
	c := tuitest.Common()
	c.ReadOnly = readOnly
	return newModelWith(t, w, h, c)
}

// newModelWith is the cockpit of c's session with the tabs of newModel and
// extra after them.
func newModelWith(t *testing.T, w, h int, c *common.Common, extra ...common.Tab) *tui.Model {
	t.Helper()
	cl := tuitest.NewCluster(0)
	src := healthtab.Sources{
		Kube: func(context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			return cl, common.KubeInfoMsg{Context: "sandbox", Namespaces: []string{"stockapp"}}, nil
		},
		Checks: func(context.Context) []health.Result {
			return []health.Result{
				{Target: "postgres", Name: "reachable", Status: health.OK, Value: "PostgreSQL 15.18, db stockdb"},
				{Target: "redis", Name: "reachable", Status: health.OK, Value: "Redis 7.0.15"},
			}
		},
	}
	// The other tabs have no sources: they say what is not configured and
	// do no I/O.
	tabs := append([]common.Tab{
		healthtab.New(c, src),
		metrics.New(c, metrics.Sources{}),
		backups.New(c, backups.Sources{}),
		restore.New(c, restore.Sources{}),
		maintenance.New(c, maintenance.Sources{}),
		runbookstab.New(c, runbookstab.Sources{}),
	}, extra...)
	m := tui.New(c, tabs...)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	feed(m, m.Init(), 0)
	return m
}

// feed runs cmd and feeds what it yields to the model, recursively, skipping
// commands that block (waits for changes, timers).
func feed(m *tui.Model, cmd tea.Cmd, depth int) {
	if cmd == nil || depth > 8 {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-timeout():
		return
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			feed(m, c, depth+1)
		}
		return
	}
	if msg == nil {
		return
	}
	_, next := m.Update(msg)
	feed(m, next, depth+1)
}

func press(m *tui.Model, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		_, cmd = m.Update(tuitest.Key(k))
	}
	return cmd
}

func TestGoldenShell(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		keys []string
	}{
		{"health_80x24", 80, 24, nil},
		{"health_120x40", 120, 40, nil},
		{"help_120x40", 120, 40, []string{"?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, tc.w, tc.h, false)
			press(m, tc.keys...)
			out := tuitest.Plain(m.Render())
			if n := len(strings.Split(out, "\n")); n != tc.h {
				t.Fatalf("screen has %d lines, want %d:\n%s", n, tc.h, out)
			}
			golden.RequireEqual(t, out)
		})
	}
}

func TestTabSwitching(t *testing.T) {
	m := newModel(t, 100, 30, false)
	steps := []struct {
		key  string
		want int
	}{{"tab", 1}, {"tab", 2}, {"shift+tab", 1}, {"6", 5}, {"tab", 0}, {"shift+tab", 5}, {"1", 0}}
	for _, s := range steps {
		press(m, s.key)
		if m.Active() != s.want {
			t.Fatalf("after %s: active tab %d, want %d", s.key, m.Active(), s.want)
		}
	}
}

func TestQuitAndHelp(t *testing.T) {
	m := newModel(t, 100, 30, false)
	if cmd := press(m, "?"); cmd != nil {
		t.Fatal("? should open help, not quit")
	}
	if !strings.Contains(tuitest.Plain(m.Render()), "Keys") {
		t.Fatal("help screen not shown")
	}
	press(m, "esc")
	if strings.Contains(tuitest.Plain(m.Render()), "(? or esc to close)") {
		t.Fatal("esc should close help")
	}
	if _, ok := press(m, "q")().(tea.QuitMsg); !ok {
		t.Fatal("q should quit")
	}
	if _, ok := press(m, "ctrl+c")().(tea.QuitMsg); !ok {
		t.Fatal("ctrl+c should quit")
	}
}

func TestFilterCapturesGlobalKeys(t *testing.T) {
	m := newModel(t, 100, 30, false)
	press(m, "/")
	if cmd := press(m, "q"); cmd != nil {
		if _, quit := cmd().(tea.QuitMsg); quit {
			t.Fatal("q typed into the filter must not quit")
		}
	}
	press(m, "2")
	if m.Active() != 0 {
		t.Fatal("digits typed into the filter must not switch tabs")
	}
}

func TestStatusBar(t *testing.T) {
	m := newModel(t, 120, 40, true)
	out := tuitest.Plain(m.Render())
	last := out[strings.LastIndex(out, "\n")+1:]
	for _, want := range []string{"ctx sandbox", "ns stockapp", "refreshed", "READ-ONLY", "? help"} {
		if !strings.Contains(last, want) {
			t.Fatalf("status bar %q lacks %q", last, want)
		}
	}
}

func timeout() <-chan time.Time { return time.After(100 * time.Millisecond) }

// TestQuitWhileOwnRunAsksTwice: q while this session's restore runs only
// warns; a second q quits (the cockpit then stops the run and waits for
// its undo), any other key stays.
func TestQuitWhileOwnRunAsksTwice(t *testing.T) {
	c := tuitest.Common()
	m := tui.New(c, restore.New(c, restore.Sources{}))
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 20})
	done := c.Tasks.Start(access.WithIdentity(context.Background(), c.Identity), "restore database")
	defer done()
	if cmd := press(m, "q"); cmd != nil {
		t.Fatal("the first q quit while a restore runs")
	}
	if out := tuitest.Plain(m.Render()); !strings.Contains(out, "q again stops it") {
		t.Fatalf("no warning:\n%s", out)
	}
	press(m, "2") // any other key disarms
	if cmd := press(m, "q"); cmd != nil {
		t.Fatal("q after another key quit at once")
	}
	if _, ok := press(m, "q")().(tea.QuitMsg); !ok {
		t.Fatal("the second q did not quit")
	}
}
