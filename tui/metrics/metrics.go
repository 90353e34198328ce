// Package metrics is the cockpit's Metrics tab: a grid of live panels
// (value now, min/max over the window, the threshold, a sparkline), laid out
// for the terminal's size, one panel enlarged into a line chart on enter,
// a 1m/5m/15m window, pause, and the alerts: Alertmanager's with their
// silences (create and expire, confirmed, audited, hidden read-only), or
// the threshold rules evaluated by opsdeck when no Alertmanager is set.
package metrics

import (
	"context"
	"slices"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/alerts"
	opmetrics "github.com/opsdeck/opsdeck/ops/metrics"
	"github.com/opsdeck/opsdeck/tui/common"
)

// mode is what the tab shows.
type mode int

const (
	modeGrid mode = iota
	modeEnlarged
	modeAlerts
)

// windows are the history windows the tab offers.
var windows = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}

// Tab is the Metrics tab.
type Tab struct {
	c   *common.Common
	src Sources

	snap      opmetrics.Snapshot
	panels    []opmetrics.SeriesView
	have      bool
	paused    bool
	gen       int
	win       int
	refreshed time.Time

	mode mode
	sel  int
	top  int // first grid row shown

	alertList []alerts.Alert
	silences  []alerts.Silence
	alertsErr error
	alertsAt  time.Time
	fetching  bool
	alertSel  int

	confirm *confirmation
	notice  string
	noticeE bool

	width, height int
	cache         renderCache
	sparks        map[sparkKey][]string
}

// New returns the Metrics tab reading from src.
func New(c *common.Common, src Sources) *Tab {
	if src.AlertsEvery <= 0 {
		src.AlertsEvery = 10 * time.Second
	}
	if src.Timeout <= 0 {
		src.Timeout = 5 * time.Second
	}
	t := &Tab{c: c, src: src, win: 1}
	if src.Engine != nil && src.Engine.Window() < windows[t.win] {
		t.win = 0
	}
	return t
}

// Title implements common.Tab.
func (t *Tab) Title() string { return "Metrics" }

// Init takes the first snapshot and reads the alerts.
func (t *Tab) Init() tea.Cmd {
	return tea.Batch(t.fetch(), t.fetchAlerts())
}

// LastRefresh implements common.Refreshed.
func (t *Tab) LastRefresh() time.Time { return t.refreshed }

// Capturing implements common.Tab: a confirmation takes every key.
func (t *Tab) Capturing() bool { return t.confirm != nil }

// SetSize implements common.Tab.
func (t *Tab) SetSize(w, h int) {
	t.width, t.height = w, h
	t.cache = renderCache{}
	t.keepVisible()
}

// interval is how often the tab takes a snapshot.
func (t *Tab) interval() time.Duration {
	if t.src.Engine == nil {
		return 2 * time.Second
	}
	return max(t.src.Engine.Interval(), 500*time.Millisecond)
}

// fetch copies the engine's series in a Cmd. The tab polls rather than
// waiting on the engine, so that any number of sessions can share it.
func (t *Tab) fetch() tea.Cmd {
	if t.src.Engine == nil {
		return nil
	}
	eng, gen := t.src.Engine, t.gen
	return func() tea.Msg { return snapshotMsg{snap: eng.Snapshot(0), gen: gen} }
}

