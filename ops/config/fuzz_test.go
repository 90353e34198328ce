package config

import (
	"bytes"
	"testing"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// FuzzParse: no configuration file panics, hangs or allocates more than
// fuzzcheck allows; one that loads validates without panicking, and
// renders to YAML that loads back to the same values; each of its
// environments merges. Its seeds and
// testdata/fuzz run with the other tests; scripts/fuzz.sh fuzzes it.
func FuzzParse(f *testing.F) {
	f.Add([]byte(ExampleYAML))
	f.Add([]byte(ExampleYAML[:len(ExampleYAML)/2]))
	for _, s := range []string{
		"",
		"# only a comment\n",
		"read_only: true\npostgres:\n  dsn: postgres://u:p@db:5432/app\nredis:\n  url: redis://:secret@r:6379/0\n",
		"timeouts:\n  check: 5s\nthresholds:\n  cpu_percent: {warn: 80, crit: 95}\n",
		"kubernetes:\n  namespaces: [app, ops]\n",
		"base: &b\n  check: 1s\ntimeouts:\n  <<: *b\n",
		"timeouts: !!map {check: 1s}\n",
		"a: 1\n---\nb: 2\n",
		"postgres: {dsn: 'x', dsn: 'y'}\n",
		"redis:\n  url: |\n    redis://x\n",
		"backup: {dir: /b}\nenvironments:\n  prod:\n    read_only: true\n    thresholds: {cpu_percent: {warn: 60}}\n  staging: {colour: green}\n",
		"environments:\n  - name: default\n  - name: prod\n    <<: {read_only: true}\n  - name: prod\n",
		"environments: [a, {name: B}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg *Config
		var err error
		fuzzcheck.Run(t, len(data), func() { cfg, err = Parse("fuzz.yaml", data) })
		if err != nil {
			return
		}
		_ = cfg.Validate()
		for _, name := range cfg.EnvNames() {
			if _, err := cfg.ForEnv(name); err != nil {
				t.Fatalf("environment %q of a loaded configuration: %v", name, err)
			}
		}
		out, err := cfg.YAML()
		if err != nil {
			t.Fatalf("a loaded configuration does not render: %v", err)
		}
		back, err := Parse("rendered.yaml", out)
		if err != nil {
			t.Fatalf("the rendered configuration does not load: %v\n%s", err, out)
		}
		again, err := back.YAML()
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("not the same values after a round trip (%v):\n%s\n---\n%s", err, out, again)
		}
	})
}
