package runbook_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sectionRef is a runbook reference as the code writes it.
var sectionRef = regexp.MustCompile(`^[a-z0-9-]+\.md#[a-z0-9_-]+$`)

// TestEveryRunbookReferenceInTheCodeResolves: maintenance findings, the
// maintenance plan and everything else that names "book.md#section" in
// ops/, tui/ and cmd/ points at a section that exists.
func TestEveryRunbookReferenceInTheCodeResolves(t *testing.T) {
	lib := builtin(t)
	fset := token.NewFileSet()
	n := 0
	for _, root := range []string{"../../ops", "../../tui", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return nil // a file another engineer is halfway through
			}
			ast.Inspect(f, func(node ast.Node) bool {
				bl, ok := node.(*ast.BasicLit)
				if !ok || bl.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(bl.Value)
				if err != nil || !sectionRef.MatchString(s) {
					return true
				}
				n++
				if _, err := lib.Resolve(s); err != nil {
					t.Errorf("%s: %v", fset.Position(bl.Pos()), err)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Error("no runbook reference found in the code: is the scan still looking in the right places?")
	}
}
