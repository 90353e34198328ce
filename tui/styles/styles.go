// Package styles holds every colour and style the cockpit uses. Tabs take
// their looks from here and never name a colour themselves.
package styles

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Palette names the few colours the cockpit is drawn with.
type Palette struct {
	Accent, Muted, Text, Subtle, OK, Warn, Crit, Unknown, Border, SelectedBg color.Color
}

// DefaultPalette suits dark and light terminals alike.
func DefaultPalette() Palette {
	return Palette{
		Accent:     lipgloss.Color("#7D56F4"),
		Muted:      lipgloss.Color("#8A8A8A"),
		Text:       lipgloss.Color("#E4E4E4"),
		Subtle:     lipgloss.Color("#5F5F5F"),
		OK:         lipgloss.Color("#04B575"),
		Warn:       lipgloss.Color("#E5C07B"),
		Crit:       lipgloss.Color("#FF5F5F"),
		Unknown:    lipgloss.Color("#61AFEF"),
		Border:     lipgloss.Color("#444444"),
		SelectedBg: lipgloss.Color("#3A3A5A"),
	}
}

// Styles is the one set of styles shared by the root model and every tab.
type Styles struct {
	Palette Palette

	App lipgloss.Style

	TabActive   lipgloss.Style
	TabInactive lipgloss.Style
	TabGap      lipgloss.Style

	StatusBar      lipgloss.Style
	StatusKey      lipgloss.Style
	StatusValue    lipgloss.Style
	StatusReadOnly lipgloss.Style

	Title    lipgloss.Style
	Subtitle lipgloss.Style
	Muted    lipgloss.Style
	Error    lipgloss.Style
	Panel    lipgloss.Style
	// PanelTitle heads a panel inside its border.
	PanelTitle lipgloss.Style

	TableHeader   lipgloss.Style
	TableCell     lipgloss.Style
	TableSelected lipgloss.Style

	OK, Warn, Crit, Unknown lipgloss.Style

	FilterPrompt lipgloss.Style
	HelpKey      lipgloss.Style
	HelpDesc     lipgloss.Style
	HelpSection  lipgloss.Style
}

// Default returns the cockpit's styles.
func Default() Styles {
	p := DefaultPalette()
	s := Styles{Palette: p}
	s.App = lipgloss.NewStyle()
	s.TabActive = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(p.Accent).Padding(0, 1)
	s.TabInactive = lipgloss.NewStyle().Foreground(p.Muted).Padding(0, 1)
	s.TabGap = lipgloss.NewStyle().Foreground(p.Subtle)
	s.StatusBar = lipgloss.NewStyle().Foreground(p.Muted)
	s.StatusKey = lipgloss.NewStyle().Foreground(p.Muted)
	s.StatusValue = lipgloss.NewStyle().Foreground(p.Text)
	s.StatusReadOnly = lipgloss.NewStyle().Bold(true).Foreground(p.Warn)
	s.Title = lipgloss.NewStyle().Bold(true).Foreground(p.Text)
	s.Subtitle = lipgloss.NewStyle().Foreground(p.Muted)
	s.Muted = lipgloss.NewStyle().Foreground(p.Muted)
	s.Error = lipgloss.NewStyle().Foreground(p.Crit)
	s.Panel = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(p.Border).Padding(0, 1)
	s.PanelTitle = lipgloss.NewStyle().Bold(true).Foreground(p.Accent)
	s.TableHeader = lipgloss.NewStyle().Bold(true).Foreground(p.Muted)
	s.TableCell = lipgloss.NewStyle()
	s.TableSelected = lipgloss.NewStyle().Background(p.SelectedBg).Bold(true)
	s.OK = lipgloss.NewStyle().Foreground(p.OK)
	s.Warn = lipgloss.NewStyle().Foreground(p.Warn)
	s.Crit = lipgloss.NewStyle().Foreground(p.Crit).Bold(true)
	s.Unknown = lipgloss.NewStyle().Foreground(p.Unknown)
	s.FilterPrompt = lipgloss.NewStyle().Foreground(p.Accent).Bold(true)
	s.HelpKey = lipgloss.NewStyle().Foreground(p.Accent)
	s.HelpDesc = lipgloss.NewStyle().Foreground(p.Muted)
	s.HelpSection = lipgloss.NewStyle().Bold(true).Foreground(p.Text)
	return s
}

// Level is a health level as the styles see it; it mirrors ops/health.Status
// without importing it, so styles stay free of the engine.
type Level int

// Levels in the order of ops/health.Status.
const (
	LevelOK Level = iota
	LevelWarn
	LevelCrit
	LevelUnknown
)

// ForLevel returns the style for a health level.
func (s Styles) ForLevel(l Level) lipgloss.Style {
	switch l {
	case LevelWarn:
		return s.Warn
	case LevelCrit:
		return s.Crit
	case LevelUnknown:
		return s.Unknown
	}
	return s.OK
}
