package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opsdeck/opsdeck/ops/config"
)

// ThemeFlag is the --theme flag: auto, dark or light, or "" when not given
// (the configuration's theme key then decides).
type ThemeFlag string

// String implements pflag.Value.
func (t *ThemeFlag) String() string { return string(*t) }

// Set implements pflag.Value, refusing anything but the themes.
func (t *ThemeFlag) Set(s string) error {
	if !slices.Contains(config.Themes, s) {
		return fmt.Errorf("%q: give %s", s, strings.Join(config.Themes, ", "))
	}
	*t = ThemeFlag(s)
	return nil
}

// Type implements pflag.Value.
func (t *ThemeFlag) Type() string { return strings.Join(config.Themes, "|") }
