package metrics

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/tui/confirm"
)

// A silence is created or expired only after the cockpit's confirmation
// (tui/confirm), which defaults to No.

type confirmKind int

const (
	confirmSilence confirmKind = iota
	confirmExpire
)

// silenceDurations are the choices +/- step through.
var silenceDurations = []time.Duration{15 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 24 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour}

type confirmation struct {
	kind    confirmKind
	alert   alerts.Alert
	silence alerts.Silence
	dur     time.Duration
	prompt  confirm.Model
}

// newConfirmation builds the prompt for c.
func (t *Tab) newConfirmation(c confirmation) *confirmation {
	s := t.c.Styles
	var title string
	var body []string
	switch c.kind {
	case confirmSilence:
		title = "Silence " + c.alert.Name + " for " + health.ShortDuration(c.dur) + "?"
		body = []string{
			"Alertmanager stops notifying for every alert matching",
			alerts.Silence{Matchers: alerts.MatchersFor(c.alert)}.MatcherString(),
			"",
			s.Muted.Render("+/- change the duration · recorded in the audit log"),
		}
	default:
		title = "Expire silence " + shortID(c.silence.ID) + "?"
		body = []string{
			"Alerts matching it notify again at once:",
			c.silence.MatcherString(),
			s.Muted.Render("created by " + c.silence.CreatedBy + ": " + c.silence.Comment),
			"",
			s.Muted.Render("recorded in the audit log"),
		}
	}
	c.prompt = confirm.New(&t.c.Styles, title, strings.Join(body, "\n"))
	c.prompt.SetWidth(min(max(t.width-4, 24), 96))
	return &c
}

func (t *Tab) handleConfirmKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys.Metrics
	c := t.confirm
	t.cache = renderCache{}
	if c.kind == confirmSilence && (key.Matches(msg, k.Longer) || key.Matches(msg, k.Shorter)) {
		step := 1
		if key.Matches(msg, k.Shorter) {
			step = -1
		}
		c.dur = stepDuration(c.dur, step)
		t.confirm = t.newConfirmation(*c) // a new question: back to No
		return nil
	}
	var dec confirm.Decision
	var cmd tea.Cmd
	c.prompt, dec, cmd = c.prompt.Update(msg)
	switch dec {
	case confirm.Confirmed:
		t.confirm = nil
		return t.act(*c)
	case confirm.Cancelled:
		t.confirm = nil
		t.setNotice("nothing changed", false)
	}
	return cmd
}

func stepDuration(d time.Duration, step int) time.Duration {
	i := 0
	for j, x := range silenceDurations {
		if x <= d {
			i = j
		}
	}
	return silenceDurations[max(0, min(i+step, len(silenceDurations)-1))]
}

func (t *Tab) confirmHelp() []key.Binding {
	if t.confirm == nil {
		return nil
	}
	bs := t.confirm.prompt.ShortHelp()
	if t.confirm.kind == confirmSilence {
		bs = append(bs, t.c.Keys.Metrics.Longer, t.c.Keys.Metrics.Shorter)
	}
	return bs
}

func (t *Tab) confirmView() string {
	return lipgloss.Place(t.width, t.bodyHeight(), lipgloss.Center, lipgloss.Center, t.confirm.prompt.View())
}