func (t *Tab) tick() tea.Cmd {
	gen := t.gen
	return t.c.Tick(t.interval(), func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

func (t *Tab) fetchAlerts() tea.Cmd {
	am := t.src.Alertmanager
	if am == nil || t.fetching {
		return nil
	}
	t.fetching = true
	timeout := t.src.Timeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(t.c.Context, timeout)
		defer cancel()
		as, err := am.Alerts(ctx)
		if err != nil {
			return alertsMsg{err: err, at: time.Now()}
		}
		ss, err := am.Silences(ctx)
		return alertsMsg{alerts: as, silences: ss, err: err, at: time.Now()}
	}
}

// Update implements common.Tab.
func (t *Tab) Update(msg tea.Msg) (common.Tab, tea.Cmd) {
	switch msg := msg.(type) {
	case snapshotMsg:
		if msg.gen != t.gen {
			return t, nil // from before a pause
		}
		if !t.paused {
			t.apply(msg.snap)
		}
		return t, t.tick()
	case tickMsg:
		if msg.gen != t.gen || t.paused {
			return t, nil
		}
		return t, t.fetch()
	case alertsMsg:
		t.fetching = false
		t.alertsErr = msg.err
		if msg.err == nil {
			t.alertList, t.silences = msg.alerts, msg.silences
		}
		t.alertsAt = msg.at
		t.clampAlertSel()
		t.cache = renderCache{}
		every := t.src.AlertsEvery
		return t, t.c.Tick(every, func(time.Time) tea.Msg { return alertsTickMsg{} })
	case alertsTickMsg:
		return t, t.fetchAlerts()
	case common.ThemeMsg:
		// The screen and the sparklines were drawn in the old colours.
		t.cache, t.sparks = renderCache{}, nil
		return t, nil
	case silenceDoneMsg:
		if msg.err != nil {
			t.setNotice(msg.what+" failed: "+msg.err.Error(), true)
		} else {
			t.setNotice(msg.what, false)
		}
		return t, t.fetchAlerts()
	case tea.KeyPressMsg:
		return t, t.handleKey(msg)
	}
	return t, nil
}

// apply takes a new snapshot: panels in display order (system, then
// application, then business).
func (t *Tab) apply(s opmetrics.Snapshot) {
	selID := ""
	if t.sel < len(t.panels) {
		selID = t.panels[t.sel].ID
	}
	t.snap, t.have, t.refreshed = s, true, s.At
	t.panels = append(t.panels[:0], s.Series...)
	slices.SortStableFunc(t.panels, func(a, b opmetrics.SeriesView) int { return levelRank(a.Level) - levelRank(b.Level) })
	for i, p := range t.panels {
		if p.ID == selID {
			t.sel = i
		}
	}
	t.sel = min(t.sel, max(len(t.panels)-1, 0))
	if t.src.Alertmanager == nil {
		t.alertList = alerts.Evaluate(s)
		t.clampAlertSel()
	}
	t.cache = renderCache{}
	t.keepVisible()
}

func levelRank(l opmetrics.Level) int {
	switch l {
	case opmetrics.LevelSystem:
		return 0
	case opmetrics.LevelApplication:
		return 1
	}
	return 2
}

func (t *Tab) setNotice(s string, isErr bool) {
	t.notice, t.noticeE = s, isErr
	t.cache = renderCache{}
}

func (t *Tab) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k, km := t.c.Keys, t.c.Keys.Metrics
	if t.confirm != nil {
		return t.handleConfirmKey(msg)
	}
	if t.notice != "" && !key.Matches(msg, k.Up, k.Down, k.Enter) {
		t.setNotice("", false)
	}
	switch {
	case key.Matches(msg, km.Window):
		t.win = (t.win + 1) % t.windowCount()
		t.cache = renderCache{}
		return nil
	case key.Matches(msg, km.Pause):
		t.paused = !t.paused
		t.cache = renderCache{}
		if !t.paused {
			t.gen++
			return t.fetch()
		}
		return nil
	case key.Matches(msg, k.Refresh):
		if t.paused {
			return nil
		}
		t.gen++
		return tea.Batch(t.fetch(), t.fetchAlerts())
	}
	switch t.mode {
	case modeAlerts:
		return t.handleAlertsKey(msg)
	case modeEnlarged:
		switch {
		case key.Matches(msg, k.Back), key.Matches(msg, k.Enter):
			t.mode = modeGrid
		case key.Matches(msg, km.Alerts):
			t.mode = modeAlerts
		case key.Matches(msg, k.Right), key.Matches(msg, k.Down):
			t.move(1)
		case key.Matches(msg, k.Left), key.Matches(msg, k.Up):
			t.move(-1)
		}
		t.cache = renderCache{}
		return nil
	}
	cols := t.layout().cols
	switch {
	case key.Matches(msg, km.Alerts):
		t.mode = modeAlerts
	case key.Matches(msg, k.Enter):
		if len(t.panels) > 0 {
			t.mode = modeEnlarged
		}
	case key.Matches(msg, k.Left):
		t.move(-1)
	case key.Matches(msg, k.Right):
		t.move(1)
	case key.Matches(msg, k.Up):
		t.move(-cols)
	case key.Matches(msg, k.Down):
		t.move(cols)
	case key.Matches(msg, k.PageUp):
		t.move(-cols * max(t.layout().rows, 1))
	case key.Matches(msg, k.PageDown):
		t.move(cols * max(t.layout().rows, 1))
	case key.Matches(msg, k.Top):
		t.sel = 0
	case key.Matches(msg, k.Bottom):
		t.sel = max(len(t.panels)-1, 0)
	default:
		return nil
	}
	t.cache = renderCache{}
	t.keepVisible()
	return nil
}

// move shifts the selection by d panels, staying in range.
func (t *Tab) move(d int) {
	if len(t.panels) == 0 {
		return
	}
	t.sel = min(max(t.sel+d, 0), len(t.panels)-1)
	t.keepVisible()
}

// windowCount is how many windows the engine's history allows.
func (t *Tab) windowCount() int {
	if t.src.Engine == nil {
		return len(windows)
	}
	n := 0
	for _, w := range windows {
		if w <= t.src.Engine.Window() {
			n++
		}
	}
	return max(n, 1)
}

// window is the selected history window.
func (t *Tab) window() time.Duration {
	w := windows[min(t.win, len(windows)-1)]
	if t.src.Engine != nil && w > t.src.Engine.Window() {
		return t.src.Engine.Window()
	}
	return w
}

// canSilence says whether silence actions are offered.
func (t *Tab) canSilence() bool {
	return t.c.Can(access.SilenceCreate) && t.src.Silencer != nil && t.src.Alertmanager != nil
}

// ShortHelp implements common.Tab.
func (t *Tab) ShortHelp() []key.Binding {
	k, km := t.c.Keys, t.c.Keys.Metrics
	if t.confirm != nil {
		return t.confirmHelp()
	}
	switch t.mode {
	case modeAlerts:
		bs := []key.Binding{k.Up, k.Down}
		if t.canSilence() {
			bs = append(bs, km.Silence, km.Expire)
		}
		return append(bs, k.Back)
	case modeEnlarged:
		return []key.Binding{km.Window, km.Pause, k.Back}
	}
	return []key.Binding{km.Enlarge, km.Window, km.Pause, km.Alerts}
}

// FullHelp implements common.Tab.
func (t *Tab) FullHelp() [][]key.Binding {
	k, km := t.c.Keys, t.c.Keys.Metrics
	grid := []key.Binding{km.SelectPanel, km.EnlargePanel, km.Window, km.Pause, km.Alerts, k.Refresh}
	if t.canSilence() {
		return [][]key.Binding{grid, {km.Silence, km.Expire, km.Longer, km.Shorter}}
	}
	return [][]key.Binding{grid}
}
