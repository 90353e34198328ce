// Command opsdeck is a terminal ops cockpit for a Kubernetes-hosted
// application backed by PostgreSQL and Redis. With no arguments it opens the
// cockpit; its subcommands are the same operations for scripts and cron.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/backupcmd"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/backupscmd"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/check"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/cockpit"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/configcmd"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/demo"
	maintaincmd "github.com/opsdeck/opsdeck/cmd/opsdeck/maintain"
	metricscmd "github.com/opsdeck/opsdeck/cmd/opsdeck/metrics"
	monitoringcmd "github.com/opsdeck/opsdeck/cmd/opsdeck/monitoring"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/restorecmd"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/serve"
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
	return execute(ctx, rootCommand(), os.Args[1:], os.Stdout, os.Stderr)
}

// execute runs root with args on ctx and returns the exit code, printing
// the error (unless the command already said it) to errw.
func execute(ctx context.Context, root *cobra.Command, args []string, out, errw io.Writer) int {
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errw)
	err := root.ExecuteContext(ctx)
	code, silent := cli.Code(err)
	if err != nil && !silent {
		fmt.Fprintf(errw, "opsdeck: %v\n", err)
	}
	return code
}

// rootCommand is opsdeck's command tree for this process.
func rootCommand() *cobra.Command {
	return newRoot(&cli.Globals{Commands: inProcess})
}

// newRoot builds the command tree on g.
func newRoot(g *cli.Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "opsdeck",
		Short: "Terminal ops cockpit for Kubernetes + PostgreSQL + Redis",
		Long: `opsdeck is the ops cockpit for an application on Kubernetes backed by
PostgreSQL and Redis. Run it with no arguments to open the cockpit; use the
subcommands from scripts and cron.`,
		Version:       cli.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			return cockpit.Run(cmd.Context(), cfg, g.Commands)
		},
	}
	g.Register(root)
	root.AddCommand(check.Command(g), configcmd.Command(g), demo.Command(g))
	root.AddCommand(backupcmd.Command(g), backupscmd.Command(g))
	root.AddCommand(metricscmd.Command(g))
	root.AddCommand(monitoringcmd.Command(g))
	root.AddCommand(serve.Command(g))
	root.AddCommand(maintaincmd.Command(g))
	root.AddCommand(restorecmd.Command(g))
	return root
}
