package tui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
	"github.com/opsdeck/opsdeck/tui"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	runbookstab "github.com/opsdeck/opsdeck/tui/runbooks"
)

// drain runs cmd and everything it leads to through the root model,
// waiting long enough for a runbook to render.
func drain(m *tui.Model, cmd tea.Cmd) {
	queue := tuitest.Run(cmd, 30*time.Second)
	for i := 0; i < len(queue) && i < 100; i++ {
		_, next := m.Update(queue[i])
		queue = append(queue, tuitest.Run(next, 30*time.Second)...)
	}
}

// TestHealthOpensTheRunbookOfAProblem: b on the crash-looping pod switches
// to the Runbooks tab at its section.
func TestHealthOpensTheRunbookOfAProblem(t *testing.T) {
	c := tuitest.Common()
	cl := tuitest.NewCluster(0)
	hsrc := healthtab.Sources{
		Kube: func(context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			return cl, common.KubeInfoMsg{Context: "sandbox"}, nil
		},
		Checks: func(context.Context) []health.Result { return nil },
	}
	rsrc := runbookstab.Sources{Load: func() (*runbook.Library, error) { return runbook.Load(runbooks.FS, "", runbooks.Order) }}
	rb := runbookstab.New(c, rsrc)
	// Load the runbooks first: feed gives up on a Cmd after 100ms, and
	// loading can take longer under -race.
	tuitest.Drive(t, rb, rb.Init(), 30*time.Second)
	m := tui.New(c, healthtab.New(c, hsrc), rb)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	feed(m, m.Init(), 0)
	drain(m, press(m, "b"))
	if m.Active() != 1 {
		t.Fatalf("active tab = %d, want the Runbooks tab", m.Active())
	}
	out := tuitest.Plain(m.Render())
	if !strings.Contains(out, "Troubleshooting › Pod CrashLoop") || !strings.Contains(out, "### Pod CrashLoop") {
		t.Fatalf("the crash loop section is not shown:\n%s", out)
	}
	// 1 goes back to Health.
	drain(m, press(m, "1"))
	if m.Active() != 0 {
		t.Fatalf("1 should go back to the Health tab")
	}
}
