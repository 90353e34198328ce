package styles

import (
	"image/color"
	"math"
	"testing"

	"charm.land/lipgloss/v2"
)

// luminance is the WCAG relative luminance of c.
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		x := float64(v) / 0xffff
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// contrast is the WCAG contrast ratio of a and b.
func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// Every colour that draws text reads on its background: 4.5:1 (WCAG AA)
// for the light palette on white, and the dark palette keeps its text
// readable on black; separators and borders are not text.
func TestPalettesReadOnTheirBackground(t *testing.T) {
	for _, tc := range []struct {
		theme Theme
		bg    color.Color
		min   float64
	}{
		{Light, color.White, 4.5},
		{Dark, color.Black, 4.5},
	} {
		p := PaletteFor(tc.theme)
		for name, c := range map[string]color.Color{
			"Accent": p.Accent, "Muted": p.Muted, "Text": p.Text, "OK": p.OK,
			"Warn": p.Warn, "Crit": p.Crit, "Unknown": p.Unknown,
		} {
			if r := contrast(c, tc.bg); r < tc.min {
				t.Errorf("%v: %s has contrast %.2f on its background, want at least %.1f", tc.theme, name, r, tc.min)
			}
		}
		if r := contrast(p.OnAccent, p.Accent); r < 4.5 {
			t.Errorf("%v: the active tab's text has contrast %.2f on the accent", tc.theme, r)
		}
		if r := contrast(p.Text, p.SelectedBg); r < 4.5 {
			t.Errorf("%v: text on a selected row has contrast %.2f", tc.theme, r)
		}
	}
}

// OK, WARN, CRIT and UNKNOWN are told apart by colour in both palettes.
func TestStatusColoursAreDistinct(t *testing.T) {
	for _, th := range []Theme{Dark, Light} {
		p := PaletteFor(th)
		cs := []color.Color{p.OK, p.Warn, p.Crit, p.Unknown}
		for i := range cs {
			for j := i + 1; j < len(cs); j++ {
				if distance(cs[i], cs[j]) < 0.25 {
					t.Errorf("%v: status colours %d and %d are too close: %v %v", th, i, j, cs[i], cs[j])
				}
			}
		}
	}
}

// distance is the Euclidean distance of two colours in RGB, 0 to √3.
func distance(a, b color.Color) float64 {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(x, y uint32) float64 { return (float64(x) - float64(y)) / 0xffff }
	return math.Sqrt(d(ar, br)*d(ar, br) + d(ag, bg)*d(ag, bg) + d(ab, bb)*d(ab, bb))
}

func TestForPicksTheTheme(t *testing.T) {
	if s := Default(); s.Theme != Dark || s.Markdown != "dark" {
		t.Errorf("Default() = %v/%q, want dark", s.Theme, s.Markdown)
	}
	if s := For(Light); s.Theme != Light || s.Markdown != "light" || s.Palette != LightPalette() {
		t.Errorf("For(Light) = %v/%q", s.Theme, s.Markdown)
	}
}

// Inputs name no colour, so they read on either background.
func TestInputNamesNoColour(t *testing.T) {
	st := Input()
	for _, s := range []struct {
		name string
		fg   color.Color
	}{
		{"prompt", st.Focused.Prompt.GetForeground()},
		{"text", st.Focused.Text.GetForeground()},
		{"placeholder", st.Focused.Placeholder.GetForeground()},
		{"blurred text", st.Blurred.Text.GetForeground()},
		{"cursor", st.Cursor.Color},
	} {
		if _, none := s.fg.(lipgloss.NoColor); s.fg != nil && !none {
			t.Errorf("input %s has colour %v", s.name, s.fg)
		}
	}
}
