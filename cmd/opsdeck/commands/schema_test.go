package commands

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
)

var update = flag.Bool("update", false, "add new fields to the schema golden files under testdata/schemas")

// outputCommands are the commands under root with -o, by path without
// "opsdeck ".
func outputCommands(root *cobra.Command) map[string]*cobra.Command {
	cmds := map[string]*cobra.Command{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.LocalNonPersistentFlags().Lookup("output") != nil {
			cmds[strings.TrimPrefix(c.CommandPath(), "opsdeck ")] = c
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return cmds
}

// TestEveryOutputHasASchema: every command with -o prints at least one
// registered document, completes -o with text, json and yaml, and every
// document belongs to such a command.
func TestEveryOutputHasASchema(t *testing.T) {
	cmds := outputCommands(Root())
	if len(cmds) < 10 {
		t.Fatalf("only %d commands with -o: %v", len(cmds), cmds)
	}
	printed := map[string]bool{}
	for _, s := range cli.Schemas() {
		if _, ok := cmds[s.Command]; !ok {
			t.Errorf("%s is printed by %q, which has no -o", s.ID, s.Command)
		}
		printed[s.Command] = true
	}
	for path, c := range cmds {
		if !printed[path] {
			t.Errorf("opsdeck %s has -o but no schema: declare its document with cli.NewSchema", path)
		}
		complete, ok := c.GetFlagCompletionFunc("output")
		if !ok {
			t.Errorf("opsdeck %s: -o has no completion", path)
			continue
		}
		if got, _ := complete(c, nil, ""); !slices.Equal(got, cli.Formats) {
			t.Errorf("opsdeck %s: -o completes %v, want %v", path, got, cli.Formats)
		}
	}
}

// goldenPath is where the fields of the schema id are kept.
func goldenPath(id string) string {
	return filepath.Join("testdata", "schemas", strings.ReplaceAll(id, "/", ".")+".golden")
}

// readGolden reads a golden file's fields: path → type, and the paths in
// order.
func readGolden(t *testing.T, path string) (map[string]string, []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil
	}
	fields := map[string]string{}
	var order []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, typ, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: %q is not path<TAB>type", path, line)
		}
		fields[p] = typ
		order = append(order, p)
	}
	return fields, order
}

// TestSchemaFields compares every document's fields (key paths and JSON
// types, from the Go types) with its golden file: a field renamed,
// removed or retyped breaks the scripts that read it, so it needs a new
// version of the schema; a field added only updates the golden (-update).
func TestSchemaFields(t *testing.T) {
	known := map[string]bool{}
	for _, s := range cli.Schemas() {
		path := goldenPath(s.ID)
		known[filepath.Base(path)] = true
		old, _ := readGolden(t, path)
		if old == nil && !*update {
			t.Errorf("%s: no golden file %s: run go test ./cmd/opsdeck/commands -run TestSchemaFields -update", s.ID, path)
			continue
		}
		fields, err := s.Fields()
		if err != nil {
			t.Errorf("%s: %v", s.ID, err)
			continue
		}
		now := map[string]string{}
		var added []string
		for _, f := range fields {
			now[f.Path] = f.Type
			if _, ok := old[f.Path]; !ok {
				added = append(added, f.String())
			}
		}
		broken := false
		for p, typ := range old {
			switch got, ok := now[p]; {
			case !ok:
				t.Errorf("%s: the field %s (%s) is gone — bump the schema to /v2 or restore the field", s.ID, p, typ)
				broken = true
			case got != typ:
				t.Errorf("%s: the field %s changed type from %s to %s — bump the schema to /v2 or restore the field", s.ID, p, typ, got)
				broken = true
			}
		}
		switch {
		case broken || len(added) == 0:
		case *update:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			text, err := s.GoldenText()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("%s: new field(s), which need no new version — record them with go test ./cmd/opsdeck/commands -run TestSchemaFields -update (and describe them in docs/json.md):\n\t%s",
				s.ID, strings.Join(added, "\n\t"))
		}
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", "schemas", "*.golden"))
	for _, g := range goldens {
		if !known[filepath.Base(g)] {
			t.Errorf("%s belongs to no schema: a schema no command prints any more breaks its readers; delete the file once a /v2 replaces it", g)
		}
	}
}

// TestSchemaDocs: docs/json.md has a section per schema that names each
// of its top-level fields.
func TestSchemaDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	for _, sec := range strings.Split(string(b), "\n### ")[1:] {
		head, body, _ := strings.Cut(sec, "\n")
		id := strings.Trim(strings.TrimSpace(head), "`")
		sections[id] = body
	}
	for _, s := range cli.Schemas() {
		body, ok := sections[s.ID]
		if !ok {
			t.Errorf("docs/json.md has no section ### `%s`", s.ID)
			continue
		}
		if !strings.Contains(body, "opsdeck "+s.Command) {
			t.Errorf("docs/json.md, %s: does not name the command, opsdeck %s", s.ID, s.Command)
		}
		fields, err := s.Fields()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			if strings.ContainsAny(f.Path, ".[") {
				continue
			}
			if !strings.Contains(body, fmt.Sprintf("`%s`", f.Path)) {
				t.Errorf("docs/json.md, %s: the top-level field `%s` (%s) is not described", s.ID, f.Path, f.Type)
			}
		}
	}
}
