package cockpit

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/redact"
	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
	runbookstab "github.com/opsdeck/opsdeck/tui/runbooks"
)

// runbookSources reads the built-in runbooks and runbooks.dir, and runs
// runbook commands with this very binary and config. Commands that change
// things are recorded in the audit log under the state dir; without one
// they are refused.
func runbookSources(cfg *config.Config) runbookstab.Sources {
	src := runbookstab.Sources{
		Load: func() (*runbook.Library, error) {
			return runbook.Load(runbooks.FS, cfg.Runbooks.Dir, runbooks.Order)
		},
		Database: databaseName(cfg.Postgres.DSN),
	}
	if len(cfg.Kubernetes.Namespaces) > 0 {
		src.Namespace = cfg.Kubernetes.Namespaces[0]
	}
	exe, err := os.Executable()
	if err != nil {
		return src // commands can be read, not run
	}
	secrets := append(redact.Passwords(cfg.Postgres.DSN), redact.Passwords(cfg.Redis.URL)...)
	if cfg.Backup.S3.SecretKey != "" {
		secrets = append(secrets, cfg.Backup.S3.SecretKey)
	}
	src.Run = func(ctx context.Context, c runbook.Command, confirmed bool, book, section string) (runbook.RunResult, error) {
		opts := runbook.RunOptions{
			Exe: exe, ConfigPath: cfg.Path, ReadOnly: cfg.ReadOnly, Confirmed: confirmed,
			Secrets: secrets, Book: book, Section: section,
		}
		if !c.ReadOnly() {
			log, err := audit.Open(AuditPath(cfg))
			if err != nil {
				return runbook.RunResult{Line: c.String(), ExitCode: -1},
					fmt.Errorf("%s changes things and the audit log cannot record it: %w", c.String(), err)
			}
			defer log.Close()
			log.AddSecrets(secrets...)
			opts.Audit = log
		}
		return runbook.Run(ctx, c, opts)
	}
	return src
}

// databaseName is the database a DSN names, "" when it names none.
func databaseName(dsn string) string {
	if dsn == "" {
		return ""
	}
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return ""
	}
	return pc.Database
}
