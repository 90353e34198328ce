// Package monitoring is `opsdeck monitoring`: the Prometheus, Alertmanager
// and Grafana configuration rendered from the thresholds in the config.
package monitoring

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/opsdeck/opsdeck/cmd/opsdeck/cli"
	opmon "github.com/opsdeck/opsdeck/ops/monitoring"
)

// Rendered is `opsdeck monitoring render -o json`: the files written and
// the warnings.
type Rendered struct {
	Files    []string `json:"files"`
	Warnings []string `json:"warnings"`
}

// renderSchema is `opsdeck monitoring render -o json`.
var renderSchema = cli.NewSchema[Rendered]("opsdeck.monitoring.render/v1", "monitoring render")

// Command returns `opsdeck monitoring`.
func Command(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "monitoring",
		Short: "Monitoring as code: Prometheus, Alertmanager and Grafana config from the thresholds",
		Long: `Renders the monitoring configuration from the same thresholds the morning check
and the cockpit use, so that alerts and the cockpit never disagree.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cli.Exit(3, errors.New("say what to do: opsdeck monitoring render --out DIR"))
		},
	}
	cmd.AddCommand(renderCommand(g))
	return cmd
}

func renderCommand(g *cli.Globals) *cobra.Command {
	var (
		out   string
		force bool
		o     cli.Output
	)
	cmd := &cobra.Command{
		Use:   "render --out DIR",
		Short: "Write Prometheus rules and scrape config, Alertmanager config and Grafana dashboards",
		Long: `Writes, under DIR:

  prometheus/prometheus.yml               scrape config: Kubernetes service discovery for the
                                          API pods, PostgreSQL and Redis exporters,
                                          kube-state-metrics and node exporter
  prometheus/rules/opsdeck-alerts.yml     alert rules at the configured thresholds, each with
                                          a runbook_url
  prometheus/tests/opsdeck-alerts.test.yml  promtool unit tests of every alert
  alertmanager/alertmanager.yml           routes by team and severity, inhibition, receivers
                                          from monitoring.alertmanager
  grafana/dashboards/*.json               system overview, API performance, infrastructure

Files are replaced atomically. A file of the same name that opsdeck did not
write is left alone (the command fails) unless --force.`,
		Example: `  opsdeck monitoring render --out ./monitoring
  promtool test rules monitoring/prometheus/tests/opsdeck-alerts.test.yml
  amtool check-config monitoring/alertmanager/alertmanager.yml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if out == "" {
				return cli.Exit(3, errors.New("no output directory: give --out DIR"))
			}
			cfg, _, closer, err := g.Load()
			if err != nil {
				return err
			}
			defer closer.Close()
			rendered, err := opmon.Render(cfg)
			if err != nil {
				return cli.Exit(3, err)
			}
			written, err := opmon.Write(out, rendered, force)
			if err != nil {
				return cli.Exit(1, err)
			}
			p := g.Printer(cmd, o)
			return p.Result(renderSchema, Rendered{written, append([]string{}, rendered.Warnings...)}, func() error {
				printText(p, out, written, rendered.Warnings)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write into (created if missing)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite files of the same name that opsdeck did not write")
	o.Register(cmd)
	return cmd
}

func printText(p *cli.Printer, dir string, written, warnings []string) {
	for _, f := range written {
		fmt.Fprintln(p.Out, "wrote", f)
	}
	for _, wn := range warnings {
		fmt.Fprintln(p.Err, "opsdeck: warning:", wn)
	}
	fmt.Fprintf(p.Out, "\nCheck them with:\n  promtool check config %[1]s/%[2]s\n  promtool test rules %[1]s/%[3]s\n  amtool check-config %[1]s/%[4]s\n",
		dir, opmon.PrometheusFile, opmon.RuleTestsFile, opmon.AlertmanagerFile)
}
