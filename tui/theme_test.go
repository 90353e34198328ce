package tui_test

import (
	"context"
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
	"github.com/opsdeck/opsdeck/tui"
	"github.com/opsdeck/opsdeck/tui/backups"
	"github.com/opsdeck/opsdeck/tui/common"
	healthtab "github.com/opsdeck/opsdeck/tui/health"
	"github.com/opsdeck/opsdeck/tui/internal/tuitest"
	"github.com/opsdeck/opsdeck/tui/maintenance"
	"github.com/opsdeck/opsdeck/tui/metrics"
	"github.com/opsdeck/opsdeck/tui/restore"
	runbookstab "github.com/opsdeck/opsdeck/tui/runbooks"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// themed is the cockpit of newModel with the configuration's theme set to
// theme and the built-in runbooks loaded.
func themed(t *testing.T, theme string, w, h int) *tui.Model {
	t.Helper()
	c := tuitest.CommonTheme(theme)
	cl := tuitest.NewCluster(0)
	hsrc := healthtab.Sources{
		Kube: func(context.Context) (healthtab.KubeSource, common.KubeInfoMsg, error) {
			return cl, common.KubeInfoMsg{Context: "sandbox", Namespaces: []string{"stockapp"}}, nil
		},
		Checks: func(context.Context) []health.Result {
			return []health.Result{
				{Target: "postgres", Name: "reachable", Status: health.OK, Value: "PostgreSQL 15.18, db stockdb"},
				{Target: "redis", Name: "reachable", Status: health.Warn, Value: "Redis 7.0.15, memory 91%"},
			}
		},
	}
	rb := runbookstab.New(c, runbookstab.Sources{Load: func() (*runbook.Library, error) { return runbook.Load(runbooks.FS, "", runbooks.Order) }})
	tuitest.Drive(t, rb, rb.Init(), 30*time.Second)
	m := tui.New(c,
		healthtab.New(c, hsrc),
		metrics.New(c, metrics.Sources{}),
		backups.New(c, backups.Sources{}),
		restore.New(c, restore.Sources{}),
		maintenance.New(c, maintenance.Sources{}),
		rb,
	)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	feed(m, m.Init(), 0)
	return m
}

// sgr is how a colour of the palette appears in the rendered output: the
// end of a 24-bit foreground (38;2;…) or background (48;2;…) sequence's
// parameters.
func sgr(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("8;2;%d;%d;%dm", r>>8, g>>8, b>>8)
}

// With theme auto the cockpit asks the terminal for its background; with
// a fixed theme it does not ask.
func TestThemeAutoAsksTheTerminal(t *testing.T) {
	for _, tc := range []struct {
		theme string
		asks  bool
	}{{config.ThemeAuto, true}, {config.ThemeDark, false}, {config.ThemeLight, false}} {
		m := tui.New(tuitest.CommonTheme(tc.theme))
		asked := false
		for _, msg := range tuitest.Run(m.Init(), time.Second) {
			// tea.RequestBackgroundColor's message is unexported.
			if fmt.Sprintf("%T", msg) == fmt.Sprintf("%T", tea.RequestBackgroundColor()) {
				asked = true
			}
		}
		if asked != tc.asks {
			t.Errorf("theme %s: asked the terminal %v, want %v", tc.theme, asked, tc.asks)
		}
	}
}

// The answer decides with theme auto: a light background turns every tab
// light, exactly as a cockpit opened with theme light draws it (nothing
// keeps the dark colours it rendered before); a dark one, or no answer at
// all, keeps dark. A fixed theme ignores the answer.
func TestThemeFollowsTheBackground(t *testing.T) {
	white := tea.BackgroundColorMsg{Color: color.White}
	black := tea.BackgroundColorMsg{Color: color.Black}
	// Every tab, and the runbook reader at a section.
	screens := func(m *tui.Model) []string {
		var out []string
		for _, k := range []string{"1", "2", "3", "4", "5", "6"} {
			press(m, k)
			out = append(out, m.Render())
		}
		press(m, "1")
		drain(m, press(m, "b"))
		out = append(out, m.Render())
		if !strings.Contains(tuitest.Plain(out[len(out)-1]), "### Pod CrashLoop") {
			t.Fatalf("the runbook is not shown:\n%s", out[len(out)-1])
		}
		press(m, "1")
		return out
	}
	// The nth screens of a cockpit opened with a fixed theme: the reader
	// keeps its history, so the same calls are compared.
	nth := func(theme string, n int) (out []string) {
		m := themed(t, theme, 100, 30)
		for range n {
			out = screens(m)
		}
		return out
	}

	auto := themed(t, config.ThemeAuto, 100, 30)
	if got := screens(auto); !equal(got, nth(config.ThemeDark, 1)) {
		t.Fatal("theme auto without an answer does not draw dark")
	}
	drain(auto, func() tea.Msg { return black })
	if got := screens(auto); !equal(got, nth(config.ThemeDark, 2)) {
		t.Fatal("a dark background did not keep the dark theme")
	}
	drain(auto, func() tea.Msg { return white })
	light := nth(config.ThemeLight, 3)
	if got := screens(auto); !equal(got, light) {
		for i := range got {
			if got[i] != light[i] {
				t.Errorf("screen %d after a light answer differs from theme light:\n%s\nwant\n%s", i, got[i], light[i])
			}
		}
	}

	fixed := themed(t, config.ThemeDark, 100, 30)
	drain(fixed, func() tea.Msg { return white })
	if got := screens(fixed); !equal(got, nth(config.ThemeDark, 1)) {
		t.Error("theme dark followed a light background")
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The light theme's goldens keep the colours (the other goldens are plain
// text): the main screen and a runbook at both sizes. Its text is the dark
// theme's, cell for cell; only the colours differ, and no colour of the
// dark palette is left.
func TestGoldenLight(t *testing.T) {
	dark, light := styles.DarkPalette(), styles.LightPalette()
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		name := fmt.Sprintf("%dx%d", size.w, size.h)
		lm := themed(t, config.ThemeLight, size.w, size.h)
		dm := themed(t, config.ThemeDark, size.w, size.h)
		for _, v := range []struct {
			name string
			keys []string
		}{{"health", nil}, {"runbook", []string{"b"}}} {
			t.Run(v.name+"_"+name, func(t *testing.T) {
				drain(lm, press(lm, v.keys...))
				drain(dm, press(dm, v.keys...))
				out := lm.Render()
				if n := len(strings.Split(out, "\n")); n != size.h {
					t.Fatalf("screen has %d lines, want %d", n, size.h)
				}
				if got, want := tuitest.Plain(out), tuitest.Plain(dm.Render()); got != want {
					t.Errorf("the light screen's text differs from the dark one's:\n%s\nwant\n%s", got, want)
				}
				for _, c := range []color.Color{light.Accent, light.Muted} {
					if !strings.Contains(out, sgr(c)) {
						t.Errorf("light colour %v is not on the screen", c)
					}
				}
				for _, c := range []color.Color{dark.Accent, dark.Muted, dark.Text, dark.OK, dark.Warn, dark.Crit, dark.Unknown} {
					if strings.Contains(out, sgr(c)) {
						t.Errorf("dark colour %v is on the light screen", c)
					}
				}
				// The runbook in glamour's light style: its dark text (234),
				// not the dark style's light grey (252).
				if v.name == "runbook" && (!strings.Contains(out, "38;5;234m") || strings.Contains(out, "38;5;252m")) {
					t.Error("the runbook is not drawn in glamour's light style")
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}
