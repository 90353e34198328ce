package config

import "fmt"

// Cockpit themes: the palette the TUI is drawn with.
const (
	// ThemeAuto asks the terminal for its background colour and picks the
	// dark or light palette by it; a terminal that does not answer gets
	// the dark one.
	ThemeAuto = "auto"
	// ThemeDark is the palette for a dark background.
	ThemeDark = "dark"
	// ThemeLight is the palette for a light background.
	ThemeLight = "light"
)

// Themes lists the values of the theme key, in the order help texts name them.
var Themes = []string{ThemeAuto, ThemeDark, ThemeLight}

// DefaultTheme is the theme when the file sets none.
const DefaultTheme = ThemeAuto

// validTheme reports whether s is one of Themes.
func validTheme(s string) bool {
	return s == ThemeAuto || s == ThemeDark || s == ThemeLight
}

// validateTheme checks the theme key.
func (c *Config) validateTheme(one func(path, reason, hint string, cause error)) {
	if !validTheme(c.Theme) {
		one("theme", fmt.Sprintf("%q is not a theme", c.Theme), `use "auto" (ask the terminal), "dark" or "light"`, nil)
	}
}
