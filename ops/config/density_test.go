package config

import (
	"strings"
	"testing"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// Files dense with YAML tokens: go-yaml allocated 200 to 7,000 times
// their size (and for the last, a duplicate key in a 150 KB flow mapping,
// 9.5 GB: its error's text prints the line around the key). They are
// refused before parsing, or fail cheaply, and the documented example
// still loads.
func TestDenseFilesAreRefused(t *testing.T) {
	for name, in := range map[string]string{
		"flow list":      "kubernetes:\n  namespaces: [" + strings.Repeat("a,", 50000) + "a]\n",
		"block list":     "kubernetes:\n  namespaces:\n" + strings.Repeat("- a\n", 30000),
		"comments":       strings.Repeat("#\n", 100000),
		"nesting":        "x: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
		"aliases":        strings.Repeat("*a\n", 30000),
		"duplicate keys": "x: {" + strings.Repeat("a: 1,", 30000) + "b: 1}\n",
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			fuzzcheck.Run(t, len(in), func() { _, err = Parse("c.yaml", []byte(in)) })
			if err == nil {
				t.Fatal("loaded")
			}
		})
	}
	var err error
	fuzzcheck.Run(t, len(ExampleYAML), func() { _, err = Parse("example.yaml", []byte(ExampleYAML)) })
	if err != nil {
		t.Fatal(err)
	}
	// A long list, one item per line, loads.
	long := "kubernetes:\n  namespaces:\n" + strings.Repeat("  - namespace-of-a-team\n", 1000)
	if cfg, err := Parse("c.yaml", []byte(long)); err != nil || len(cfg.Kubernetes.Namespaces) != 1000 {
		t.Fatal(err)
	}
	if _, err := Parse("c.yaml", []byte("x: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n")); err == nil || !strings.Contains(err.Error(), "more memory to load") {
		t.Fatalf("err = %v", err)
	}
}
