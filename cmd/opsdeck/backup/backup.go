// Package backup is `opsdeck backup full|database|redis|config|logs|base`:
// one backup set, its progress on stderr, its manifest summary on stdout.
package backup

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/internal/version"
	"github.com/opsdeck/opsdeck/ops/backup"
)

// schema is `opsdeck backup -o json`.
var schema = cli.NewSchema[result]("opsdeck.backup/v1", "backup")

// Command returns `opsdeck backup`.
func Command(g *cli.Globals) *cobra.Command {
	var (
		out   cli.Output
		tags  []string
		quiet bool
	)
	cmd := &cobra.Command{
		Use:       "backup full|database|redis|config|logs|base",
		Short:     "Take a backup set of PostgreSQL, Redis, Kubernetes config and pod logs",
		ValidArgs: backup.Kinds,
		Long: `Takes one backup set into the configured store (backup.dir, or backup.s3):

  database  pg_dump custom format, streamed through zstd (and age), row counts per table
  redis     an RDB snapshot over the replication protocol, checked against its CRC-64
  config    every namespaced object of kubernetes.namespaces, one YAML each
  logs      the last backup.logs_window of every container in those namespaces
  full      all four
  base      a physical base backup of the whole cluster (pg_basebackup's tar,
            checked against the server's backup_manifest); not part of full.
            Needs wal_level replica, a free WAL sender, a role with
            REPLICATION, a pg_hba replication line and no user tablespaces;
            a restore needs the WAL from its start on (opsdeck wal stream)

The set's manifest is committed last and the files are read back before the
set counts as verified. One backup runs at a time per store; a verify may run
beside it, a prune or a restore may not (the store lock: see docs/backups.md).
Progress goes to stderr; the result to stdout (-o json for scripts).

Exit codes: 0 ok · 1 failed (nothing kept) or partial · 2 refused (the store
lock, the role, read-only) · 3 bad configuration.`,
		Example: `  opsdeck backup database
  opsdeck backup full -o json
  opsdeck backup database --tag before-migration
  opsdeck backup base -o json`,
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
			eng, err := backup.New(cfg, version.String(), g.Audit(cfg))
			if err != nil {
				return cli.Exit(3, err)
			}
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			p := g.Printer(cmd, out)
			res, err := eng.Backup(ctx, backup.Options{Kind: args[0], Tags: tags, Progress: p.Progress(quiet)})
			if p.Structured() {
				if perr := p.PrintDocument(schema, jsonResult(res, err)); perr != nil {
					return perr
				}
				if err != nil {
					return cli.ExitSilently(cli.CodeOf(err))
				}
				return nil
			}
			if res.Manifest != nil {
				p.Manifest(res.Manifest)
			}
			if err != nil {
				return cli.Fail(err)
			}
			fmt.Fprintf(p.Out, "ok: %s committed and verified in %s\n", res.Manifest.ID, res.Took.Round(time.Millisecond))
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
