package metrics

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/opsdeck/opsdeck/ops/alerts"
	"github.com/opsdeck/opsdeck/ops/health"
)

// The tab's own confirmation: the shared one (tui/confirm) did not exist
// when this was written. It defaults to No: enter on the default cancels.

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
	yes     bool // the focused answer; false (No) until moved
}

func (t *Tab) handleConfirmKey(msg tea.KeyPressMsg) tea.Cmd {
	k := t.c.Keys
	c := t.confirm
	t.cache = renderCache{}
	switch {
	case msg.String() == "y" || msg.String() == "Y":
		t.confirm = nil
		return t.act(*c)
	case msg.String() == "n" || msg.String() == "N" || key.Matches(msg, k.Back) || msg.String() == "q":
		t.confirm = nil
		t.setNotice("nothing changed", false)
	case key.Matches(msg, k.Left), key.Matches(msg, k.Right), msg.String() == "tab", msg.String() == "shift+tab":
		c.yes = !c.yes
	case key.Matches(msg, k.Enter):
		t.confirm = nil
		if c.yes {
			return t.act(*c)
		}
		t.setNotice("nothing changed", false)
	case c.kind == confirmSilence && key.Matches(msg, k.Longer):
		c.dur = stepDuration(c.dur, 1)
	case c.kind == confirmSilence && key.Matches(msg, k.Shorter):
		c.dur = stepDuration(c.dur, -1)
	}
	return nil
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
	k := t.c.Keys
	bs := []key.Binding{
		key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		key.NewBinding(key.WithKeys("n"), key.WithHelp("n/esc", "no")),
		key.NewBinding(key.WithKeys("left"), key.WithHelp("←→", "choose")),
	}
	if t.confirm != nil && t.confirm.kind == confirmSilence {
		bs = append(bs, k.Longer, k.Shorter)
	}
	return bs
}

func (t *Tab) confirmView() string {
	s := t.c.Styles
	c := t.confirm
	var lines []string
	switch c.kind {
	case confirmSilence:
		lines = append(lines,
			s.Title.Render("Silence "+c.alert.Name+" for "+health.ShortDuration(c.dur)+"?"),
			"",
			"Alertmanager will stop notifying for every alert matching:",
			s.Muted.Render(alerts.Silence{Matchers: alerts.MatchersFor(c.alert)}.MatcherString()),
			"",
			s.Muted.Render("+/- change the duration · the action is recorded in the audit log"),
		)
	default:
		lines = append(lines,
			s.Title.Render("Expire silence "+shortID(c.silence.ID)+"?"),
			"",
			"Alerts matching it notify again at once:",
			s.Muted.Render(c.silence.MatcherString()),
			s.Muted.Render("created by "+c.silence.CreatedBy+": "+c.silence.Comment),
			"",
			s.Muted.Render("the action is recorded in the audit log"),
		)
	}
	no, yes := " No ", " Yes "
	if c.yes {
		yes = s.TabActive.Render(yes)
		no = s.TabInactive.Render(no)
	} else {
		no = s.TabActive.Render(no)
		yes = s.TabInactive.Render(yes)
	}
	lines = append(lines, "", no+"  "+yes)
	box := s.Panel.Width(min(max(t.width-4, 20), 90)).Render(strings.Join(lines, "\n"))
	return lipgloss.Place(t.width, t.bodyHeight(), lipgloss.Center, lipgloss.Center, box)
}
