package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/cli from the commands (make docs)")

// cliDocsDir is the CLI reference, one Markdown page per command.
const cliDocsDir = "../../docs/cli"

// genCLIDocs writes the reference of every command into dir.
func genCLIDocs(t *testing.T, dir string) {
	t.Helper()
	root := rootCommand()
	root.InitDefaultCompletionCmd()
	var noDate func(*cobra.Command)
	noDate = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		for _, s := range c.Commands() {
			noDate(s)
		}
	}
	noDate(root)
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		t.Fatalf("generate the CLI reference: %v", err)
	}
}

// TestCLIReference keeps docs/cli equal to what the commands say about
// themselves. After changing a command, run `make docs`.
func TestCLIReference(t *testing.T) {
	fresh := t.TempDir()
	genCLIDocs(t, fresh)
	if *updateDocs {
		if err := os.RemoveAll(cliDocsDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(cliDocsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		genCLIDocs(t, cliDocsDir)
		return
	}
	want := pages(t, fresh)
	got := pages(t, cliDocsDir)
	var names []string
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) < 10 {
		t.Errorf("only %d pages generated", len(names))
	}
	for _, n := range names {
		if got[n] != want[n] {
			t.Errorf("docs/cli/%s is out of date: run `make docs`", n)
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("docs/cli/%s documents a command that no longer exists: run `make docs`", n)
		}
	}
}

func pages(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}
