package health_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// checks are the Postgres and Redis results the fake check source returns.
var checks = []health.Result{
	{Target: "postgres", Name: "reachable", Status: health.OK, Value: "PostgreSQL 15.18, db stockdb"},
	{Target: "postgres", Name: "connections", Status: health.OK, Value: "7/97 (7%)"},
	{Target: "postgres", Name: "cache hit", Status: health.Warn, Value: "84.2%"},
	{Target: "redis", Name: "reachable", Status: health.OK, Value: "Redis 7.0.15"},
	{Target: "redis", Name: "memory", Status: health.OK, Value: "2.1MiB/256MiB (1%)"},
}

func sources(cl *tuitest.Cluster) healthtab.Sources {
	return healthtab.Sources{
		Kube: func(context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			return cl, common.KubeInfoMsg{Context: "sandbox", Namespaces: []string{"stockapp"}}, nil
		},
		Checks: func(context.Context) []health.Result { return checks },
	}
}

// wait is how long a command may take before it counts as blocking (the
// wait for the next cluster change, the check timer).
const wait = 100 * time.Millisecond

// drive feeds what cmd yields back into tab until nothing is left.
func drive(t *testing.T, tab common.Tab, cmd tea.Cmd) common.Tab {
	t.Helper()
	return tuitest.Drive(t, tab, cmd, wait)
}

// loaded returns a Health tab that has connected and received its first data.
func loaded(t *testing.T, w, h int, extra int) (*healthtab.Tab, *tuitest.Cluster) {
	t.Helper()
	cl := tuitest.NewCluster(extra)
	tab := healthtab.New(tuitest.Common(), sources(cl))
	tab.SetSize(w, h)
	var tb common.Tab = tab
	tb = drive(t, tb, tab.Init())
	return tb.(*healthtab.Tab), cl
}

func press(t *testing.T, tab *healthtab.Tab, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, cmd := tab.Update(tuitest.Key(k))
		drive(t, tab, cmd)
	}
}

func TestGolden(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		t.Run(sizeName(size.w, size.h), func(t *testing.T) {
			tab, _ := loaded(t, size.w, size.h-2, 0)
			golden.RequireEqual(t, tuitest.Plain(tab.View()))
		})
	}
}

func sizeName(w, h int) string {
	return strings.Join([]string{itoa(w), itoa(h)}, "x")
}

func itoa(n int) string {
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestProblemsFirstAndHighlighted(t *testing.T) {
	tab, _ := loaded(t, 120, 38, 0)
	out := tuitest.Plain(tab.View())
	lines := strings.Split(out, "\n")
	var podLines []string
	for _, l := range lines {
		if strings.Contains(l, "stockapp ") {
			podLines = append(podLines, l)
		}
	}
	if len(podLines) < 3 || !strings.Contains(podLines[0], "CrashLoopBackOff") {
		t.Fatalf("want the CrashLoopBackOff pod first, got:\n%s", strings.Join(podLines, "\n"))
	}
	if !strings.Contains(out, "NotReady") {
		t.Fatalf("NotReady node missing:\n%s", out)
	}
	// Rows are coloured by status: the NotReady node in the crit style, the
	// Pending pod in the warn style (neither is under the cursor).
	s := tuitest.Common().Styles
	for _, tc := range []struct {
		row   string
		style string
	}{{"node-6", s.Crit.Render("node-6")}, {"api-7d9f8c6b5-m4n8r", s.Warn.Render("stockapp")}} {
		prefix := tc.style[:strings.Index(tc.style, "\x1b[m")]
		prefix = prefix[:strings.LastIndex(prefix, "m")+1]
		found := false
		for _, l := range strings.Split(tab.View(), "\n") {
			if strings.Contains(l, tc.row) && strings.HasPrefix(l, prefix) {
				found = true
			}
		}
		if !found {
			t.Errorf("row %s not rendered in its status colour", tc.row)
		}
	}
}

func TestFilter(t *testing.T) {
	tab, _ := loaded(t, 120, 38, 200)
	press(t, tab, "/")
	if !tab.Capturing() {
		t.Fatal("filter should capture keys")
	}
	for _, r := range "q8t3v" {
		press(t, tab, string(r))
	}
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "worker-5c8d7f9b4-q8t3v") || strings.Contains(out, "analyzer-00001") {
		t.Fatalf("filter did not narrow to one pod:\n%s", out)
	}
	if !strings.Contains(out, "1 of 208") {
		t.Fatalf("want a count of 1 of 208:\n%s", out)
	}
	press(t, tab, "enter")
	if tab.Capturing() {
		t.Fatal("enter should leave the filter input")
	}
	press(t, tab, "esc")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "Pods 208") {
		t.Fatalf("esc should clear the filter:\n%s", out)
	}
}

