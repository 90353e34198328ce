package runbook

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Origin of the runbooks compiled into the binary.
const BuiltIn = "built-in"

// maxFileSize bounds one runbook file; a larger one is skipped.
const maxFileSize = 2 << 20

// Library is every runbook, in reading order. It is immutable once loaded
// and safe for concurrent use.
type Library struct {
	books  []*Book
	byName map[string]*Book
}

// Load reads the built-in runbooks from builtin (every *.md at its root) and
// then the *.md files of dir, if dir is not empty: a file named like a
// built-in one replaces it, any other is added. order names the runbooks
// that come first, in that order; the rest follow by name.
//
// The returned Library is always usable: a dir that cannot be read or a file
// that is not valid text is skipped, and the problems are returned, joined,
// as the error.
func Load(builtin fs.FS, dir string, order []string) (*Library, error) {
	var errs []error
	books := map[string]*Book{}
	if builtin != nil {
		entries, err := fs.ReadDir(builtin, ".")
		if err != nil {
			errs = append(errs, fmt.Errorf("read the built-in runbooks: %w", err))
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") {
				continue
			}
			data, err := fs.ReadFile(builtin, e.Name())
			if err != nil {
				errs = append(errs, fmt.Errorf("read built-in runbook %s: %w", e.Name(), err))
				continue
			}
			name := strings.TrimSuffix(e.Name(), ".md")
			books[name] = parseBook(name, BuiltIn, data)
		}
	}
	if dir != "" {
		errs = append(errs, loadDir(dir, books)...)
	}
	lib := &Library{byName: books}
	for _, b := range books {
		lib.books = append(lib.books, b)
	}
	rank := func(name string) int {
		if i := slices.Index(order, name); i >= 0 {
			return i
		}
		return len(order)
	}
	sort.Slice(lib.books, func(i, j int) bool {
		a, b := lib.books[i], lib.books[j]
		if ra, rb := rank(a.Name), rank(b.Name); ra != rb {
			return ra < rb
		}
		return a.Name < b.Name
	})
	return lib, errors.Join(errs...)
}

// loadDir adds or replaces books with dir's *.md files.
func loadDir(dir string, books map[string]*Book) []error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return []error{fmt.Errorf("runbooks.dir %s does not exist: create it or fix runbooks.dir in the config (the built-in runbooks are shown)", dir)}
		}
		return []error{fmt.Errorf("read runbooks.dir %s: %w — check its permissions (the built-in runbooks are shown)", dir, err)}
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".md") || e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("runbook %s: %w", p, err))
			continue
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > maxFileSize {
			errs = append(errs, fmt.Errorf("runbook %s is %d bytes, over the %d-byte limit: split it into smaller runbooks", p, info.Size(), maxFileSize))
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read runbook %s: %w — check its permissions", p, err))
			continue
		}
		if !utf8.Valid(data) {
			errs = append(errs, fmt.Errorf("runbook %s is not UTF-8 text: save it as UTF-8 Markdown", p))
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".md")
		books[name] = parseBook(name, p, data)
	}
	return errs
}

// Books returns the runbooks in reading order.
func (l *Library) Books() []*Book { return l.books }

// Book returns the runbook with the name (without ".md").
func (l *Library) Book(name string) (*Book, bool) {
	b, ok := l.byName[strings.TrimSuffix(name, ".md")]
	return b, ok
}

// Ref points at a runbook and optionally one of its sections.
type Ref struct {
	Book   string
	Anchor string
}

// String renders the reference as a relative link: "book.md#anchor".
func (r Ref) String() string {
	if r.Anchor == "" {
		return r.Book + ".md"
	}
	return r.Book + ".md#" + r.Anchor
}

// Resolve finds what ref points at. It accepts a section anchor alone
// ("pod-crashloop", searched in every runbook in reading order), a runbook
// name ("troubleshooting"), both ("troubleshooting#pod-crashloop",
// "troubleshooting.md#pod-crashloop") and a URL whose path ends in a runbook
// file (a runbook_url annotation).
func (l *Library) Resolve(ref string) (Ref, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return Ref{}, errors.New("empty runbook reference")
	}
	if !strings.ContainsAny(ref, "#/.") {
		if _, ok := l.byName[ref]; ok {
			return Ref{Book: ref}, nil
		}
		for _, b := range l.books {
			if _, ok := b.Section(ref); ok {
				return Ref{Book: b.Name, Anchor: ref}, nil
			}
		}
		return Ref{}, fmt.Errorf("no runbook section %q: add a heading that makes that anchor, or fix the reference", ref)
	}
	return l.ResolveFrom("", ref)
}

// ResolveFrom resolves a link target written in the runbook named from:
// "#anchor" stays in from, "other.md#anchor" goes to other.
func (l *Library) ResolveFrom(from, target string) (Ref, error) {
	name, anchor := splitTarget(target)
	if name == "" {
		name = from
	}
	b, ok := l.byName[name]
	if !ok {
		return Ref{}, fmt.Errorf("no runbook %q (link %q)", name, target)
	}
	if anchor == "" {
		return Ref{Book: name}, nil
	}
	if _, ok := b.Section(anchor); !ok {
		return Ref{}, fmt.Errorf("runbook %q has no section %q (link %q)", name, anchor, target)
	}
	return Ref{Book: name, Anchor: anchor}, nil
}

// BrokenLinks returns one error per link between runbooks that does not
// resolve. External links are not checked.
func (l *Library) BrokenLinks() []error {
	var errs []error
	for _, b := range l.books {
		for _, ln := range b.Links {
			if ln.External() {
				continue
			}
			if _, err := l.ResolveFrom(b.Name, ln.Target); err != nil {
				errs = append(errs, fmt.Errorf("%s.md:%d: %w", b.Name, ln.Line+1, err))
			}
		}
	}
	return errs
}
