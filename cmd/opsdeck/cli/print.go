package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Output is the -o flag: text, json or yaml.
type Output string

// Formats are the values of -o: text for people, json and yaml for
// scripts (the same document in both: docs/json.md).
var Formats = []string{"text", "json", "yaml"}

// Register adds -o/--output to a command, with its shell completion.
func (o *Output) Register(cmd *cobra.Command) {
	*o = "text"
	cmd.Flags().StringVarP((*string)(o), "output", "o", "text", "output format: text, json or yaml (docs/json.md)")
	FlagWords(cmd, "output", Formats...)
}

// Validate rejects an unknown output format.
func (o Output) Validate() error {
	if !slices.Contains(Formats, string(o)) {
		return Exit(3, fmt.Errorf("unknown output format %q: use -o text, -o json or -o yaml", string(o)))
	}
	return nil
}

// Structured reports whether a document was asked for (-o json or
// -o yaml) rather than text.
func (o Output) Structured() bool { return o == "json" || o == "yaml" }

// Printer is how a command prints: its result on Out, as a document (-o
// json: indented JSON; -o yaml: the same document as YAML) or as text
// (aligned tables, statuses coloured on a terminal), and its progress on
// Err as timed lines. Every command prints through one.
type Printer struct {
	// Out takes the result; Err the progress, warnings and questions.
	Out, Err io.Writer
	// Format is the -o flag.
	Format Output
	// Terminal says stdout is a terminal the command may use (a watch
	// clears it between reports).
	Terminal bool
	// Colour says statuses are coloured (--color, NO_COLOR; color.go).
	Colour bool
}

// Printer returns the printer of cmd for the output format out.
func (g *Globals) Printer(cmd *cobra.Command, out Output) *Printer {
	return &Printer{Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr(), Format: out, Terminal: g.IsTerminal(os.Stdout), Colour: g.Colour(os.Stdout)}
}

// Structured reports whether -o json or -o yaml was asked for.
func (p *Printer) Structured() bool { return p.Format.Structured() }

// Result prints v as the document s with -o json or -o yaml; else text
// prints it.
func (p *Printer) Result(s *Schema, v any, text func() error) error {
	if p.Structured() {
		return p.PrintDocument(s, v)
	}
	return text()
}

// PrintDocument writes v to Out as the document s: indented JSON, or
// YAML with -o yaml.
func (p *Printer) PrintDocument(s *Schema, v any) error {
	doc, err := s.Document(v)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if p.Format == "yaml" {
		b, err := toYAML(doc)
		if err != nil {
			return fmt.Errorf("%s as YAML: %w", s.ID, err)
		}
		out.Write(b)
	} else {
		if err := json.Indent(&out, doc, "", "  "); err != nil {
			return fmt.Errorf("%s: %w", s.ID, err)
		}
		out.WriteByte('\n')
	}
	_, err = p.Out.Write(out.Bytes())
	return err
}

// PrintStream writes v to Out as one document s of a stream (--watch
// into a pipe): a line of JSON, or a YAML document after a "---" line.
func (p *Printer) PrintStream(s *Schema, v any) error {
	doc, err := s.Document(v)
	if err != nil {
		return err
	}
	if p.Format == "yaml" {
		b, err := toYAML(doc)
		if err != nil {
			return fmt.Errorf("%s as YAML: %w", s.ID, err)
		}
		doc = append([]byte("---\n"), b...)
	} else {
		doc = append(doc, '\n')
	}
	_, err = p.Out.Write(doc)
	return err
}

// toYAML is the JSON document doc as YAML: the same fields in the same
// order, strings quoted where a YAML reader would take them for
// something else.
func toYAML(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := yamlValue(dec)
	if err != nil {
		return nil, err
	}
	return yaml.MarshalWithOptions(v, yaml.Indent(2), yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true))
}

