package runbook

import (
	"bytes"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// CommandLanguage is the info string of a fenced code block whose lines are
// opsdeck commands the cockpit can run: ```opsdeck.
const CommandLanguage = "opsdeck"

// Book is one runbook file.
type Book struct {
	// Name is the file name without ".md": "troubleshooting".
	Name string
	// Title is the text of the first level-1 heading, else Name.
	Title string
	// Summary is the first paragraph's text, for the list.
	Summary string
	// Origin is "built-in" for an embedded runbook, else the file's path.
	Origin string
	// Markdown is the file's text.
	Markdown string
	// Sections are the headings in document order.
	Sections []Section
	// Links are the document's links in order.
	Links []Link
	// Commands are the lines of its ```opsdeck blocks, in order.
	Commands []CommandLine

	lines []string
	// spans are the book's text cut at every heading and folded for Search.
	spans []span
}

// Section is one heading and the lines it governs.
type Section struct {
	// Anchor is the heading's unique GitHub-style anchor.
	Anchor string
	// Title is the heading's text.
	Title string
	// Level is 1 for "#", 2 for "##" and so on.
	Level int
	// Line is the 0-based line of the heading.
	Line int
	// End is the line after the section's last line: the next heading of
	// the same or a higher level, or the end of the file. Subsections are
	// inside.
	End int
}

// Link is a Markdown link in a runbook.
type Link struct {
	// Text is what the reader sees.
	Text string
	// Target is the destination as written: "troubleshooting.md#redis-down",
	// "#redis-down", "https://…".
	Target string
	// Line is the 0-based line it is on.
	Line int
}

// External reports whether the link leaves the runbooks (it has a scheme
// such as https: or mailto:).
func (l Link) External() bool {
	u, err := url.Parse(l.Target)
	return err == nil && u.Scheme != ""
}

// CommandLine is one line of an ```opsdeck block.
type CommandLine struct {
	// Text is the line as written, e.g. "opsdeck check --target postgres".
	Text string
	// Line is its 0-based line in the file.
	Line int
}

// Lines returns the file's lines.
func (b *Book) Lines() []string { return b.lines }

// Section returns the section with the anchor.
func (b *Book) Section(anchor string) (Section, bool) {
	for _, s := range b.Sections {
		if s.Anchor == anchor {
			return s, true
		}
	}
	return Section{}, false
}

// SectionAt returns the innermost section containing line, if any.
func (b *Book) SectionAt(line int) (Section, bool) {
	var best Section
	found := false
	for _, s := range b.Sections {
		if s.Line <= line && line < s.End && (!found || s.Line >= best.Line) {
			best, found = s, true
		}
	}
	return best, found
}

// SectionMarkdown returns the Markdown of the section with the anchor,
// subsections included.
func (b *Book) SectionMarkdown(anchor string) (string, bool) {
	s, ok := b.Section(anchor)
	if !ok {
		return "", false
	}
	return strings.Join(b.lines[s.Line:s.End], "\n"), true
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// parseBook parses a runbook. Markdown never fails to parse; what cannot be
// understood is kept as text.
func parseBook(name, origin string, data []byte) *Book {
	src := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	b := &Book{Name: name, Origin: origin, Markdown: string(src)}
	b.lines = strings.Split(b.Markdown, "\n")
	starts := lineStarts(src)
	lineOf := func(off int) int { return sort.SearchInts(starts, off+1) - 1 }

	doc := markdown.Parser().Parse(text.NewReader(src))
	slugs := slugger{}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			if n.Lines().Len() == 0 {
				return ast.WalkSkipChildren, nil
			}
			title := strings.TrimSpace(inlineText(n, src))
			b.Sections = append(b.Sections, Section{
				Anchor: slugs.next(title), Title: title, Level: n.Level,
				Line: lineOf(n.Lines().At(0).Start),
			})
			if n.Level == 1 && b.Title == "" {
				b.Title = title
			}
		case *ast.Paragraph:
			if b.Summary == "" && n.Parent() == doc {
				b.Summary = strings.Join(strings.Fields(inlineText(n, src)), " ")
			}
		case *ast.Link:
			if off, ok := firstOffset(n); ok {
				b.Links = append(b.Links, Link{
					Text:   strings.TrimSpace(inlineText(n, src)),
					Target: string(n.Destination),
					Line:   lineOf(off),
				})
			}
			return ast.WalkSkipChildren, nil
		case *ast.FencedCodeBlock:
			if string(n.Language(src)) == CommandLanguage {
				for i := 0; i < n.Lines().Len(); i++ {
					seg := n.Lines().At(i)
					line := strings.TrimSpace(string(seg.Value(src)))
					if line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					b.Commands = append(b.Commands, CommandLine{Text: line, Line: lineOf(seg.Start)})
				}
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	if b.Title == "" {
		b.Title = name
	}
	b.closeSections()
	b.indexSpans()
	return b
}

// closeSections sets each section's End: the next heading of the same or a
// higher level.
func (b *Book) closeSections() {
	for i := range b.Sections {
		b.Sections[i].End = len(b.lines)
		for _, next := range b.Sections[i+1:] {
			if next.Level <= b.Sections[i].Level {
				b.Sections[i].End = next.Line
				break
			}
		}
	}
}

// inlineText is the plain text of a node's inline children.
func inlineText(n ast.Node, src []byte) string {
	var buf strings.Builder
	var walk func(ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				buf.Write(c.Value(src))
				if c.SoftLineBreak() || c.HardLineBreak() {
					buf.WriteByte(' ')
				}
			case *ast.String:
				buf.Write(c.Value)
			case *ast.AutoLink:
				buf.Write(c.Label(src))
			default:
				walk(c)
			}
		}
	}
	walk(n)
	return buf.String()
}

// firstOffset is the source offset of the first text inside n.
func firstOffset(n ast.Node) (int, bool) {
	var off int
	found := false
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			off, found = t.Segment.Start, true
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	return off, found
}

// lineStarts returns the offset of the first byte of every line.
func lineStarts(src []byte) []int {
	starts := []int{0}
	for i, c := range src {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// splitTarget splits a link target into its file part and anchor:
// "./troubleshooting.md#redis-down" → ("troubleshooting", "redis-down").
func splitTarget(target string) (name, anchor string) {
	file, anchor, _ := strings.Cut(target, "#")
	if u, err := url.Parse(file); err == nil && u.Scheme != "" {
		file = u.Path
	}
	file = path.Base(path.Clean("/" + file))
	if file == "/" || file == "." {
		file = ""
	}
	return strings.TrimSuffix(file, ".md"), anchor
}
