// Package styles holds every colour and style the cockpit uses. Tabs take
// their looks from here and never name a colour themselves. There are two
// palettes, one for a dark terminal background and one for a light one;
// the session picks one (Theme) and every tab draws with it.
package styles

import (
	"image/color"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Theme names a palette: the background it is drawn for.
type Theme int

// The themes.
const (
	// Dark is for a dark terminal background, and the theme of a terminal
	// that does not say what its background is.
	Dark Theme = iota
	// Light is for a light (white or pale) terminal background.
	Light
)

// String returns the theme's name as the configuration spells it.
func (t Theme) String() string {
	if t == Light {
		return "light"
	}
	return "dark"
}

// Palette names the few colours the cockpit is drawn with.
type Palette struct {
	Accent, Muted, Text, Subtle, OK, Warn, Crit, Unknown, Border, SelectedBg color.Color
	// OnAccent is text drawn on the Accent background (the active tab).
	OnAccent color.Color
}

// DarkPalette is for a dark background: light text, bright status colours.
func DarkPalette() Palette {
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
		OnAccent:   lipgloss.Color("#FFFFFF"),
	}
}

// LightPalette is for a light background. Every colour that draws text
// keeps a contrast of at least 4.5:1 on white (WCAG AA): dark text, no
// light grey, and a dark amber for warnings where yellow would vanish.
// OK, WARN and CRIT stay apart by hue (green, amber, red) as on dark.
func LightPalette() Palette {
	return Palette{
		Accent:     lipgloss.Color("#5B3CC4"), // violet, 7.3:1
		Muted:      lipgloss.Color("#5F5F5F"), // 6.4:1
		Text:       lipgloss.Color("#1C1C1C"),
		Subtle:     lipgloss.Color("#767676"), // 4.5:1, separators only
		OK:         lipgloss.Color("#00703C"), // green, 6.2:1
		Warn:       lipgloss.Color("#9A5700"), // amber, 5.6:1
		Crit:       lipgloss.Color("#C0101A"), // red, 6.3:1
		Unknown:    lipgloss.Color("#0B5CAD"), // blue, 6.7:1
		Border:     lipgloss.Color("#A8A8A8"),
		SelectedBg: lipgloss.Color("#DDD6F8"),
		OnAccent:   lipgloss.Color("#FFFFFF"),
	}
}

// PaletteFor returns the palette of a theme.
func PaletteFor(t Theme) Palette {
	if t == Light {
		return LightPalette()
	}
	return DarkPalette()
}

// Styles is the one set of styles shared by the root model and every tab.
type Styles struct {
	// Theme is the background the styles are for.
	Theme   Theme
	Palette Palette
	// Markdown is the glamour standard style the runbooks are rendered
	// with: "dark" or "light".
	Markdown string

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
	// PanelBorder and PanelBorderSelected draw borders a view draws line
	// by line (the Metrics tab's panels): plain and selected.
	PanelBorder, PanelBorderSelected lipgloss.Style

	TableHeader   lipgloss.Style
	TableCell     lipgloss.Style
	TableSelected lipgloss.Style

	OK, Warn, Crit, Unknown lipgloss.Style

	// Banner is the open incident's line under the tab bar; BannerOverdue
	// once its response time has passed. Reversed, so the text takes the
	// terminal's background colour and reads on either theme.
	Banner, BannerOverdue lipgloss.Style
	// Match and MatchCurrent mark a search's matches (the log view): every
	// match, and those of the line the search stands on.
	Match, MatchCurrent lipgloss.Style

	FilterPrompt lipgloss.Style
	HelpKey      lipgloss.Style
	HelpDesc     lipgloss.Style
	HelpSection  lipgloss.Style
}

// Default returns the cockpit's styles for a dark background.
func Default() Styles { return For(Dark) }

// For returns the cockpit's styles for theme t.
func For(t Theme) Styles {
	p := PaletteFor(t)
	s := Styles{Theme: t, Palette: p, Markdown: t.String()}
	s.App = lipgloss.NewStyle()
	s.TabActive = lipgloss.NewStyle().Bold(true).Foreground(p.OnAccent).Background(p.Accent).Padding(0, 1)
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
	s.PanelBorder = lipgloss.NewStyle().Foreground(p.Border)
	s.PanelBorderSelected = lipgloss.NewStyle().Foreground(p.Accent).Bold(true)
	s.TableHeader = lipgloss.NewStyle().Bold(true).Foreground(p.Muted)
	s.TableCell = lipgloss.NewStyle()
	s.TableSelected = lipgloss.NewStyle().Background(p.SelectedBg).Bold(true)
	s.OK = lipgloss.NewStyle().Foreground(p.OK)
	s.Warn = lipgloss.NewStyle().Foreground(p.Warn)
	s.Crit = lipgloss.NewStyle().Foreground(p.Crit).Bold(true)
	s.Unknown = lipgloss.NewStyle().Foreground(p.Unknown)
	s.Banner = lipgloss.NewStyle().Bold(true).Reverse(true).Foreground(p.Warn)
	s.BannerOverdue = lipgloss.NewStyle().Bold(true).Reverse(true).Foreground(p.Crit)
	s.Match = lipgloss.NewStyle().Foreground(p.OnAccent).Background(p.Warn)
	s.MatchCurrent = lipgloss.NewStyle().Foreground(p.OnAccent).Background(p.Accent).Bold(true)
	s.FilterPrompt = lipgloss.NewStyle().Foreground(p.Accent).Bold(true)
	s.HelpKey = lipgloss.NewStyle().Foreground(p.Accent)
	s.HelpDesc = lipgloss.NewStyle().Foreground(p.Muted)
	s.HelpSection = lipgloss.NewStyle().Bold(true).Foreground(p.Text)
	return s
}

// Input returns the styles of every text input (filters, searches,
// typed confirmations). They name no colour: the prompt and the text are
// in the terminal's own foreground, the placeholder faint and the cursor
// reversed, so an input reads on either background and needs nothing
// when the theme changes (bubbles' defaults draw the prompt in ANSI
// white, invisible on a light terminal).
func Input() textinput.Styles {
	state := textinput.StyleState{
		Placeholder: lipgloss.NewStyle().Faint(true),
		Suggestion:  lipgloss.NewStyle().Faint(true),
		Prompt:      lipgloss.NewStyle(),
		Text:        lipgloss.NewStyle(),
	}
	return textinput.Styles{
		Focused: state,
		Blurred: state,
		Cursor:  textinput.CursorStyle{Shape: tea.CursorBlock, Blink: true},
	}
}

// NewInput returns a text input drawn with Input's styles.
func NewInput() textinput.Model {
	in := textinput.New()
	in.SetStyles(Input())
	return in
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
