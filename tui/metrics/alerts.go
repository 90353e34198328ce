package metrics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/health"
)

// The alerts view lists the alerts, then the silences; the selection runs
// through both.
func (t *Tab) alertItems() int { return len(t.alertList) + len(t.silences) }

func (t *Tab) clampAlertSel() {
	t.alertSel = max(0, min(t.alertSel, t.alertItems()-1))
}

func (t *Tab) handleAlertsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	switch {
	case key.Matches(msg, k.Back), key.Matches(msg, k.Metrics.Alerts):
		t.mode = modeGrid
	case key.Matches(msg, k.Up):
		t.alertSel = max(t.alertSel-1, 0)
	case key.Matches(msg, k.Down):
		t.alertSel = min(t.alertSel+1, max(t.alertItems()-1, 0))
	case key.Matches(msg, k.Metrics.Silence):
		t.askSilence()
	case key.Matches(msg, k.Metrics.Expire):
		t.askExpire()
	default:
		return nil
	}
	t.cache = renderCache{}
	return nil
}

// refusal explains why silences cannot be changed here, "" when they can.
func (t *Tab) refusal() string {
	switch {
	case t.c.ReadOnly:
		return "read-only: silences cannot be created or expired (unset read_only / --read-only)"
	case !t.c.Can(access.SilenceCreate):
		return fmt.Sprintf("%s may not change silences: that needs the %s role", t.c.Identity, access.Needs(access.SilenceCreate))
	case t.src.Alertmanager == nil:
		return "no Alertmanager configured: these alerts are opsdeck's own threshold rules; set alertmanager.url to silence alerts"
	case t.src.Silencer == nil:
		return "silences cannot be changed from this session"
	}
	return ""
}

func (t *Tab) askSilence() {
	if r := t.refusal(); r != "" {
		t.setNotice(r, true)
		return
	}
	if t.alertSel >= len(t.alertList) {
		t.setNotice("select an alert to silence (the silences are below the alerts)", true)
		return
	}
	a := t.alertList[t.alertSel]
	if a.State == alerts.StateSilenced {
		t.setNotice(a.Name+" is already silenced; expire its silence with x", true)
		return
	}
	t.confirm = t.newConfirmation(confirmation{kind: confirmSilence, alert: a, dur: 2 * time.Hour})
}

func (t *Tab) askExpire() {
	if r := t.refusal(); r != "" {
		t.setNotice(r, true)
		return
	}
	i := t.alertSel - len(t.alertList)
	if i < 0 || i >= len(t.silences) {
		t.setNotice("select a silence to expire (below the alerts)", true)
		return
	}
	t.confirm = t.newConfirmation(confirmation{kind: confirmExpire, silence: t.silences[i]})
}

// act runs the confirmed action in a Cmd; ops re-checks read-only and audits.
func (t *Tab) act(c confirmation) tea.Cmd {
	sil, timeout := t.src.Silencer, t.src.Timeout
	if sil == nil {
		return nil
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(t.c.Context, timeout)
		defer cancel()
		switch c.kind {
		case confirmSilence:
			id, err := sil.Silence(ctx, c.alert, c.dur, "silenced from the opsdeck cockpit")
			return silenceDoneMsg{what: fmt.Sprintf("silenced %s for %s (silence %s)", c.alert.Name, health.ShortDuration(c.dur), shortID(id)), err: err}
		default:
			err := sil.Expire(ctx, c.silence.ID)
			return silenceDoneMsg{what: "expired silence " + shortID(c.silence.ID) + " " + c.silence.MatcherString(), err: err}
		}
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func (t *Tab) alertsView(h int) string {
	s := t.c.Styles
	lines := []string{s.Subtitle.Render(t.alertsTitle())}
	if t.alertsErr != nil {
		lines = append(lines, s.Error.Render("  "+t.alertsErr.Error()))
	}
	if len(t.alertList) == 0 {
		lines = append(lines, s.Muted.Render("  nothing firing"))
	}
	for i, a := range t.alertList {
		lines = append(lines, t.alertLine(a, i == t.alertSel))
	}
	if t.src.Alertmanager != nil {
		lines = append(lines, "", s.Subtitle.Render(fmt.Sprintf("Silences (%d active or pending)", len(t.silences))))
		if len(t.silences) == 0 {
			lines = append(lines, s.Muted.Render("  none"))
		}
		for i, sl := range t.silences {
			lines = append(lines, t.silenceLine(sl, len(t.alertList)+i == t.alertSel))
		}
	}
	if r := t.refusal(); r == "" {
		lines = append(lines, "", s.Muted.Render("s silences the selected alert (all its labels) · x expires the selected silence · esc back"))
	} else if t.src.Alertmanager != nil {
		lines = append(lines, "", s.Muted.Render(r))
	}
	// Keep the selection on screen.
	if len(lines) > h {
		start := min(max(t.alertSel+2-h/2, 0), len(lines)-h)
		lines = lines[start : start+h]
	}
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], t.width, "…")
	}
	return strings.Join(lines, "\n")
}

func (t *Tab) silenceLine(sl alerts.Silence, selected bool) string {
	s := t.c.Styles
	mark := "  "
	if selected {
		mark = "▸ "
	}
	ends := "ends in " + since(t.snap.At, t.snap.At.Add(-sl.EndsAt.Sub(t.snap.At)))
	line := mark + fmt.Sprintf("%-8s %-8s %-16s ", shortID(sl.ID), sl.State, ends) + sl.MatcherString() +
		s.Muted.Render(fmt.Sprintf("  by %s: %s", sl.CreatedBy, sl.Comment))
	if selected {
		return s.TableSelected.Render(ansi.Truncate(line, t.width, "…"))
	}
	return line
}
