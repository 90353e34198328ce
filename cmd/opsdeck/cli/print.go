package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Output is the -o flag: text or json.
type Output string

// Register adds -o/--output to a command.
func (o *Output) Register(cmd *cobra.Command) {
	*o = "text"
	cmd.Flags().StringVarP((*string)(o), "output", "o", "text", "output format: text or json")
	FlagWords(cmd, "output", "text", "json")
}

// Validate rejects an unknown output format.
func (o Output) Validate() error {
	if o != "text" && o != "json" {
		return Exit(3, fmt.Errorf("unknown output format %q: use -o text or -o json", string(o)))
	}
	return nil
}

// JSON reports whether JSON output was asked for.
func (o Output) JSON() bool { return o == "json" }

// Printer is how a command prints: its result on Out, as indented JSON
// with -o json or as text (aligned tables, statuses coloured on a
// terminal), and its progress on Err as timed lines. Every command prints
// through one.
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

// JSON reports whether -o json was asked for.
func (p *Printer) JSON() bool { return p.Format.JSON() }

// Result prints v as JSON with -o json; else text prints it.
func (p *Printer) Result(v any, text func() error) error {
	if p.JSON() {
		return p.PrintJSON(v)
	}
	return text()
}

// PrintJSON writes v to Out as indented JSON.
func (p *Printer) PrintJSON(v any) error {
	enc := json.NewEncoder(p.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// PrintJSONLine writes v to Out as one line of JSON, for a stream of
// results (--watch into a pipe).
func (p *Printer) PrintJSONLine(v any) error {
	enc := json.NewEncoder(p.Out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

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
// value does not push a table off the screen (-o json carries it whole).
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
