package health_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// The benchmarks of `make bench` (docs/benchmarks.md): the Health tab with
// 10,000 pods in a 200x60 terminal, whose body (tab bar and status bar aside)
// is 200x58. Goal: a whole frame, update plus render, under 10 ms.
const (
	benchPods          = 10000
	benchW, benchBodyH = 200, 58
)

// benchTab returns a Health tab that has connected to a fake cluster of
// 10,000 extra pods and received its first snapshot, and that snapshot's
// message, to feed again.
func benchTab(b *testing.B) (*healthtab.Tab, tea.Msg) {
	b.Helper()
	cl := tuitest.NewCluster(benchPods)
	tab := healthtab.New(tuitest.Common(), healthtab.Sources{
		Kube: func(context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			return cl, common.KubeInfoMsg{Context: "bench", Namespaces: []string{"stockapp"}}, nil
		},
		Checks: func(context.Context) []health.Result {
			return []health.Result{{Target: "postgres", Name: "reachable", Status: health.OK, Value: "PostgreSQL 15"}}
		},
	})
	tab.SetSize(benchW, benchBodyH)
	var snap tea.Msg
	queue := tuitest.Run(tab.Init(), 200*time.Millisecond)
	for i := 0; i < len(queue) && i < 50; i++ {
		msg := queue[i]
		isSnap := fmt.Sprintf("%T", msg) == "health.kubeSnapshotMsg"
		_, next := tab.Update(msg)
		if isSnap {
			// What comes next waits for a cluster change that never comes.
			snap = msg
			continue
		}
		queue = append(queue, tuitest.Run(next, 200*time.Millisecond)...)
	}
	if snap == nil {
		b.Fatal("the tab never received a snapshot")
	}
	if got := tuitest.Plain(tab.View()); !containsAll(got, "analyzer-", "10008") {
		b.Fatalf("the tab did not load 10,000 pods:\n%s", got)
	}
	return tab, snap
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// BenchmarkView10k renders one frame of the tab with 10,000 pods.
func BenchmarkView10k(b *testing.B) {
	tab, _ := benchTab(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_ = tab.View()
	}
}

// BenchmarkSnapshotApply10k feeds a snapshot of 10,000 pods through Update:
// filter, sort and the table's rows, as on every cluster change.
func BenchmarkSnapshotApply10k(b *testing.B) {
	tab, snap := benchTab(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, _ = tab.Update(snap)
	}
}

// BenchmarkSnapshotFrame10k is a whole frame while the table updates: a
// snapshot through Update, then View.
func BenchmarkSnapshotFrame10k(b *testing.B) {
	tab, snap := benchTab(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, _ = tab.Update(snap)
		_ = tab.View()
	}
}

// BenchmarkFilter10k types the first character of a filter on 10,000 pods
// and renders the frame; 'a' matches every pod, the worst case.
func BenchmarkFilter10k(b *testing.B) {
	tab, _ := benchTab(b)
	tab.Update(tuitest.Key("/"))
	if !tab.Capturing() {
		b.Fatal("/ did not open the filter")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tab.Update(tuitest.Key("a"))
		_ = tab.View()
		b.StopTimer()
		tab.Update(tuitest.Key("backspace"))
		b.StartTimer()
	}
}
