// Command opsdeck is a terminal ops cockpit for a Kubernetes-hosted
// application backed by PostgreSQL and Redis. With no arguments it opens the
// cockpit; its subcommands are the same operations for scripts and cron.
package main

import (
	"context"
	"fmt"
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
)

func main() {
	os.Exit(run())
}

func run() int {
	root := rootCommand()
	err := root.ExecuteContext(context.Background())
	code, silent := cli.Code(err)
	if err != nil && !silent {
		fmt.Fprintf(os.Stderr, "opsdeck: %v\n", err)
	}
	return code
}

func rootCommand() *cobra.Command {
	g := &cli.Globals{}
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
			return cockpit.Run(cmd.Context(), cfg)
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