func TestProblemsOnlyAndSort(t *testing.T) {
	tab, _ := loaded(t, 120, 38, 50)
	press(t, tab, "w")
	out := tuitest.Plain(tab.View())
	if strings.Contains(out, "analyzer-") {
		t.Fatalf("problems only still shows healthy pods:\n%s", out)
	}
	for _, want := range []string{"CrashLoopBackOff", "Pending", "scheduler-", "redis-0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("problems only lost %s:\n%s", want, out)
		}
	}
	press(t, tab, "w", "s", "s", "s") // problems → name → status → restarts
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "sort restarts") {
		t.Fatalf("sort column not shown:\n%s", out)
	}
}

func TestDetail(t *testing.T) {
	tab, _ := loaded(t, 120, 38, 0)
	press(t, tab, "enter") // the first pod: the crash-looping worker
	out := tuitest.Plain(tab.View())
	for _, want := range []string{"Pod stockapp/worker-5c8d7f9b4-q8t3v", "CrashLoopBackOff", "Error (exit 1)", "BackOff"} {
		if !strings.Contains(out, want) {
			t.Fatalf("detail misses %q:\n%s", want, out)
		}
	}
	press(t, tab, "esc")
	press(t, tab, "n", "G", "enter")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "Node node-") {
		t.Fatalf("node detail not shown:\n%s", out)
	}
}

func TestSourceErrorsShowInTheirPanel(t *testing.T) {
	cl := tuitest.NewCluster(0)
	cl.SetError("nodes", errors.New(`user "viewer" cannot list nodes — ask for RBAC get/list/watch on pods, nodes, events`))
	tab := healthtab.New(tuitest.Common(), sources(cl))
	tab.SetSize(120, 38)
	var tb common.Tab = tab
	tb = drive(t, tb, tab.Init())
	out := tuitest.Plain(tb.View())
	if !strings.Contains(out, `cannot list nodes`) || !strings.Contains(out, "CrashLoopBackOff") {
		t.Fatalf("a failing node source should show its error and leave pods working:\n%s", out)
	}
}

func TestKubeUnreachable(t *testing.T) {
	src := healthtab.Sources{
		Kube: func(context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			return nil, common.KubeInfoMsg{}, errors.New("cannot reach API server 127.0.0.1:1 — check kubernetes.kubeconfig/context, VPN")
		},
		Checks: func(context.Context) []health.Result { return checks },
	}
	tab := healthtab.New(tuitest.Common(), src)
	tab.SetSize(80, 22)
	var tb common.Tab = tab
	tb = drive(t, tb, tab.Init())
	out := tuitest.Plain(tb.View())
	if !strings.Contains(out, "cannot reach API server") || !strings.Contains(out, "press r to retry") || !strings.Contains(out, "postgres") {
		t.Fatalf("unreachable cluster should show its error and keep the checks:\n%s", out)
	}
}

// TestNodesTableFollowsNodeCount: the nodes table is sized when the first
// snapshot arrives, whatever arrives before it.
func TestNodesTableFollowsNodeCount(t *testing.T) {
	cl := tuitest.NewCluster(0)
	src := sources(cl)
	src.Checks = nil
	tab := healthtab.New(tuitest.Common(), src)
	tab.SetSize(120, 38)
	var tb common.Tab = tab
	tb = drive(t, tb, tab.Init())
	out := tuitest.Plain(tb.View())
	for i := 1; i <= 6; i++ {
		if !strings.Contains(out, fmt.Sprintf("node-%d ", i)) {
			t.Fatalf("node-%d not shown:\n%s", i, out)
		}
	}
}

func TestUnreachableTargetShowsWhatToDo(t *testing.T) {
	cl := tuitest.NewCluster(0)
	src := sources(cl)
	src.Checks = func(context.Context) []health.Result {
		return []health.Result{{Target: "postgres", Name: "reachable", Status: health.Crit, Value: "unreachable",
			Hint: "connection refused at 127.0.0.1:5432 — is PostgreSQL running?"}}
	}
	tab := healthtab.New(tuitest.Common(), src)
	tab.SetSize(120, 38)
	var tb common.Tab = tab
	tb = drive(t, tb, tab.Init())
	if out := tuitest.Plain(tb.View()); !strings.Contains(out, "CRIT    reachable unreachable — connection refused at 127.0.0.1:5432") {
		t.Fatalf("the check line should carry the hint:\n%s", out)
	}
}
