// Command opsdeck is a terminal ops cockpit for a Kubernetes-hosted
// application backed by PostgreSQL and Redis. With no arguments it opens the
// cockpit; its subcommands are the same operations for scripts and cron.
package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/commands"
	"github.com/opsdeck/opsdeck/ops/access"
)

func main() {
	os.Exit(run())
}

// run runs the command line as the local user: the one place the CLI and
// the local cockpit attach access.Local. Everything below acts for the
// identity its context carries, and refuses without one.
func run() int {
	ctx := access.WithIdentity(context.Background(), access.Local(false))
	return commands.Execute(ctx, commands.Root(), os.Args[1:], os.Stdout, os.Stderr)
}

// rootCommand is the command tree, for the tests.
func rootCommand() *cobra.Command { return commands.Root() }