// yamlValue reads the next JSON value of dec as what the YAML encoder
// writes alike: objects as ordered maps, numbers as numbers and strings
// that read as numbers quoted (the encoder leaves "1e3" plain; it writes
// keys itself, so a key of that shape would read back as a number).
func yamlValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			list := []any{}
			for dec.More() {
				v, err := yamlValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		obj := yaml.MapSlice{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := yamlValue(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, yaml.MapItem{Key: k, Value: v})
		}
		_, err := dec.Token()
		return obj, err
	case json.Number:
		if i, err := tok.Int64(); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(tok.String(), 10, 64); err == nil {
			return u, nil
		}
		return tok.Float64()
	case string:
		if _, err := strconv.ParseFloat(tok, 64); err == nil {
			return quoted(tok), nil
		}
	}
	return tok, nil // a string, a bool or nil
}

// quoted is a string written in double quotes.
type quoted string

// MarshalYAML writes q as a double-quoted scalar.
func (q quoted) MarshalYAML() ([]byte, error) { return json.Marshal(string(q)) }

// Table is an aligned text table on Out: columns two spaces apart.
type Table struct{ tw *tabwriter.Writer }

// Table starts a table on Out with the header's columns; Flush ends it.
func (p *Printer) Table(header ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(p.Out, 0, 0, 2, ' ', 0)}
	t.Row(header...)
	return t
}

// Row adds a row; cells hold no tabs or newlines.
func (t *Table) Row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

// Flush writes the table out.
func (t *Table) Flush() error { return t.tw.Flush() }

// colours are the terminal colours of the statuses.
var colours = map[health.Status]string{
	health.OK: "\x1b[32m", health.Warn: "\x1b[33m", health.Crit: "\x1b[1;31m", health.Unknown: "\x1b[36m",
}

// Status renders s for a table cell: upper case, coloured when the
// printer colours.
func (p *Printer) Status(s health.Status) string {
	st := strings.ToUpper(s.String())
	if !p.Colour {
		return st
	}
	// A table counts escape bytes as width: pad to a fixed width first.
	return colours[s] + fmt.Sprintf("%-7s", st) + "\x1b[0m"
}

// Clip shortens s to n runes, the last one an ellipsis, so that one long
// value does not push a table off the screen (-o json and -o yaml carry it whole).
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// progressEvery is how often an operation's advance is printed.
const progressEvery = 2 * time.Second

// Progress returns the progress printer: each event as a timed line on
// Err, an advance at most every two seconds; quiet keeps only the
// warnings and failures.
func (p *Printer) Progress(quiet bool) progress.Func {
	var (
		mu   sync.Mutex
		last time.Time
	)
	return func(e progress.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case progress.Advance:
			if quiet || time.Since(last) < progressEvery {
				return
			}
			last = time.Now()
		case progress.Start, progress.Info, progress.Finish:
			if quiet {
				return
			}
		}
		fmt.Fprintf(p.Err, "%s %s\n", e.At.Format("15:04:05"), e.String())
	}
}

// Manifest prints a backup set's summary: components, files and facts.
func (p *Printer) Manifest(m *backup.Manifest) {
	w := p.Out
	fmt.Fprintf(w, "set %s  kind %s  status %s  %s  %s → %s\n", m.ID, m.Kind, m.Status, progress.Bytes(m.Size()),
		m.Start.Format(time.RFC3339), m.End.Format("15:04:05"))
	for _, c := range m.Components {
		fmt.Fprintf(w, "  %-8s %-6s %s\n", c.Name, c.Status, facts(c))
		if c.Error != "" {
			fmt.Fprintf(w, "           error: %s\n", c.Error)
		}
		for _, f := range c.Files {
			enc := ""
			if f.Encryption != "" {
				enc = " +" + f.Encryption
			}
			fmt.Fprintf(w, "           %s  %s (raw %s, %s%s)  sha256 %s\n", f.Name, progress.Bytes(f.Size), progress.Bytes(f.RawSize), f.Compression, enc, f.SHA256)
		}
		for _, wn := range c.Warnings {
			fmt.Fprintf(w, "           warning: %s\n", wn)
		}
	}
}

