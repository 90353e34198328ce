//go:build ignore

// importnames fails when a package is imported under different names: each
// import path is written the same way everywhere, with the same alias or
// none (blank and dot imports aside). Run by make lint:
//
//	go run scripts/importnames.go
package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	names := map[string]map[string][]string{} // import path → name → files
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// tools/ holds separate modules, third_party copies of others;
			// testdata is not code.
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || path == "tools" || path == "third_party") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			name := "(no alias)"
			if im.Name != nil {
				name = im.Name.Name
			}
			if name == "_" || name == "." {
				continue
			}
			if names[p] == nil {
				names[p] = map[string][]string{}
			}
			names[p][name] = append(names[p][name], path)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "importnames:", err)
		os.Exit(2)
	}
	var paths []string
	for p, n := range names {
		if len(n) > 1 {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(os.Stderr, "%s is imported under %d names; use one:\n", p, len(names[p]))
		for name, files := range names[p] {
			slices.Sort(files)
			more := ""
			if len(files) > 6 {
				files, more = files[:6], fmt.Sprintf(" and %d more", len(files)-6)
			}
			fmt.Fprintf(os.Stderr, "  %-12s %s%s\n", name, strings.Join(files, " "), more)
		}
	}
	if len(paths) > 0 {
		os.Exit(1)
	}
}
