package runbooks

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"charm.land/glamour/v2"
	glamourstyles "charm.land/glamour/v2/styles"
	"github.com/charmbracelet/x/ansi"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/opsdeck/opsdeck/ops/runbook"
)

// gutter is the width of the column left of the text that marks the
// selected link or command.
const gutter = 2

// itemKind says what an item of a document is.
type itemKind int

const (
	itemLink itemKind = iota
	itemCommand
)

// item is something in a rendered runbook the reader can act on: a link
// to follow or an opsdeck command to run.
type item struct {
	kind itemKind
	link runbook.Link
	cmd  runbook.CommandLine
	// line is the rendered line it is on.
	line int
}

// label is what the footer shows for the item.
func (it item) label() string {
	if it.kind == itemCommand {
		return it.cmd.Text
	}
	return it.link.Text
}

// heading is a section's place in the rendered document.
type heading struct {
	section runbook.Section
	line    int
}

// document is a runbook rendered for one width. The rendered lines are
// mapped back to the source: where each heading and each item landed.
type document struct {
	book     *runbook.Book
	width    int
	lines    []string
	plain    []string
	headings []heading
	items    []item
}

// anchorLine is the rendered line of the section's heading.
func (d *document) anchorLine(anchor string) (int, bool) {
	for _, h := range d.headings {
		if h.section.Anchor == anchor {
			return h.line, true
		}
	}
	return 0, false
}

// headingAt is the last heading at or above the rendered line.
func (d *document) headingAt(line int) (heading, bool) {
	var best heading
	found := false
	for _, h := range d.headings {
		if h.line > line {
			break
		}
		best, found = h, true
	}
	return best, found
}

// find returns the first rendered line at or after from (and before to)
// whose text contains s, case folded.
func (d *document) find(s string, from, to int) (int, bool) {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	if s == "" {
		return 0, false
	}
	for i := max(from, 0); i < min(to, len(d.plain)); i++ {
		if strings.Contains(strings.ToLower(d.plain[i]), s) {
			return i, true
		}
	}
	return 0, false
}

// lightCodeTheme is the chroma style of code blocks in the light style.
const lightCodeTheme = "github"

// markdownStyle is glamour's standard style name as a renderer option.
// The light style's code blocks are coloured by chroma's github style:
// glamour registers its own code colours once per process under one name
// ("charm"), so the first style to render a code block would colour every
// later one, and the dark style's light grey code would land on a white
// terminal.
func markdownStyle(name string) glamour.TermRendererOption {
	if name != glamourstyles.LightStyle {
		return glamour.WithStandardStyle(name)
	}
	cfg := glamourstyles.LightStyleConfig
	cfg.CodeBlock.Chroma = nil
	cfg.CodeBlock.Theme = lightCodeTheme
	return glamour.WithStyles(cfg)
}

// renderDocument renders b with glamour's standard style (styles.Styles'
// Markdown: "dark" or "light") to fit width columns, one section
// at a time so that every heading's rendered line is known exactly, and
// places the links and commands on the lines where their text landed. It
// takes a few hundred milliseconds for a long runbook: call it in a Cmd.
func renderDocument(b *runbook.Book, width int, style string) (*document, error) {
	wrap := max(width-gutter-4, 20)
	r, err := glamour.NewTermRenderer(markdownStyle(style), glamour.WithWordWrap(wrap), glamour.WithInlineTableLinks(true))
	if err != nil {
		return nil, fmt.Errorf("markdown renderer: %w", err)
	}
	src := b.Lines()
	// Chunks start at every heading.
	starts := []int{0}
	for _, s := range b.Sections {
		if s.Line > starts[len(starts)-1] {
			starts = append(starts, s.Line)
		}
	}
	d := &document{book: b, width: width}
	sec, link, cmd := 0, 0, 0
	for i, start := range starts {
		end := len(src)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		out, err := r.Render(prepare(strings.Join(src[start:end], "\n")))
		if err != nil {
			return nil, fmt.Errorf("render %s.md from line %d: %w", b.Name, start+1, err)
		}
		lines := trimBlank(strings.Split(strings.TrimRight(out, "\n"), "\n"))
		if len(lines) == 0 {
			continue
		}
		if len(d.lines) > 0 {
			d.lines, d.plain = append(d.lines, ""), append(d.plain, "")
		}
		first := len(d.lines)
		for _, l := range lines {
			d.lines = append(d.lines, l)
			d.plain = append(d.plain, ansi.Strip(l))
		}
		last := len(d.lines)
		for ; sec < len(b.Sections) && b.Sections[sec].Line < end; sec++ {
			d.headings = append(d.headings, heading{section: b.Sections[sec], line: first})
		}
		// Items are below the chunk's heading line, never on it (a link often
		// repeats the heading's words).
		body := first
		if sec > 0 && b.Sections[sec-1].Line == start && last > first+1 {
			body = first + 1
		}
		cursor := body
		for ; link < len(b.Links) && b.Links[link].Line < end; link++ {
			l := b.Links[link]
			at := d.locate(cursor, last, l.Text)
			d.items = append(d.items, item{kind: itemLink, link: l, line: at})
			cursor = at
		}
		cursor = body
		for ; cmd < len(b.Commands) && b.Commands[cmd].Line < end; cmd++ {
			c := b.Commands[cmd]
			at := d.locate(cursor, last, c.Text)
			d.items = append(d.items, item{kind: itemCommand, cmd: c, line: at})
			cursor = at + 1
		}
	}
	sortItems(d.items)
	return d, nil
}

