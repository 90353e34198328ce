package cli

import (
	"fmt"
	"os"

	"github.com/charmbracelet/colorprofile"
)

// ColorMode is the --color flag: auto (a terminal that takes colour, and
// no NO_COLOR in the environment), always or never.
type ColorMode string

// The colour modes.
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// String implements pflag.Value.
func (m *ColorMode) String() string {
	if *m == "" {
		return string(ColorAuto)
	}
	return string(*m)
}

// Set implements pflag.Value, refusing anything but the three modes.
func (m *ColorMode) Set(s string) error {
	switch ColorMode(s) {
	case ColorAuto, ColorAlways, ColorNever:
		*m = ColorMode(s)
		return nil
	}
	return fmt.Errorf("%q: give auto, always or never", s)
}

// Type implements pflag.Value.
func (m *ColorMode) Type() string { return "auto|always|never" }

// Colour reports whether what goes to f is coloured: --color always or
// never decide; auto colours a terminal whose profile has colours —
// NO_COLOR, TERM=dumb and a pipe give none (colorprofile's reading of
// the environment, the cockpit's too).
func (g *Globals) Colour(f *os.File) bool {
	switch g.Color {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if !g.IsTerminal(f) {
		return false
	}
	return colorprofile.Detect(f, os.Environ()) > colorprofile.Ascii
}