// facts is a component's one-line summary in a manifest.
func facts(c backup.Component) string {
	switch {
	case c.Postgres != nil:
		var rows int64
		for _, t := range c.Postgres.Tables {
			rows += t.Rows
		}
		return fmt.Sprintf("PostgreSQL %s, db %s, %d tables, %d rows (pg_dump %s)", c.Postgres.ServerVersion, c.Postgres.Database, len(c.Postgres.Tables), rows, c.Postgres.PgDumpVersion)
	case c.Redis != nil:
		var keys int64
		for _, n := range c.Redis.Keys {
			keys += n
		}
		return fmt.Sprintf("Redis %s, RDB v%d, %d keys in %d DBs", c.Redis.Version, c.Redis.RDBVersion, keys, len(c.Redis.Keys))
	case c.Kube != nil:
		n := 0
		for _, v := range c.Kube.Objects {
			n += v
		}
		return fmt.Sprintf("%d objects in %s (context %s)", n, strings.Join(c.Kube.Namespaces, ","), c.Kube.Context)
	case c.Logs != nil:
		return fmt.Sprintf("%d containers' logs (last %s), %d failed", c.Logs.Containers, c.Logs.Window, c.Logs.Failed)
	case c.Base != nil:
		b := c.Base
		return fmt.Sprintf("PostgreSQL %s, system %d, timeline %d, WAL %s → %s, %d files, %s (pg_basebackup %s)",
			b.ServerVersion, b.SystemID, b.Timeline, b.StartLSN, b.StopLSN, b.Files, progress.Bytes(b.DataBytes), b.PgBaseBackupVersion)
	}
	return ""
}

// RecoverableLine is the WAL archive's one-line answer: the spans of time
// it can recover to.
func RecoverableLine(spans []backup.TimeSpan) string {
	if len(spans) == 0 {
		return "recoverable: no moment yet — a base backup and the WAL after it are needed"
	}
	s := "recoverable to any moment between "
	for i, sp := range spans {
		if i > 0 {
			s += ", and between "
		}
		s += sp.From.Local().Format("2006-01-02 15:04:05") + " and " + sp.To.Local().Format("2006-01-02 15:04:05")
	}
	return s
}

// WALOverview prints one cluster's WAL archive: its head, its gaps, how
// far each base backup is carried and the one-line answer.
func (p *Printer) WALOverview(o backup.WALOverview) {
	w := p.Out
	fmt.Fprintf(w, "WAL archive of system %d", o.SystemID)
	if o.Catalog == nil {
		fmt.Fprintf(w, ": %s\n", o.Err)
		return
	}
	fmt.Fprintf(w, ": %d segment(s) of %s, %s stored; head %s on timeline %d, written %s ago\n", o.Catalog.SegmentCount(),
		progress.Bytes(int64(o.SegmentSize)), progress.Bytes(o.Catalog.Bytes), o.Head, o.HeadTimeline, time.Since(o.HeadTime).Round(time.Second))
	for _, g := range o.Gaps {
		fmt.Fprintf(w, "  %s timeline %d: %s\n", p.Status(health.Crit), g.Timeline, g)
	}
	for _, c := range o.Coverage {
		if c.OK() {
			fmt.Fprintf(w, "  base %s: WAL from %s to %s on timeline %d\n", c.Base.ID, c.Base.Start, c.To, c.ToTimeline)
		} else {
			fmt.Fprintf(w, "  %s base %s: the WAL stops at %s (segment %s missing)\n", p.Status(health.Crit), c.Base.ID, c.To, c.Missing)
		}
	}
	fmt.Fprintf(w, "  %s\n", RecoverableLine(o.Spans))
}