// locate finds text between from and to: all of it, else its first
// words (it may wrap), else it stays at from.
func (d *document) locate(from, to int, text string) int {
	if at, ok := d.find(text, from, to); ok {
		return at
	}
	words := strings.Fields(text)
	for n := min(len(words), 3); n > 0; n-- {
		if at, ok := d.find(strings.Join(words[:n], " "), from, to); ok {
			return at
		}
	}
	return from
}

// sortItems orders items by rendered line, links before commands on the same line.
func sortItems(items []item) {
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j].line < items[j-1].line; j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
}

// trimBlank drops the blank lines glamour puts around a document.
func trimBlank(lines []string) []string {
	blank := func(s string) bool { return strings.TrimSpace(ansi.Strip(s)) == "" }
	for len(lines) > 0 && blank(lines[0]) {
		lines = lines[1:]
	}
	for len(lines) > 0 && blank(lines[len(lines)-1]) {
		lines = lines[:len(lines)-1]
	}
	return lines
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// prepare adapts a runbook's Markdown for the terminal: soft line breaks
// become spaces (glamour keeps them inside list items, which then wrap
// twice), and links between runbooks point at a bare anchor so glamour
// shows their text without the file name after it (the footer says where
// the selected link goes).
func prepare(md string) string {
	return internalLinks(reflow(md))
}

// reflow joins the lines of every paragraph, in lists too.
func reflow(md string) string {
	src := []byte(md)
	type cut struct{ from, to int }
	var cuts []cut
	doc := markdown.Parser().Parse(text.NewReader(src))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		t, ok := n.(*ast.Text)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		// A code span that runs over a line break: its text keeps the '\n'.
		if stop := t.Segment.Stop; t.Parent() != nil && t.Parent().Kind() == ast.KindCodeSpan && stop > 0 && src[stop-1] == '\n' {
			i := stop
			for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
				i++
			}
			cuts = append(cuts, cut{stop - 1, i})
			return ast.WalkContinue, nil
		}
		if !t.SoftLineBreak() {
			return ast.WalkContinue, nil
		}
		i := t.Segment.Stop
		for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
		if i >= len(src) || src[i] != '\n' {
			return ast.WalkContinue, nil
		}
		i++
		for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
		cuts = append(cuts, cut{t.Segment.Stop, i})
		return ast.WalkContinue, nil
	})
	if len(cuts) == 0 {
		return md
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].from < cuts[j].from })
	var b strings.Builder
	last := 0
	for _, c := range cuts {
		if c.from < last {
			continue
		}
		b.Write(src[last:c.from])
		b.WriteByte(' ')
		last = c.to
	}
	b.Write(src[last:])
	return b.String()
}

// linkTarget matches the destination of an inline link.
var linkTarget = regexp.MustCompile(`\]\(([^()\s]+)\)`)

// internalLinks points links to other runbooks at a bare anchor, outside
// code blocks; links with a scheme are left as they are.
func internalLinks(md string) string {
	lines := strings.Split(md, "\n")
	fence := ""
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		lines[i] = linkTarget.ReplaceAllStringFunc(l, func(m string) string {
			dest := linkTarget.FindStringSubmatch(m)[1]
			if strings.Contains(dest, "://") || strings.HasPrefix(dest, "mailto:") || strings.HasPrefix(dest, "#") {
				return m
			}
			_, anchor, _ := strings.Cut(dest, "#")
			return "](#" + anchor + ")"
		})
	}
	return strings.Join(lines, "\n")
}
