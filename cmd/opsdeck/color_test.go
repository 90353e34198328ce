package main_test

import (
	"strings"
	"testing"
)

// Statuses are coloured only when asked: never into a pipe by default,
// with --color always even there, never with --color never; NO_COLOR
// keeps auto plain. A wrong mode is a usage error (exit 3), as is any
// flag that does not parse.
func TestColorFlag(t *testing.T) {
	cfg := writeConfig(t, "redis:\n  url: redis://127.0.0.1:1/0\n")
	for _, c := range []struct {
		env    []string
		args   []string
		escape bool
	}{
		{nil, nil, false},
		{nil, []string{"--color", "always"}, true},
		{[]string{"NO_COLOR=1"}, []string{"--color", "always"}, true},
		{[]string{"NO_COLOR=1"}, nil, false},
		{nil, []string{"--color", "never"}, false},
	} {
		r := opsdeck(t, c.env, append(append([]string{"--config", cfg}, c.args...), "check", "--target", "redis")...)
		if !strings.Contains(r.stdout, "CRIT") {
			t.Fatalf("%v %v: no CRIT line (exit %d)\n%s%s", c.env, c.args, r.code, r.stdout, r.stderr)
		}
		if got := strings.Contains(r.stdout, "\x1b["); got != c.escape {
			t.Errorf("%v %v: escapes %v, want %v\n%q", c.env, c.args, got, c.escape, r.stdout)
		}
	}
	for _, args := range [][]string{{"--color", "blue", "version"}, {"version", "--bogus"}} {
		if r := opsdeck(t, nil, args...); r.code != 3 || !strings.Contains(r.stderr, "opsdeck:") {
			t.Errorf("%v: exit %d, stderr %q; want 3", args, r.code, r.stderr)
		}
	}
}

// kubectl's global flags win over the configuration's kubernetes
// section, for every command: config show prints what they make of it,
// and a check reaches for the kubeconfig named.
func TestKubectlFlags(t *testing.T) {
	cfg := writeConfig(t, "kubernetes:\n  context: staging\n  namespaces: [a, b]\n")
	r := opsdeck(t, nil, "--config", cfg, "--kubeconfig", "/nonexistent/kc", "--context", "prod", "-n", "stockapp", "config", "show")
	for _, want := range []string{"kubeconfig: /nonexistent/kc", "context: prod", "- stockapp"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config show lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "staging") || strings.Contains(r.stdout, "- a\n") {
		t.Errorf("the file's values stayed:\n%s", r.stdout)
	}
	r = opsdeck(t, nil, "--config", cfg, "--kubeconfig", "/nonexistent/kc", "check", "--target", "kubernetes")
	if !strings.Contains(r.stdout, "/nonexistent/kc") {
		t.Errorf("check: the kubeconfig flag is not the one used:\n%s%s", r.stdout, r.stderr)
	}
}

// --theme wins over the configuration's theme (config show prints the
// result); a theme that is not one is a usage error, and so is a wrong
// theme key in the file, named by its line.
func TestThemeFlag(t *testing.T) {
	cfg := writeConfig(t, "theme: light\n")
	if r := opsdeck(t, nil, "--config", cfg, "config", "show"); !strings.Contains(r.stdout, "theme: light") {
		t.Errorf("config show lacks the file's theme:\n%s", r.stdout)
	}
	if r := opsdeck(t, nil, "--config", cfg, "--theme", "dark", "config", "show"); !strings.Contains(r.stdout, "theme: dark") {
		t.Errorf("--theme dark does not win:\n%s", r.stdout)
	}
	if r := opsdeck(t, nil, "--theme", "solarized", "version"); r.code != 3 || !strings.Contains(r.stderr, `"solarized": give auto, dark, light`) {
		t.Errorf("--theme solarized: exit %d, stderr %q; want 3", r.code, r.stderr)
	}
	bad := writeConfig(t, "read_only: false\ntheme: sepia\n")
	if r := opsdeck(t, nil, "--config", bad, "config", "validate"); r.code != 3 || !strings.Contains(r.stderr, `:2:8: field theme: "sepia" is not a theme`) {
		t.Errorf("theme: sepia: exit %d, stderr %q; want 3 naming line 2", r.code, r.stderr)
	}
}
