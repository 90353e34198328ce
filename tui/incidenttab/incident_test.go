package incidenttab_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	opincident "github.com/opsdeck/opsdeck/ops/incident"
	"github.com/opsdeck/opsdeck/tui/common"
	"github.com/opsdeck/opsdeck/tui/incidenttab"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
)

const wait = 200 * time.Millisecond

// timeline is what the sources add to an incident's own entries.
func timeline(_ context.Context, inc opincident.Incident) []opincident.Entry {
	at := func(m int) time.Time { return inc.OpenedAt.Add(time.Duration(m) * time.Minute) }
	out := append(slices.Clone(inc.Entries),
		opincident.Entry{At: at(-12), Kind: opincident.KindRollout, Text: "stockapp/deployment api rolled out (stockapp/api:2.15.0)"},
		opincident.Entry{At: at(-9), Kind: opincident.KindEvent, Text: "Warning BackOff pod stockapp/api-7d9f-2xk4p: Back-off restarting failed container api"},
		opincident.Entry{At: at(-8), Kind: opincident.KindAlert, Status: "firing", Text: "HighAPIErrorRate (critical): API error rate 7.2% is above 5%"},
		opincident.Entry{At: at(2), Kind: opincident.KindAudit, Who: "alice", Status: "ok", Text: "backup.create database: ok"},
		opincident.Entry{At: at(6), Kind: opincident.KindAlert, Status: "resolved", Text: "HighAPIErrorRate (critical): API error rate 7.2% is above 5%"},
	)
	slices.SortStableFunc(out, func(a, b opincident.Entry) int { return a.At.Compare(b.At) })
	return out
}

func newTab(t *testing.T, c *common.Common, open bool, w, h int) common.Tab {
	t.Helper()
	tab := incidenttab.New(c, incidenttab.Sources{Watcher: tuitest.Incident(t, c, open, 12*time.Minute), Timeline: timeline})
	tab.SetSize(w, h)
	return tuitest.Drive(t, tab, tab.Init(), wait)
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		open bool
		ago  time.Duration
		keys []string
	}{
		{"open_80x24", true, 0, nil},
		{"open_120x40", true, 0, nil},
		{"level_form_80x24", false, 0, []string{"i"}},
		{"title_form_120x40", false, 0, []string{"i", "1"}},
		{"none_120x40", false, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w, h int
			if strings.HasSuffix(tc.name, "80x24") {
				w, h = 80, 24-3
			} else {
				w, h = 120, 40-3
			}
			tab := newTab(t, tuitest.Common(), tc.open, w, h)
			tab = tuitest.Press(t, tab, wait, tc.keys...)
			golden.RequireEqual(t, []byte(tuitest.Plain(tab.View())))
		})
	}
}

// Opening, noting and closing through the tab go through the store, as
// the session's identity; the closing writes the postmortem.
func TestOpenNoteClose(t *testing.T) {
	c := tuitest.Common()
	tab := newTab(t, c, false, 120, 37)
	tab = tuitest.Press(t, tab, wait, "i", "0")
	for _, r := range "Orders lost" {
		tab = tuitest.Press(t, tab, wait, string(r))
	}
	tab = tuitest.Press(t, tab, wait, "enter")
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "INCIDENT 1 · P0 Orders lost") || !strings.Contains(out, "opened by test-admin") {
		t.Fatalf("after opening:\n%s", out)
	}
	tab = tuitest.Press(t, tab, wait, "n", "o", "k", "enter")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "noted on incident 1") {
		t.Fatalf("after the note:\n%s", out)
	}
	tab = tuitest.Press(t, tab, wait, "C", "enter")
	out = tuitest.Plain(tab.View())
	if !strings.Contains(out, "closed incident 1 — postmortem skeleton:") || !strings.Contains(out, "No incident is open") {
		t.Fatalf("after closing:\n%s", out)
	}
	inc, err := c.Incidents.Store().Get(c.Context, 1)
	if err != nil || inc.IsOpen() || len(inc.Entries) != 3 || inc.Entries[1].Text != "ok" {
		t.Fatalf("stored %+v %v", inc, err)
	}
}

// A viewer reads the incident and is told why it may not change it.
func TestViewerIsRefused(t *testing.T) {
	c := common.New(accesstest.As(context.Background(), "vic", access.Viewer), tuitest.Common().Config)
	c.Now = tuitest.Common().Now
	tab := newTab(t, c, true, 120, 37)
	tab = tuitest.Press(t, tab, wait, "n")
	out := tuitest.Plain(tab.View())
	if !strings.Contains(out, "adding a note: needs operator") || !strings.Contains(out, "rolled api back") {
		t.Fatalf("viewer:\n%s", out)
	}
	tab = tuitest.Press(t, tab, wait, "C")
	if out := tuitest.Plain(tab.View()); !strings.Contains(out, "closing: it was opened by alice: closing it") {
		t.Fatalf("viewer closing:\n%s", out)
	}
}

// Narrow terminals never break the tab.
func TestNarrow(t *testing.T) {
	for _, open := range []bool{true, false} {
		tab := newTab(t, tuitest.Common(), open, 1, 1)
		for _, s := range [][2]int{{1, 1}, {10, 3}, {30, 5}} {
			tab.SetSize(s[0], s[1])
			_ = tab.View()
		}
	}
}
