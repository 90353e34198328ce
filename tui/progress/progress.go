// Package progress draws a long operation's progress in the cockpit: a bar
// with bytes (or items) done of the total, throughput and ETA, fed by the
// engine's progress events (ops/progress).
package progress

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsdeck/opsdeck/ops/progress"
	"github.com/opsdeck/opsdeck/tui/styles"
)

// Model is the progress of one operation.
type Model struct {
	styles *styles.Styles
	meter  *progress.Meter
	label  string
	detail string
	bytes  bool
	done   int64
	total  int64
	start  time.Time
	now    func() time.Time
}

// New starts a progress display for an operation labelled label.
func New(s *styles.Styles, label string, now func() time.Time) Model {
	if now == nil {
		now = time.Now
	}
	t := now()
	return Model{styles: s, label: label, meter: progress.NewMeter(t, 0), start: t, now: now}
}

// Apply takes one event into the display.
func (m *Model) Apply(e progress.Event) {
	now := m.now()
	switch e.Kind {
	case progress.Start:
		m.detail = e.Step
		m.done, m.total, m.bytes = 0, e.Total, e.Bytes
		m.meter = progress.NewMeter(now, e.Total)
	case progress.Advance:
		if e.Step != "" {
			m.detail = e.Step
		}
		m.bytes = e.Bytes
		if e.Total != m.total {
			m.total = e.Total
			m.meter.SetTotal(e.Total)
		}
		m.done = e.Done
		m.meter.Update(now, e.Done)
	case progress.Info:
		if e.Message != "" {
			m.detail = strings.TrimSpace(e.Step + " " + e.Message)
		}
	case progress.Finish:
		if m.total > 0 {
			m.done = m.total
		}
	}
}

// View renders one line of at most width cells.
func (m Model) View(width int) string {
	s := m.styles
	_, _, rate, eta := m.meter.Stats(m.now())
	num := func(n int64) string {
		if m.bytes {
			return progress.Bytes(n)
		}
		return fmt.Sprint(n)
	}
	stats := num(m.done)
	if m.total > 0 {
		stats += "/" + num(m.total)
	}
	if rate > 0 && m.bytes {
		stats += " · " + progress.Bytes(int64(rate)) + "/s"
	}
	if eta >= 0 && m.total > 0 && m.done < m.total {
		stats += " · ETA " + eta.Round(time.Second).String()
	}
	stats += " · " + m.now().Sub(m.start).Round(time.Second).String()
	barW := min(30, max(width/4, 10))
	filled := 0
	pct := ""
	if m.total > 0 {
		f := float64(m.done) / float64(m.total)
		f = min(max(f, 0), 1)
		filled = int(f * float64(barW))
		pct = fmt.Sprintf("%3.0f%% ", f*100)
	} else if barW > 0 {
		// Unknown total: a marker that moves with the bytes.
		filled = -1
	}
	var bar string
	if filled >= 0 {
		bar = s.OK.Render(strings.Repeat("█", filled)) + s.Muted.Render(strings.Repeat("░", barW-filled))
	} else {
		pos := int(m.done/(1<<20)) % barW
		bar = s.Muted.Render(strings.Repeat("░", pos)) + s.OK.Render("█") + s.Muted.Render(strings.Repeat("░", barW-pos-1))
	}
	line := s.Title.Render(m.label) + " " + bar + " " + pct + stats
	if m.detail != "" {
		line += "  " + s.Muted.Render(m.detail)
	}
	return ansi.Truncate(line, width, "…")
}
