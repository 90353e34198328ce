package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem with the configuration, located in the file when
// the value came from one. Its text has the form
//
//	FILE:LINE:COL: field PATH (from $ENV): problem — what to do
//
// where the location, field and environment parts appear only when known.
type FieldError struct {
	File   string // config file, "" when the value did not come from a file
	Line   int    // 1-based; 0 when unknown
	Col    int    // 1-based; 0 when unknown
	Field  string // dotted path such as "thresholds.cpu_percent.warn"; "" for the whole document
	Env    string // environment variable the value came from, if any
	Reason string // what is wrong
	Hint   string // what to do about it; may be empty
	Err    error  // underlying error, if any
}

// Error implements error.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" && e.Env == "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Col > 0 {
				fmt.Fprintf(&b, ":%d", e.Col)
			}
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString("field " + e.Field)
		if e.Env != "" {
			b.WriteString(" (from $" + e.Env + ")")
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Hint != "" {
		b.WriteString(" — " + e.Hint)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// suggest returns the candidate closest to name, or "" when none is close
// enough to be a likely typo.
func suggest(name string, candidates []string) string {
	best, bestD := "", -1
	lname := strings.ToLower(name)
	for _, c := range candidates {
		d := levenshtein(lname, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	limit := len(name) / 3
	if limit < 2 {
		limit = 2
	}
	if bestD <= limit {
		return best
	}
	// "cpu" for "cpu_percent", "redis_memory" for "redis_memory_percent".
	for _, c := range candidates {
		if len(lname) >= 3 && (strings.HasPrefix(c, lname) || strings.HasPrefix(lname, c)) {
			return c
		}
	}
	return ""
}

// levenshtein returns the edit distance between a and b.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
