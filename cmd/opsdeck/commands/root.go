// Package commands is opsdeck's command tree: the root command with every
// subcommand, how a command line runs and what it exits with, and the
// executor that runs runbook commands inside this process for a session.
package commands

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/backup"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/backups"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/check"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/cockpit"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/config"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/drill"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/incident"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/logs"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/maintain"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/metrics"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/monitoring"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/restore"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/serve"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/version"
	"github.com/opsdeck/opsdeck/cmd/opsdeck/wal"
)

// Execute runs root with args on ctx and returns the exit code, printing
// the error (unless the command already said it) to errw.
func Execute(ctx context.Context, root *cobra.Command, args []string, out, errw io.Writer) int {
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

// Root is opsdeck's command tree for this process: its runbook commands
// run inside it (InProcess).
func Root() *cobra.Command {
	return newRoot(&cli.Globals{Commands: InProcess})
}

// newRoot builds the command tree on g.
func newRoot(g *cli.Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "opsdeck",
		Short: "Terminal ops cockpit for Kubernetes + PostgreSQL + Redis",
		Long: `opsdeck is the ops cockpit for an application on Kubernetes backed by
PostgreSQL and Redis. Run it with no arguments to open the cockpit; use the
subcommands from scripts and cron.`,
		Version:       version.Line(),
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
	// A flag that does not parse is a usage error (exit 3), as every
	// command's own checks of its flags are.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Exit(cli.CodeUsage, err) })
	root.AddCommand(check.Command(g), config.Command(g))
	root.AddCommand(logs.Command(g))
	addDemo(root, g)
	root.AddCommand(backup.Command(g), backups.Command(g))
	root.AddCommand(metrics.Command(g))
	root.AddCommand(monitoring.Command(g))
	root.AddCommand(serve.Command(g))
	root.AddCommand(maintain.Command(g))
	root.AddCommand(restore.Command(g))
	root.AddCommand(drill.Command(g))
	root.AddCommand(incident.Command(g))
	root.AddCommand(wal.Command(g))
	root.AddCommand(version.Command(g))
	usageArgs(root)
	return root
}

// usageArgs makes a wrong number or kind of arguments a usage error
// (exit 3) in every command, as a flag that does not parse is.
func usageArgs(c *cobra.Command) {
	c.SuggestionsMinimumDistance = 2
	if !c.Runnable() && c.HasSubCommands() {
		// A group (opsdeck backups): its help, or a mistyped subcommand
		// named as one, not the help with exit 0.
		c.Args = cobra.NoArgs
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				if len(args) > 0 && !cmd.HasSubCommands() && strings.HasPrefix(err.Error(), "unknown command") {
					// cobra.NoArgs's words, for a command that has no subcommands.
					err = fmt.Errorf("%s takes no arguments (got %q)", cmd.CommandPath(), args[0])
				}
				if len(args) > 0 && cmd.HasAvailableSubCommands() {
					if near := cmd.SuggestionsFor(args[0]); len(near) > 0 {
						err = fmt.Errorf("%w — did you mean %s?", err, strings.Join(near, " or "))
					}
				}
				return cli.Exit(cli.CodeUsage, err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}
