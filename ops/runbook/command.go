package runbook

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opsdeck/opsdeck/ops/access"
)

// Command is an opsdeck command line from a runbook, split into arguments
// the way a shell would split it, without any shell features.
type Command struct {
	// Args are the arguments after "opsdeck".
	Args []string
}

// ParseCommand splits one ```opsdeck line. It must start with "opsdeck"; single
// and double quotes group words; a word starting with '#' starts a comment.
// Pipes, redirections, command lists, variables and substitutions are refused:
// the line runs as one process, never through a shell. Placeholders such as
// <ID> are refused too, so a line must be complete to run.
func ParseCommand(line string) (Command, error) {
	words, err := splitWords(line)
	if err != nil {
		return Command{}, err
	}
	if len(words) == 0 || words[0] != "opsdeck" {
		return Command{}, fmt.Errorf("%q is not an opsdeck command: only lines starting with \"opsdeck\" can run here", line)
	}
	return Command{Args: words[1:]}, nil
}

// splitWords is a small shell-like word splitter without expansions.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := rune(0)
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch {
			case r == '"':
				quote = 0
			case r == '\\' && i+1 < len(rs) && (rs[i+1] == '"' || rs[i+1] == '\\'):
				i++
				cur.WriteRune(rs[i])
			case r == '$' || r == '`':
				return nil, fmt.Errorf("%q uses %q inside quotes: write the value out, expansions are not run", line, string(r))
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '#' && !inWord:
			i = len(rs)
		case strings.ContainsRune("|;&<>$`(){}*?\\", r):
			return nil, fmt.Errorf("%q uses %q: a runbook command runs as one opsdeck process, not through a shell — fill in placeholders and run pipes in a terminal", line, string(r))
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%q has an unclosed %c quote", line, quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// String renders the command as a line: "opsdeck check --target postgres".
func (c Command) String() string {
	parts := []string{"opsdeck"}
	for _, a := range c.Args {
		if a == "" || strings.ContainsAny(a, " \t'\"#") {
			a = "'" + strings.ReplaceAll(a, "'", `'"'"'`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// globalValueFlags are opsdeck's global flags that take a value.
var globalValueFlags = []string{"--config", "-c"}

// Path returns the subcommand path ("backups", "list"): the leading words
// that are not flags, skipping global flags and their values. Positional
// arguments after the subcommand are included; callers compare prefixes.
func (c Command) Path() []string {
	var path []string
	for i := 0; i < len(c.Args); i++ {
		a := c.Args[i]
		switch {
		case slices.Contains(globalValueFlags, a):
			i++
		case strings.HasPrefix(a, "-"):
		default:
			path = append(path, a)
		}
	}
	return path
}

// Has reports whether the command carries the flag (long form, e.g.
// "--dry-run"), with or without "=value".
func (c Command) Has(flag string) bool {
	for _, a := range c.Args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// FlagValue returns the value of a long flag given as "--flag value" or
// "--flag=value".
func (c Command) FlagValue(flag string) (string, bool) {
	for i, a := range c.Args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
		if a == flag && i+1 < len(c.Args) {
			return c.Args[i+1], true
		}
	}
	return "", false
}

// ErrInteractive is returned for commands that run until stopped or need a
// terminal (the cockpit itself, demo, serve, --watch): run them in a shell.
var ErrInteractive = errors.New("this command runs until it is stopped or needs a terminal: run it in a shell")

// Interactive reports whether the command cannot run inside the viewer.
func (c Command) Interactive() bool {
	p := c.Path()
	if c.Has("--help") || c.Has("-h") || c.Has("--version") {
		return false
	}
	if len(p) == 0 {
		return true // the cockpit
	}
	switch p[0] {
	case "demo", "serve":
		return true
	case "wal":
		return len(p) > 1 && p[1] == "stream"
	case "logs":
		return c.Has("--follow") || c.Has("-f")
	}
	return c.Has("--watch") || c.Has("-w")
}

// ReadOnly reports whether the command is on the allow-list of commands
// that change nothing and so run without confirmation: help and version,
// check, config show/validate/example/path, metrics, logs, backups list, wal status, the
// read-only maintenance reports (health, security, capacity), and
// --dry-run of backups prune, maintain and restore. Anything else needs a
// confirmation and is refused in read-only mode.
func (c Command) ReadOnly() bool {
	if c.Has("--help") || c.Has("-h") || c.Has("--version") {
		return true
	}
	p := c.Path()
	if len(p) == 0 {
		return false
	}
	sub := ""
	if len(p) > 1 {
		sub = p[1]
	}
	switch p[0] {
	case "help", "check", "metrics", "logs", "completion":
		return true
	case "config":
		return slices.Contains([]string{"show", "validate", "example", "path"}, sub)
	case "backups":
		return sub == "list" || (sub == "prune" && c.Has("--dry-run"))
	case "maintain":
		return c.Has("--dry-run") || slices.Contains([]string{"health", "security", "capacity"}, sub)
	case "restore":
		return c.Has("--dry-run")
	case "wal":
		return sub == "status"
	}
	return false
}

// ConfirmWord is what the operator must type to confirm the command, or ""
// when a yes/no answer is enough. Restores ask for the name of what they
// overwrite, as `opsdeck restore` itself does: the database (--target-db,
// else database) for database and full restores, the namespace for config,
// "flushall" for Redis, "recover" for a recovery; when the name is not
// known, the component's.
func (c Command) ConfirmWord(database, namespace string) string {
	p := c.Path()
	if len(p) < 2 || p[0] != "restore" || c.ReadOnly() {
		return ""
	}
	word := ""
	switch p[1] {
	case "database", "full":
		word = database
		if db, ok := c.FlagValue("--target-db"); ok && db != "" {
			word = db
		}
	case "config":
		word = namespace
	case "redis":
		word = "flushall" // the restore flushes Redis first
	case "recover":
		word = "recover"
	}
	if word == "" {
		word = p[1]
	}
	return word
}

// Action is the access action a command that changes things stands for, so
// that a session runs from a runbook only what it could run from its tabs:
// restores and prunes need an admin, backups, verification, drills and
// maintenance an operator. A command opsdeck does not know needs an admin.
func (c Command) Action() access.Action {
	p := c.Path()
	switch {
	case len(p) == 0:
		return access.Action("runbook.unknown")
	case p[0] == "backup":
		return access.BackupRun
	case p[0] == "backups" && len(p) > 1 && p[1] == "verify":
		return access.BackupVerify
	case p[0] == "backups" && len(p) > 1 && p[1] == "prune":
		return access.BackupPrune
	case p[0] == "restore":
		return access.RestoreRun
	case p[0] == "drill":
		return access.DrillRun
	case p[0] == "maintain" && len(p) > 1 && p[1] == "cleanup":
		return access.MaintainClean
	case p[0] == "maintain":
		return access.MaintainRun
	case p[0] == "metrics" || p[0] == "check":
		return access.RunbookCommand
	}
	return access.Action("runbook." + p[0])
}
