package tui_test

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/tui"
	"github.com/opsdeck/opsdeck/tui/incidenttab"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

// The banner of an open incident on every tab: its clock against the
// level's response time, red (BannerOverdue) once past it; i from any tab
// goes to the Incident tab's opening form, refused while one is open.
func TestGoldenIncidentBanner(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		ago  time.Duration
	}{
		{"banner_80x24", 80, 24, 12 * time.Minute},
		{"banner_120x40", 120, 40, 12 * time.Minute},
		{"banner_overdue_120x40", 120, 40, 75 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tuitest.Common()
			w := tuitest.Incident(t, c, true, tc.ago)
			m := tui.New(c, incidenttab.New(c, incidenttab.Sources{Watcher: w}))
			m.Update(tea.WindowSizeMsg{Width: tc.w, Height: tc.h})
			feed(m, m.Init(), 0)
			out := m.Render()
			if overdue := strings.Contains(out, "RESPONSE TIME PASSED"); overdue != (tc.ago > time.Hour) {
				t.Errorf("overdue style %v after %v", overdue, tc.ago)
			}
			plain := tuitest.Plain(out)
			if n := len(strings.Split(plain, "\n")); n != tc.h {
				t.Fatalf("screen has %d lines, want %d:\n%s", n, tc.h, plain)
			}
			golden.RequireEqual(t, []byte(plain))
		})
	}
}

func TestIncidentKeyFromAnyTab(t *testing.T) {
	c := tuitest.Common()
	w := tuitest.Incident(t, c, false, 0)
	m := newModelWith(t, 120, 40, c, incidenttab.New(c, incidenttab.Sources{Watcher: w}))
	press(m, "i")
	if out := tuitest.Plain(m.Render()); !strings.Contains(out, "Open an incident") {
		t.Fatalf("i on the Health tab:\n%s", out)
	}
}
