// Package config is `opsdeck config`: validate, show (secrets redacted),
// print an example, and say where the file is looked for.
package config

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/config"
)

// showSchema is `opsdeck config show -o json`: the configuration, redacted.
var showSchema = cli.NewSchema[config.Config]("opsdeck.config.show/v1", "config show")

// Command returns `opsdeck config` and its subcommands.
func Command(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate, show and explain the configuration",
	}
	cmd.AddCommand(validateCmd(g), showCmd(g), exampleCmd(), pathCmd(g))
	return cmd
}

func validateCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the config file: syntax, unknown keys, values, every environment; exit 3 when it is wrong",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(g.Path())
			if err == nil {
				g.ApplyFlags(cfg)
				err = cfg.Validate()
			}
			if err == nil && g.EnvName() != "" {
				_, err = cfg.ForEnv(g.EnvName())
			}
			if err != nil {
				return cli.Exit(3, err)
			}
			w := cmd.OutOrStdout()
			if cfg.Path == "" {
				fmt.Fprintln(w, "no config file found; the defaults and environment are valid")
				fmt.Fprintf(w, "looked in: %v (write one with: opsdeck config example > %s)\n", config.SearchPaths(), config.UserConfigPath())
				return nil
			}
			if cfg.HasEnvironments() {
				fmt.Fprintf(w, "%s: ok (environments: %s)\n", cfg.Path, strings.Join(cfg.EnvNames(), ", "))
				return nil
			}
			fmt.Fprintf(w, "%s: ok\n", cfg.Path)
			return nil
		},
	}
}

func showCmd(g *cli.Globals) *cobra.Command {
	var out cli.Output
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (file + defaults + environment variables) of the chosen environment, secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			top, err := config.Load(g.Path())
			if err != nil {
				return cli.Exit(3, err)
			}
			// The top level when no environment is chosen and the file
			// has no default one: what the environments share.
			cfg := top
			if name := g.EnvName(); name != "" || !top.HasEnvironments() || slices.Contains(top.EnvNames(), access.DefaultEnv) {
				if cfg, err = top.ForEnv(name); err != nil {
					return cli.Exit(3, err)
				}
			}
			g.ApplyFlags(cfg)
			if g.ReadOnly {
				cfg.ReadOnly = true
			}
			red := cfg.Redacted()
			p := g.Printer(cmd, out)
			return p.Result(showSchema, red, func() error {
				b, err := red.YAML()
				if err != nil {
					return err
				}
				src := cfg.Path
				if src == "" {
					src = "no file (defaults and environment)"
				}
				switch {
				case cfg != top && top.HasEnvironments():
					fmt.Fprintf(p.Out, "# effective configuration of environment %s from %s; secrets redacted\n", cfg.EnvName(), src)
				case top.HasEnvironments():
					fmt.Fprintf(p.Out, "# configuration shared by the environments %s (pick one with --env) from %s; secrets redacted\n", strings.Join(top.EnvNames(), ", "), src)
				default:
					fmt.Fprintf(p.Out, "# effective configuration from %s; secrets redacted\n", src)
				}
				if _, err := p.Out.Write(b); err != nil {
					return err
				}
				verr := cfg.Validate()
				if verr == nil && top.HasEnvironments() {
					verr = top.Validate() // the other environments
				}
				if verr != nil {
					fmt.Fprintf(p.Err, "\nthis configuration has problems:\n%v\n", verr)
					return cli.ExitSilently(3)
				}
				return nil
			})
		},
	}
	out.Register(cmd)
	return cmd
}

func exampleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "example",
		Short: "Print a documented example config to start from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), config.ExampleYAML)
			return err
		},
	}
}

func pathCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "path",
		Short: "Say which config file is used and where opsdeck looks for one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if p := g.Path(); p != "" {
				fmt.Fprintln(w, p)
				return nil
			}
			for _, p := range config.SearchPaths() {
				if _, err := os.Stat(p); err == nil {
					fmt.Fprintln(w, p)
					return nil
				}
			}
			fmt.Fprintf(w, "no config file; looked in %v\n", config.SearchPaths())
			return nil
		},
	}
}
