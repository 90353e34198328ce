// Package backupcmd is `opsdeck backup full|database|redis|config|logs`:
// one backup set, its progress on stderr, its manifest summary on stdout.
package backupcmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/backup"
	"github.com/opsdeck/opsdeck/ops/progress"
)

// Command returns `opsdeck backup`.
func Command(g *cli.Globals) *cobra.Command {
	var (
		out   cli.Output
		tags  []string
		quiet bool
	)
	cmd := &cobra.Command{
		Use:       "backup full|database|redis|config|logs",
		Short:     "Take a backup set of PostgreSQL, Redis, Kubernetes config and pod logs",
		ValidArgs: backup.Kinds,
		Long: `Takes one backup set into the configured store (backup.dir, or backup.s3):

  database  pg_dump custom format, streamed through zstd (and age), row counts per table
  redis     an RDB snapshot over the replication protocol, checked against its CRC-64
  config    every namespaced object of kubernetes.namespaces, one YAML each
  logs      the last backup.logs_window of every container in those namespaces
  full      all four

The set's manifest is committed last and the files are read back before the
set counts as verified. Only one backup or restore runs at a time per store.
Progress goes to stderr; the result to stdout (-o json for scripts).

Exit codes: 0 ok · 1 failed (nothing kept) or partial · 3 bad configuration.`,
		Example: `  opsdeck backup database
  opsdeck backup full -o json
  opsdeck backup database --tag before-migration`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.Exit(3, fmt.Errorf("say what to back up: %s", strings.Join(backup.Kinds, ", ")))
			}
			if _, err := backup.ComponentsOf(args[0]); err != nil {
				return cli.Exit(3, err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			eng, err := backup.New(cfg, cli.Version, g.Audit(cfg))
			if err != nil {
				return cli.Exit(3, err)
			}
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			errw := cmd.ErrOrStderr()
			res, err := eng.Backup(ctx, backup.Options{Kind: args[0], Tags: tags, Progress: Printer(errw, quiet)})
			w := cmd.OutOrStdout()
			if out.JSON() {
				if perr := cli.PrintJSON(w, jsonResult(res, err)); perr != nil {
					return perr
				}
				if err != nil {
					return cli.ExitSilently(1)
				}
				return nil
			}
			if res.Manifest != nil {
				PrintManifest(w, res.Manifest)
			}
			if err != nil {
				return cli.Exit(1, err)
			}
			fmt.Fprintf(w, "ok: %s committed and verified in %s\n", res.Manifest.ID, res.Took.Round(time.Millisecond))
			return nil
		},
	}
	out.Register(cmd)
	cmd.Flags().StringSliceVar(&tags, "tag", nil, "label the set (repeatable)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr, only warnings and failures")
	return cmd
}

type result struct {
	OK       bool             `json:"ok"`
	Error    string           `json:"error,omitempty"`
	Manifest *backup.Manifest `json:"manifest,omitempty"`
	Verified bool             `json:"verified"`
	Cleaned  []string         `json:"cleaned_leftovers,omitempty"`
	TookMS   int64            `json:"took_ms"`
}

func jsonResult(res backup.Result, err error) result {
	r := result{OK: err == nil, Manifest: res.Manifest, Verified: res.Verified, Cleaned: res.Cleaned, TookMS: res.Took.Milliseconds()}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// Printer prints progress events as lines; advance events are rate-limited.
func Printer(w io.Writer, quiet bool) progress.Func {
	var last time.Time
	return func(e progress.Event) {
		switch e.Kind {
		case progress.Advance:
			if quiet || time.Since(last) < 2*time.Second {
				return
			}
			last = time.Now()
		case progress.Start, progress.Info, progress.Finish:
			if quiet {
				return
			}
		}
		fmt.Fprintf(w, "%s %s\n", e.At.Format("15:04:05"), e.String())
	}
}

// PrintManifest prints a set's summary: components, files and facts.
func PrintManifest(w io.Writer, m *backup.Manifest) {
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
	}
	return ""
}

// IsLocked reports whether err says the store is locked.
func IsLocked(err error) bool { return errors.Is(err, backup.ErrLocked) }
