// Package check is `opsdeck check`, the quick morning check: every target
// checked concurrently, one line each, Nagios exit codes.
package check

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/health"
)

// Command returns `opsdeck check`.
func Command(g *cli.Globals) *cobra.Command {
	var (
		out     cli.Output
		timeout time.Duration
		targets []string
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Quick morning check of PostgreSQL, Redis and Kubernetes",
		Long: `Checks every configured target concurrently against the thresholds in the
config and prints one line per check: status, value, threshold and a hint.

Exit codes follow the Nagios convention, so cron and monitoring can use them:
  0 ok · 1 warn · 2 crit · 3 unknown (a target could not be checked)`,
		Example: `  opsdeck check
  opsdeck check -o json
  opsdeck check --target postgres,redis --timeout 2s
  opsdeck check --quiet || page-someone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			for _, t := range targets {
				if !slices.Contains(health.Targets, t) {
					return cli.Exit(3, fmt.Errorf("unknown target %q: choose from %s", t, strings.Join(health.Targets, ", ")))
				}
			}
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			if timeout > 0 {
				cfg.Timeouts.Check = timeout
			}
			if cfg.Path == "" && !out.JSON() {
				fmt.Fprintf(cmd.ErrOrStderr(), "opsdeck: no config file (looked in %s); checking what the environment names\n",
					strings.Join(config.SearchPaths(), ", "))
			}
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt)
			defer stop()
			rep := health.Run(ctx, cfg, targets...)
			w := cmd.OutOrStdout()
			switch {
			case out.JSON():
				err = cli.PrintJSON(w, rep)
			case quiet:
				err = printText(w, onlyProblems(rep), g.IsTerminal(os.Stdout))
			default:
				err = printText(w, rep, g.IsTerminal(os.Stdout))
			}
			if err != nil {
				return err
			}
			if code := rep.Status.ExitCode(); code != 0 {
				return cli.ExitSilently(code)
			}
			return nil
		},
	}
	out.Register(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound on each target's check (default timeouts.check, 5s)")
	cmd.Flags().StringSliceVar(&targets, "target", nil, "check only these targets: "+strings.Join(health.Targets, ","))
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the checks that are not ok")
	return cmd
}

func onlyProblems(rep health.Report) health.Report {
	var rs []health.Result
	for _, r := range rep.Results {
		if r.Status != health.OK {
			rs = append(rs, r)
		}
	}
	rep.Results = rs
	return rep
}

var colours = map[health.Status]string{
	health.OK: "\x1b[32m", health.Warn: "\x1b[33m", health.Crit: "\x1b[1;31m", health.Unknown: "\x1b[36m",
}

func printText(w io.Writer, rep health.Report, colour bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCHECK\tSTATUS\tVALUE\tTHRESHOLD\tHINT")
	for _, r := range rep.Results {
		st := strings.ToUpper(r.Status.String())
		if colour {
			// tabwriter counts escape bytes as width; pad to a fixed width first.
			st = colours[r.Status] + fmt.Sprintf("%-7s", st) + "\x1b[0m"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Name, st, clip(r.Value, maxValue), r.Threshold, r.Hint)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", summary(rep))
	return err
}

// maxValue keeps one long value (a scheduler message) from pushing every
// threshold and hint off the screen; -o json carries it whole.
const maxValue = 64

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func summary(rep health.Report) string {
	counts := map[health.Status]int{}
	for _, r := range rep.Results {
		counts[r.Status]++
	}
	return fmt.Sprintf("%s: %d ok, %d warn, %d crit, %d unknown in %s",
		strings.ToUpper(rep.Status.String()), counts[health.OK], counts[health.Warn], counts[health.Crit], counts[health.Unknown],
		rep.Took.Round(time.Millisecond))
}
