package runbook

import (
	"strconv"
	"strings"
	"unicode"
)

// Slug returns the anchor GitHub gives a heading: lower case, letters, digits,
// '-' and '_' kept, spaces turned into '-', everything else dropped. So
// "Pod CrashLoop" is "pod-crashloop" and "P0 — emergency" is "p0--emergency".
func Slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// slugger hands out unique anchors within one document, numbering repeats
// the way GitHub does: "setup", "setup-1", "setup-2".
type slugger map[string]int

func (s slugger) next(heading string) string {
	base := Slug(heading)
	n, seen := s[base]
	s[base] = n + 1
	if !seen {
		return base
	}
	for {
		cand := base + "-" + strconv.Itoa(n)
		if _, taken := s[cand]; !taken {
			s[cand] = 1
			return cand
		}
		n++
	}
}
