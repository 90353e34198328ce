package logs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	"github.com/opsdeck/opsdeck/ops/kube"
	oplogs "github.com/opsdeck/opsdeck/ops/logs"
)

// errorsSchema is `opsdeck logs errors -o json`.
var errorsSchema = cli.NewSchema[ErrorsOutput]("opsdeck.logs.errors/v1", "logs errors")

// ErrorsOutput is `opsdeck logs errors -o json`: the scan and which of
// its templates are new since the previous run.
type ErrorsOutput = kube.ErrorKinds

// errorsCommand returns `opsdeck logs errors`.
func errorsCommand(g *cli.Globals) *cobra.Command {
	var (
		out    cli.Output
		since  time.Duration
		noSave bool
	)
	cmd := &cobra.Command{
		Use:   "errors",
		Short: "Group the watched pods' error and warning lines into templates, and say which kinds are new",
		Long: `Reads the last --since of the logs of every container of every pod on a
node in the watched namespaces (kubernetes.namespaces, or -n), keeps the
error and warning lines (ERROR, WARN, level=error, JSON "level", klog's
E/W, a Python traceback's last line), secrets redacted, and groups them
into templates: numbers, ids, addresses, durations and quoted values
masked, lines of the same shape merged (ops/logs, after Drain). Each
template has its count, first and last seen, the workloads it came from
and a sample line. Templates no earlier run knew are marked NEW; the run
is then recorded in state_dir/error-templates.json (--no-save leaves it).

Exit codes: 0 read (new kinds or not) · 1 failed · 2 refused (RBAC) · 3
configuration.`,
		Example: `  opsdeck logs errors                 # the last 24 h
  opsdeck logs errors --since 1h -n stockapp
  opsdeck logs errors -o json --no-save`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			if since <= 0 {
				return cli.Exit(cli.CodeUsage, fmt.Errorf("--since %s: give a positive duration such as 24h", since))
			}
			cfg, client, closer, err := load(g)
			if err != nil {
				return err
			}
			defer closer.Close()
			ctx, stop := g.SignalContext(cmd.Context(), os.Interrupt)
			defer stop()
			res, err := client.FindErrorKinds(ctx, kube.ErrorKindsOptions{Since: since, Env: cfg.Env().Name, StateDir: cfg.StateDir,
				Save: !noSave, Secrets: cfg.Secrets()})
			switch {
			case errors.Is(err, oplogs.ErrUnreadableStore):
				return cli.Exit(cli.CodeUsage, fmt.Errorf("%w — move the file aside to start over", err))
			case res == nil:
				return fail(err)
			case err != nil: // read, not recorded
				return cli.Fail(err)
			}
			p := g.Printer(cmd, out)
			return p.Result(errorsSchema, res, func() error { printErrors(p, res); return nil })
		},
	}
	out.Register(cmd)
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "how far back to read each container's log")
	cmd.Flags().BoolVar(&noSave, "no-save", false, "do not record this run's templates (the next run's NEW stays as it is)")
	return cmd
}

// printErrors prints the templates, the new ones marked.
func printErrors(p *cli.Printer, res *ErrorsOutput) {
	w := p.Out
	prev := "no earlier run: every kind is new"
	if !res.Previous.IsZero() {
		prev = "new since the run of " + res.Previous.Local().Format("2006-01-02 15:04")
	}
	fmt.Fprintf(w, "%d containers in %s, the last %v: %d lines, %d errors and warnings, %d kinds, %d new (%s)\n",
		len(res.Sources), strings.Join(res.Namespaces, ", "), res.Since, res.Lines, res.Counted, len(res.Templates), len(res.New), prev)
	for _, t := range res.Templates {
		mark := "   "
		if res.IsNew(t.ID) {
			mark = "NEW"
		}
		fmt.Fprintf(w, "\n%s %-5s %6d×  %s\n", mark, t.Level, t.Count, t.Text)
		fmt.Fprintf(w, "    first %s · last %s · %s\n", t.FirstSeen.Local().Format("01-02 15:04:05"), t.LastSeen.Local().Format("01-02 15:04:05"), strings.Join(t.Workloads, ", "))
		fmt.Fprintf(w, "    e.g. %s\n", cli.Clip(t.Sample, 200))
	}
	for _, f := range res.Failed {
		fmt.Fprintf(p.Err, "opsdeck: not read: %s\n", f)
	}
}
