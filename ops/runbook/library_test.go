package runbook_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
)

func builtin(t *testing.T) *runbook.Library {
	t.Helper()
	lib, err := runbook.Load(runbooks.FS, "", runbooks.Order)
	if err != nil {
		t.Fatalf("load the built-in runbooks: %v", err)
	}
	return lib
}

func TestBuiltInRunbooks(t *testing.T) {
	lib := builtin(t)
	var names []string
	for _, b := range lib.Books() {
		names = append(names, b.Name)
		if b.Title == b.Name || b.Summary == "" {
			t.Errorf("%s: want a level-1 title and a first paragraph, got title %q summary %q", b.Name, b.Title, b.Summary)
		}
		if b.Origin != runbook.BuiltIn {
			t.Errorf("%s: origin %q", b.Name, b.Origin)
		}
	}
	if !reflect.DeepEqual(names, runbooks.Order) {
		t.Errorf("books = %v, want every runbook of runbooks.Order in that order: %v", names, runbooks.Order)
	}
}

func TestEveryLinkResolves(t *testing.T) {
	lib := builtin(t)
	for _, err := range lib.BrokenLinks() {
		t.Error(err)
	}
	internal := 0
	for _, b := range lib.Books() {
		for _, l := range b.Links {
			if !l.External() {
				internal++
			}
		}
	}
	if internal < 50 {
		t.Errorf("only %d links between runbooks: the manual should cross-reference", internal)
	}
}

// healthRunbooks collects every runbook section ops/health names: string
// literals given to a Runbook field (composite literals and assignments)
// and to any parameter called runbook.
func healthRunbooks(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	// The morning check's and check deploy's lines.
	files, err := filepath.Glob("../health/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("find ops/health sources: %v", err)
	}
	more, err := filepath.Glob("../rollout/*.go")
	if err != nil || len(more) == 0 {
		t.Fatalf("find ops/rollout sources: %v", err)
	}
	files = append(files, more...)
	var parsed []*ast.File
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
	}
	// Functions with a parameter named runbook, and its position.
	param := map[string]int{}
	for _, af := range parsed {
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			i := 0
			for _, field := range fd.Type.Params.List {
				for _, n := range field.Names {
					if n.Name == "runbook" {
						param[fd.Name.Name] = i
					}
					i++
				}
			}
		}
	}
	seen := map[string]bool{}
	lit := func(e ast.Expr) {
		if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			if s, err := strconv.Unquote(bl.Value); err == nil {
				seen[s] = true
			}
		}
	}
	for _, af := range parsed {
		ast.Inspect(af, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Runbook" {
					lit(n.Value)
				}
			case *ast.AssignStmt:
				for i, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Runbook" && i < len(n.Rhs) {
						lit(n.Rhs[i])
					}
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok {
					if i, ok := param[id.Name]; ok && i < len(n.Args) {
						lit(n.Args[i])
					}
				}
			}
			return true
		})
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func TestEveryCheckHasItsSection(t *testing.T) {
	lib := builtin(t)
	used := healthRunbooks(t)
	for _, want := range []string{
		"postgres-down", "postgres-connections", "postgres-cache-hit", "postgres-long-transactions", "postgres-replication",
		"redis-down", "redis-memory", "redis-hit-rate", "redis-clients",
		"kubernetes-access", "node-not-ready", "pod-problems", "pod-crashloop", "pod-pending", "warning-events",
		"validating-a-deploy", "failed-deploy", "database-migrations",
	} {
		if !slices.Contains(used, want) {
			t.Errorf("the scan of ops/health and ops/rollout did not find %q: is the scan still seeing every Runbook value?", want)
		}
	}
	for _, section := range used {
		ref, err := lib.Resolve(section)
		if err != nil {
			t.Errorf("ops/health or ops/rollout names runbook section %q: %v", section, err)
			continue
		}
		b, _ := lib.Book(ref.Book)
		md, _ := b.SectionMarkdown(ref.Anchor)
		if strings.Count(md, "\n") < 8 {
			t.Errorf("section %s is only %d lines: say what to look at and what to do", ref, strings.Count(md, "\n"))
		}
	}
}

