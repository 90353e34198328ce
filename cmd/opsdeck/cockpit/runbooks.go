package cockpit

import (
	"context"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/audit"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/postgres"
	"github.com/opsdeck/opsdeck/ops/runbook"
	"github.com/opsdeck/opsdeck/runbooks"
	runbookstab "github.com/opsdeck/opsdeck/tui/runbooks"
)

// runbookSources reads the built-in runbooks and runbooks.dir, and runs
// runbook commands inside this process with the session's context (its
// identity), cfg and log, the process's audit log. Without commands they
// can be read, not run.
func runbookSources(cfg *config.Config, log *audit.Log, commands cli.Commands) runbookstab.Sources {
	src := runbookstab.Sources{
		Load: func() (*runbook.Library, error) {
			return runbook.Load(runbooks.FS, cfg.Runbooks.Dir, runbooks.Order)
		},
		Database: postgres.DatabaseOf(cfg.Postgres.DSN),
	}
	if len(cfg.Kubernetes.Namespaces) > 0 {
		src.Namespace = cfg.Kubernetes.Namespaces[0]
	}
	if commands == nil {
		return src
	}
	exec, secrets := commands(cfg, log), cfg.Secrets()
	if log.Err() != nil {
		log = nil // commands that change things are refused, with why
	}
	src.Run = func(ctx context.Context, c runbook.Command, confirmed bool, book, section string) (runbook.RunResult, error) {
		return runbook.Run(ctx, c, runbook.RunOptions{
			Exec: exec, Env: cfg.Env(), Confirmed: confirmed, Audit: log,
			Secrets: secrets, Book: book, Section: section,
		})
	}
	return src
}
