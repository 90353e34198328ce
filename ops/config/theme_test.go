package config

import (
	"errors"
	"strings"
	"testing"
)

func TestThemeDefaultsToAuto(t *testing.T) {
	cleanEnv(t)
	cfg, err := Parse("opsdeck.yaml", []byte("read_only: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Theme != ThemeAuto {
		t.Errorf("Theme = %q, want %q", cfg.Theme, ThemeAuto)
	}
	for _, th := range Themes {
		cfg, err := Parse("opsdeck.yaml", []byte("theme: "+th+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil || cfg.Theme != th {
			t.Errorf("theme: %s gives %q, %v", th, cfg.Theme, err)
		}
	}
}

func TestThemeWrongValueNamesTheLine(t *testing.T) {
	cleanEnv(t)
	cfg, err := Parse("opsdeck.yaml", []byte("read_only: false\ntheme: solarized\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	want := `opsdeck.yaml:2:8: field theme: "solarized" is not a theme — use "auto" (ask the terminal), "dark" or "light"`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant %s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "theme" || fe.Line != 2 {
		t.Errorf("want a *FieldError for theme at line 2, got %#v", err)
	}
}

func TestThemeIsInTheExample(t *testing.T) {
	if !strings.Contains(ExampleYAML, "\ntheme: auto\n") {
		t.Error("the example does not document theme")
	}
}