func TestMonitoringNamesEveryThreshold(t *testing.T) {
	lib := builtin(t)
	b, ok := lib.Book("monitoring")
	if !ok {
		t.Fatal("no monitoring runbook")
	}
	for _, name := range config.ThresholdNames() {
		if !strings.Contains(b.Markdown, "`"+name+"`") {
			t.Errorf("monitoring.md does not describe threshold %s", name)
		}
	}
}

func TestIncidentResponse(t *testing.T) {
	lib := builtin(t)
	b, _ := lib.Book("incident-response")
	for _, want := range []string{"15 minutes", "1 hour", "4 hours", "24 hours", "P0", "P1", "P2", "P3", "Incident commander", "Communications lead"} {
		if !strings.Contains(b.Markdown, want) {
			t.Errorf("incident-response.md lacks %q", want)
		}
	}
	for _, anchor := range []string{"database-down", "redis-down", "high-error-rate", "disk-full", "failed-deploy", "lost-node", "severity-levels"} {
		if _, ok := b.Section(anchor); !ok {
			t.Errorf("incident-response.md has no section #%s", anchor)
		}
	}
}

func TestCommandsInRunbooksParse(t *testing.T) {
	lib := builtin(t)
	n := 0
	for _, b := range lib.Books() {
		for _, c := range b.Commands {
			n++
			cmd, err := runbook.ParseCommand(c.Text)
			if err != nil {
				t.Errorf("%s.md:%d: %v", b.Name, c.Line+1, err)
				continue
			}
			if cmd.Interactive() {
				t.Errorf("%s.md:%d: %q cannot run from the viewer: put it in a sh block", b.Name, c.Line+1, c.Text)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d runnable opsdeck commands in the runbooks", n)
	}
}

func TestResolve(t *testing.T) {
	lib := builtin(t)
	tests := []struct {
		ref     string
		want    runbook.Ref
		wantErr string
	}{
		{"pod-crashloop", runbook.Ref{Book: "troubleshooting", Anchor: "pod-crashloop"}, ""},
		{"troubleshooting", runbook.Ref{Book: "troubleshooting"}, ""},
		{"troubleshooting#redis-memory", runbook.Ref{Book: "troubleshooting", Anchor: "redis-memory"}, ""},
		{"troubleshooting.md#redis-memory", runbook.Ref{Book: "troubleshooting", Anchor: "redis-memory"}, ""},
		{"./monitoring.md#highcpuusage", runbook.Ref{Book: "monitoring", Anchor: "highcpuusage"}, ""},
		{config.DefaultRunbookURL + "/monitoring.md#backupstale", runbook.Ref{Book: "monitoring", Anchor: "backupstale"}, ""},
		{"  redis-down ", runbook.Ref{Book: "troubleshooting", Anchor: "redis-down"}, ""},
		{"", runbook.Ref{}, "empty"},
		{"no-such-section", runbook.Ref{}, `no runbook section "no-such-section"`},
		{"nobook.md#x", runbook.Ref{}, `no runbook "nobook"`},
		{"troubleshooting#nope", runbook.Ref{}, `has no section "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := lib.Resolve(tt.ref)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve(%q) error = %v, want %q", tt.ref, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve(%q) = %+v, %v; want %+v", tt.ref, got, err, tt.want)
			}
		})
	}
	if got, err := lib.ResolveFrom("troubleshooting", "#pod-pending"); err != nil || got.Book != "troubleshooting" {
		t.Errorf("ResolveFrom same-file anchor = %+v, %v", got, err)
	}
	if got := (runbook.Ref{Book: "a", Anchor: "b"}).String(); got != "a.md#b" {
		t.Errorf("Ref.String() = %q", got)
	}
}

func TestOverrideDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("troubleshooting.md", "# Our troubleshooting\n\nSite specific.\n\n## Pod CrashLoop\n\nCall Alice.\n")
	write("zz-local.md", "# Local notes\n\nVPN first.\n")
	write("broken.md", "# Bad \xff\xfe\n")
	write("notes.txt", "ignored")
	base := fstest.MapFS{
		"overview.md":        {Data: []byte("# Overview\n\nHello.\n")},
		"troubleshooting.md": {Data: []byte("# Troubleshooting\n\nBuilt in.\n")},
	}
	lib, err := runbook.Load(base, dir, []string{"overview", "troubleshooting"})
	if err == nil || !strings.Contains(err.Error(), "broken.md is not UTF-8") {
		t.Errorf("want the non-UTF-8 file reported, got %v", err)
	}
	var names []string
	for _, b := range lib.Books() {
		names = append(names, b.Name)
	}
	if want := []string{"overview", "troubleshooting", "zz-local"}; !reflect.DeepEqual(names, want) {
		t.Errorf("books = %v, want %v", names, want)
	}
	tb, _ := lib.Book("troubleshooting")
	if tb.Title != "Our troubleshooting" || tb.Origin != filepath.Join(dir, "troubleshooting.md") {
		t.Errorf("override not applied: %q from %q", tb.Title, tb.Origin)
	}
	if ref, err := lib.Resolve("pod-crashloop"); err != nil || ref.Book != "troubleshooting" {
		t.Errorf("section of the override = %+v, %v", ref, err)
	}

	lib, err = runbook.Load(base, filepath.Join(dir, "missing"), nil)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || len(lib.Books()) != 2 {
		t.Errorf("missing dir: err %v, %d books; want an error and the built-in books", err, len(lib.Books()))
	}
}

func TestParseBook(t *testing.T) {
	md := "# Title\n\nFirst *paragraph*\nwraps.\n\n## Setup\n\nSee [down](other.md#x) and [here](#setup-1).\n\n" +
		"```sh\n# not a heading\n```\n\n```opsdeck\n# a comment\nopsdeck check\n\nopsdeck backups list\n```\n\n## Setup\n\n### Deep `code` title\n\ntext\n\n## Last\n"
	lib, err := runbook.Load(fstest.MapFS{"b.md": {Data: []byte(md)}}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := lib.Book("b")
	if b.Title != "Title" || b.Summary != "First paragraph wraps." {
		t.Errorf("title %q summary %q", b.Title, b.Summary)
	}
	var got []string
	for _, s := range b.Sections {
		got = append(got, strconv.Itoa(s.Level)+":"+s.Anchor+"@"+strconv.Itoa(s.Line)+"-"+strconv.Itoa(s.End))
	}
	want := []string{"1:title@0-28", "2:setup@5-20", "2:setup-1@20-26", "3:deep-code-title@22-26", "2:last@26-28"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sections = %v, want %v", got, want)
	}
	if len(b.Links) != 2 || b.Links[0].Target != "other.md#x" || b.Links[0].Line != 7 || b.Links[1].Text != "here" {
		t.Errorf("links = %+v", b.Links)
	}
	if len(b.Commands) != 2 || b.Commands[0].Text != "opsdeck check" || b.Commands[0].Line != 15 || b.Commands[1].Line != 17 {
		t.Errorf("commands = %+v", b.Commands)
	}
	if s, ok := b.SectionAt(23); !ok || s.Anchor != "deep-code-title" {
		t.Errorf("SectionAt(23) = %+v", s)
	}
	if md, ok := b.SectionMarkdown("setup-1"); !ok || !strings.HasPrefix(md, "## Setup") || !strings.Contains(md, "### Deep") {
		t.Errorf("SectionMarkdown = %q", md)
	}
	errs := lib.BrokenLinks()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `b.md:8: no runbook "other"`) {
		t.Errorf("broken links = %v", errs)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Pod CrashLoop":           "pod-crashloop",
		"P0 — emergency":          "p0--emergency",
		"HighAPIErrorRate":        "highapierrorrate",
		"Restore the database":    "restore-the-database",
		"What's new? (v1.2)":      "whats-new-v12",
		"  snake_case and-dash  ": "snake_case-and-dash",
	} {
		if got := runbook.Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}
