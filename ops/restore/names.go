package restore

import (
	"regexp"
	"strings"
)

// simpleName is a schema.name that needs no quotes.
var simpleName = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$`)

// ShellWord is a quoted schema.name as the command line takes it
// (schema.name, without public.), quoted for the shell when needed.
func ShellWord(q string) string {
	s := strings.TrimPrefix(strings.ReplaceAll(q, `"`, ""), "public.")
	if simpleName.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// PlainName writes a quoted schema.name as typed: without the quotes
// when they are not needed, without public.
func PlainName(q string) string {
	s := strings.ReplaceAll(q, `"`, "")
	if !simpleName.MatchString(s) {
		return "'" + q + "'"
	}
	return strings.TrimPrefix(s, "public.")
}

// MergeCommand is the command that merges a table restore's copies back
// into their tables ("" when the plan copied none).
func (p *Plan) MergeCommand() string {
	if len(p.Copied) == 0 || len(p.Copied) != len(p.Copies) {
		return ""
	}
	var tables, froms []string
	for i, t := range p.Copied {
		tables, froms = append(tables, ShellWord(t)), append(froms, "--from "+ShellWord(p.Copies[i]))
	}
	return "opsdeck restore merge " + strings.Join(tables, " ") + " " + strings.Join(froms, " ")
}
