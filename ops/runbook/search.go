package runbook

import (
	"regexp"
	"sort"
	"strings"
)

// mdLink is an inline Markdown link; snippets keep only its text.
var mdLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

// Hit is one section that matches a search.
type Hit struct {
	// Book is the runbook's name.
	Book string
	// Title is the runbook's title.
	Title string
	// Section is the innermost section holding the match; its Anchor is ""
	// for text above the first heading.
	Section Section
	// Line is the 0-based line of the first match.
	Line int
	// Snippet is the matching line, trimmed around the match.
	Snippet string
	// Score orders hits: a whole-phrase match beats scattered words, and a
	// match in a heading beats one in the body.
	Score int
}

// Search returns the sections that contain every word of query (case does
// not matter), best first, at most limit of them (0: no limit). A query in
// double quotes must match as a phrase; words that run across a line break
// still match as a phrase.
func (l *Library) Search(query string, limit int) []Hit {
	phrase, words := parseQuery(query)
	if len(words) == 0 {
		return nil
	}
	exact := strings.HasPrefix(strings.TrimSpace(query), `"`)
	var hits []Hit
	for _, b := range l.books {
		for _, span := range b.spans {
			if h, ok := b.match(span, phrase, words, exact); ok {
				hits = append(hits, h)
			}
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	return hits
}

// parseQuery folds the query into its phrase (words joined by one space)
// and its words.
func parseQuery(q string) (phrase string, words []string) {
	q = strings.ToLower(strings.Trim(strings.TrimSpace(q), `"`))
	words = strings.Fields(q)
	return strings.Join(words, " "), words
}

// span is a run of lines owned by one heading and no deeper one, with its
// text folded for search: lower case, every run of white space one space,
// lines joined by a space (so a phrase matches across a line break), and
// where each line starts in it.
type span struct {
	section    Section
	start, end int
	body       string
	offs       []int
}

// indexSpans cuts the book at every heading (the text above the first
// heading is a span with an empty section) and folds each span's text once,
// so that a search, run on every key the operator types, only scans.
func (b *Book) indexSpans() {
	add := func(sec Section, start, end int) {
		var sb strings.Builder
		offs := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			offs = append(offs, sb.Len())
			sb.WriteString(strings.Join(strings.Fields(strings.ToLower(b.lines[i])), " "))
			sb.WriteByte(' ')
		}
		b.spans = append(b.spans, span{section: sec, start: start, end: end, body: sb.String(), offs: offs})
	}
	prev := 0
	cur := Section{}
	for _, s := range b.Sections {
		if s.Line > prev {
			add(cur, prev, s.Line)
		}
		cur, prev = s, s.Line
	}
	add(cur, prev, len(b.lines))
}

func (b *Book) match(sp span, phrase string, words []string, exact bool) (Hit, bool) {
	if sp.start >= sp.end {
		return Hit{}, false
	}
	body := sp.body
	lineAt := func(off int) int {
		i := sort.SearchInts(sp.offs, off+1) - 1
		return sp.start + max(i, 0)
	}
	score := 0
	first := strings.Index(body, phrase)
	if first >= 0 {
		score += 100 + 10*strings.Count(body, phrase)
	} else if exact {
		return Hit{}, false
	}
	whole := first >= 0
	for _, w := range words {
		p := strings.Index(body, w)
		if p < 0 {
			return Hit{}, false
		}
		score += min(strings.Count(body, w), 5)
		if !whole && (first < 0 || p < first) {
			first = p
		}
	}
	heading := strings.ToLower(sp.section.Title)
	if strings.Contains(heading, phrase) {
		score += 50
	}
	line := lineAt(first)
	return Hit{
		Book: b.Name, Title: b.Title, Section: sp.section, Line: line,
		Snippet: snippet(b.lines[line], words[0]), Score: score,
	}, true
}

// snippet trims a line to about 80 characters around word and drops the
// Markdown marks that read as noise in a list.
func snippet(line, word string) string {
	s := strings.TrimLeft(strings.TrimSpace(line), "#")
	s = mdLink.ReplaceAllString(s, "$1")
	s = strings.NewReplacer("**", "", "`", "", "|", " ").Replace(s)
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	const width = 80
	if len(r) <= width {
		return s
	}
	lower := []rune(strings.ToLower(s))
	at := 0
	if len(lower) == len(r) {
		if i := strings.Index(string(lower), word); i > 0 {
			at = len([]rune(string(lower)[:i]))
		}
	}
	start := max(at-width/3, 0)
	end := min(start+width, len(r))
	out := string(r[start:end])
	if start > 0 {
		out = "…" + out
	}
	if end < len(r) {
		out += "…"
	}
	return out
}
